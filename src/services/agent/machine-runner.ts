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

const stateName = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

export async function stepMachine(opts: StepOptions): Promise<string> {
  let actor: ReturnType<typeof createActor> | undefined;
  let last: string | null = null;
  let lastEvent = 'start';
  const inspect = (ev: InspectionEvent) => {
    if (ev.type === '@xstate.event' && ev.actorRef === actor) lastEvent = ev.event.type;
    if (ev.type !== '@xstate.snapshot' || ev.actorRef !== actor) return;
    const to = stateName((ev.snapshot as { value?: unknown }).value);
    if (to === last) return;
    if (opts.trace) opts.log.info({ trace: true, machine: opts.kind, id: opts.id, from: last, to, event: lastEvent }, 'transition');
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
