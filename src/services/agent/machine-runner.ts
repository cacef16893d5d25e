// Drives one row's machine one step, for jobs and Jupyter sessions alike: start the machine from
// the row as the database has it (its `restoring` state picks the state the status names), send
// one TICK, wait until it rests in a state that waits for the next tick, stop it. Transitions
// are traced when asked; fault points (fault-points.ts) fire as states are entered.
import { createActor, waitFor, type AnyStateMachine, type InspectionEvent, type StateValue } from 'xstate';
import { stateIdOf } from '../../machines/kit.js';
import type { Logger } from '../logger.js';
import type { AgentContext } from './context.js';
import { faultPoint } from './fault-points.js';

export interface StepOptions {
  machine: AnyStateMachine;
  input: unknown;
  now: number;
  resting: readonly string[];
  /** For the trace: 'job' or 'jupyter', and the row's id. */
  kind: string;
  id: string;
  log: Logger;
  trace: boolean;
  timeoutMs?: number;
}

export interface StepResult<Row> {
  /** Where the machine rests: 'running.waiting', 'ended.failed' ... */
  state: string;
  /** The row as the step left it. */
  row: Row;
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

/** The fault points of moving from one state to another: each state newly entered, and the leaf's own name. */
function enteredPoints(kind: string, from: string | null, to: string): string[] {
  const parts = to.split('.');
  const entered = parts.map((_, i) => parts.slice(0, i + 1).join('.')).filter((p) => !(from === p || from?.startsWith(`${p}.`)));
  return [...new Set([...entered, parts[parts.length - 1]!])].map((p) => `${kind}:${p}`);
}

/** A machine snapshot's state as one id (an inspected snapshot is typed as any actor's). */
function stateOfSnapshot(snapshot: object): string {
  const value = (snapshot as { value?: StateValue }).value;
  return value === undefined ? '' : stateIdOf(value);
}

export async function stepMachine<Row>(opts: StepOptions): Promise<StepResult<Row>> {
  let actor: ReturnType<typeof createActor> | undefined;
  let last: string | null = null;
  let traced: string | null = null;
  const inspect = (ev: InspectionEvent) => {
    // The machine's own events (its first microstep comes before createActor returns: match by root).
    if (ev.actorRef !== actor && !(actor === undefined && ev.actorRef.sessionId === ev.rootId)) return;
    // One trace line per microstep: a snapshot shows only where a macrostep ended and would hide
    // eventless (`always`) steps, e.g. concluding → ended.failed → notifying.
    if (ev.type === '@xstate.microstep' && opts.trace) {
      const to = stateOfSnapshot(ev.snapshot);
      const from = traced ?? ev._transitions[0]?.source.path.join('.') ?? null;
      const eventless = ev._transitions.length > 0 && ev._transitions.every((t) => t.eventType === '');
      if (to !== from) opts.log.info({ trace: true, machine: opts.kind, id: opts.id, from, to, event: eventless ? 'always' : ev.event.type }, 'transition');
      traced = to;
    }
    if (ev.type !== '@xstate.snapshot') return;
    const to = stateOfSnapshot(ev.snapshot);
    if (to === last) return;
    for (const point of enteredPoints(opts.kind, last, to)) faultPoint(point);
    last = to;
  };
  const started = createActor(opts.machine, { input: opts.input, inspect });
  actor = started;
  started.start();
  try {
    started.send({ type: 'TICK', now: opts.now });
    const snap = await waitFor(started, (s) => s.status !== 'active' || opts.resting.includes(stateIdOf(s.value)), {
      timeout: opts.timeoutMs ?? 120_000,
    });
    if (snap.status === 'error') throw snap.error;
    return { state: stateIdOf(snap.value), row: (snap.context as { row: Row }).row };
  } finally {
    started.stop();
  }
}

/** What the pass drivers tell the generic step about one lifecycle. */
export interface Lifecycle<Row extends { status: string }, Input> {
  kind: 'job' | 'jupyter';
  /** The machine with this agent's actors provided (built once per agent context); the row picks the executor's. */
  machine(ctx: AgentContext, row: Row): AnyStateMachine;
  idOf(row: Row): string;
  input(ctx: AgentContext, row: Row, now: number): Input;
  resting: readonly string[];
  timeoutMs?(ctx: AgentContext): number;
}

/**
 * One row, one step, through its lifecycle's machine; its status afterwards. One row's trouble
 * never stops the pass: it is logged, the row keeps its status, and the next tick tries again.
 */
export async function stepRow<Row extends { status: string }, Input>(ctx: AgentContext, lifecycle: Lifecycle<Row, Input>, row: Row): Promise<Row['status']> {
  return (await stepRowTo(ctx, lifecycle, row)).status;
}

/** As stepRow, but the row as the step left it (the row as it was when the step failed). */
export async function stepRowTo<Row extends { status: string }, Input>(ctx: AgentContext, lifecycle: Lifecycle<Row, Input>, row: Row): Promise<Row> {
  const now = Date.now();
  const id = lifecycle.idOf(row);
  try {
    const done = await stepMachine<Row>({
      machine: lifecycle.machine(ctx, row), input: lifecycle.input(ctx, row, now), now,
      resting: lifecycle.resting, kind: lifecycle.kind, id, log: ctx.log, trace: ctx.trace, timeoutMs: lifecycle.timeoutMs?.(ctx),
    });
    return done.row;
  } catch (err) {
    ctx.log.error({ [lifecycle.kind === 'job' ? 'job' : 'session']: id, err: (err as Error).message }, `${lifecycle.kind === 'job' ? 'job' : 'Jupyter session'} step failed`);
    return row;
  }
}
