// Drives one machine actor one step: start it from its row, send the event(s), wait until it
// rests in a state that waits for the next tick, stop it. Transitions are traced when asked.
import { createActor, waitFor, type AnyStateMachine, type InspectionEvent } from 'xstate';
import type { Logger } from '../logger.js';
import { faultPoint } from './fault-points.js';

export interface StepOptions {
  machine: AnyStateMachine;
  input: unknown;
  events: { type: string; [k: string]: unknown }[];
  resting: readonly string[];
  /** For the trace: 'job' or 'jupyter', and the row's id. */
  kind: string;
  id: string;
  log: Logger;
  trace: boolean;
  timeoutMs?: number;
}

// provide() builds a new machine: build it once per owner (an agent process's context) and
// machine, not for every row on every tick.
const provided = new WeakMap<object, Map<AnyStateMachine, AnyStateMachine>>();
export function provideOnce<M extends AnyStateMachine>(owner: object, machine: M, make: () => M): M {
  let byMachine = provided.get(owner);
  if (!byMachine) provided.set(owner, (byMachine = new Map()));
  let made = byMachine.get(machine) as M | undefined;
  if (!made) byMachine.set(machine, (made = make()));
  return made;
}

const stateName = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

export async function stepMachine(opts: StepOptions): Promise<string> {
  let actor: ReturnType<typeof createActor> | undefined;
  let last: string | null = null;
  let traced: string | null = null;
  const inspect = (ev: InspectionEvent) => {
    // The machine's own events (its first microstep comes before createActor returns: match by root).
    if (ev.actorRef !== actor && !(actor === undefined && ev.actorRef.sessionId === ev.rootId)) return;
    // One trace line per microstep: a snapshot shows only where a macrostep ended and would hide
    // eventless (`always`) steps, e.g. concluding → failed → notifying.
    if (ev.type === '@xstate.microstep' && opts.trace) {
      const to = stateName((ev.snapshot as { value?: unknown }).value);
      const from = traced ?? ev._transitions[0]?.source.path.join('.') ?? null;
      const eventless = ev._transitions.length > 0 && ev._transitions.every((t) => t.eventType === '');
      if (to !== from) opts.log.info({ trace: true, machine: opts.kind, id: opts.id, from, to, event: eventless ? 'always' : ev.event.type }, 'transition');
      traced = to;
    }
    if (ev.type !== '@xstate.snapshot') return;
    const to = stateName((ev.snapshot as { value?: unknown }).value);
    if (to === last) return;
    faultPoint(`${opts.kind}:${to}`);
    last = to;
  };
  const started = createActor(opts.machine, { input: opts.input, inspect });
  actor = started;
  started.start();
  try {
    for (const event of opts.events) started.send(event);
    const snap = await waitFor(started, (s) => s.status !== 'active' || opts.resting.includes(stateName(s.value)), {
      timeout: opts.timeoutMs ?? 120_000,
    });
    if (snap.status === 'error') throw snap.error;
    return stateName(snap.value);
  } finally {
    started.stop();
  }
}
