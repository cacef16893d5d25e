// What both lifecycle machines (job, Jupyter session) are made of. A row machine keeps its row
// from the database in `row`, takes the time from each TICK, declares every effect as a typed actor
// stub that the agent implements through provide(), starts in `restoring`, which goes to the state
// the row's status names, and rests where it waits for the next TICK. No I/O here.
import { assign, fromPromise, type StateValue } from 'xstate';

/** The one event a row machine hears: a tick of the agent, with the time its deadlines use. */
export type Tick = { type: 'TICK'; now: number };

/** What every row machine's context holds besides its own settings. */
export interface RowContext<Row> {
  /** The row as the database last returned it: the machine's memory. */
  row: Row;
  /** The TICK's time; deadlines are compared with it, never with timers. */
  now: number;
  /** The `now` of the TICK in which an email was last tried: at most one try per tick. */
  notifyTriedAt: number;
}

/**
 * An actor the machine declares and the agent provides, typed once here by its output and input
 * (the agent's implementation must match them: src/services/agent/row-actors.ts). Run
 * unprovided, it fails saying so.
 */
export function actorStub<Output, Input>(machine: string, name: string) {
  return fromPromise<Output, Input>(async () => {
    throw new Error(`${machine} machine: actor ${name} was not provided`);
  });
}

/**
 * A named guard or action that reads the output of the step that just finished: its params are
 * that output, typed by the step's actor (`{ guard: withOutput('processEnded') }` in an onDone).
 */
export const withOutput = <T extends string>(type: T) => ({
  type,
  params: <O>({ event }: { event: { output: O } }) => ({ output: event.output }),
});

/** The same for the error a step failed with (in an onError). */
export const withError = <T extends string>(type: T) => ({
  type,
  params: ({ event }: { event: { error: unknown } }) => ({ error: event.error }),
});

/** A state that rests until the next TICK, then goes on to `target` with its time (takeNow). */
export const waitForTick = <T extends string>(target: T) => ({ on: { TICK: { target, actions: 'takeNow' as const } } });

/** The input of a step that needs only the row. */
export const rowInput = <Row>({ context }: { context: { row: Row } }) => ({ row: context.row });

/** An error's message, or `fallback` when it has none. */
export const errorMessage = (error: unknown, fallback: string): string =>
  error instanceof Error && error.message ? error.message : typeof error === 'string' && error ? error : fallback;

/**
 * The assign actions both machines register under the same names: takeNow (TICK brings the time
 * every deadline of this step is compared with), takeOutputRow (a step's output is the row as the
 * database has it now), markNotifyTried (an email is tried at most once per tick).
 */
export function rowAssigns<Ctx extends RowContext<Row>, Row>() {
  // The fields named here are RowContext's own, which every Ctx has.
  const part = (fields: Partial<RowContext<Row>>) => fields as Partial<Ctx>;
  return {
    takeNow: assign<Ctx, Tick, undefined, Tick, never>(({ event }) => part({ now: event.now })),
    takeOutputRow: assign<Ctx, Tick, { output: Row }, Tick, never>((_, params) => part({ row: params.output })),
    markNotifyTried: assign<Ctx, Tick, undefined, Tick, never>(({ context }) => part({ notifyTriedAt: context.now })),
  };
}

/** The guard of a group's one error edge (onStepError): the event is a step's failure. */
export const STEP_FAILED = 'stepFailed' as const;
export const stepFailed = ({ event }: { event: { type: string } }): boolean => event.type.startsWith('xstate.error.actor.');

/**
 * A group's one error edge: any step inside it that fails (the database away, the agent's own
 * trouble) goes to `target`, and the next tick tries again from what the row says. A step's own
 * onError, where it has one, comes first. (A wildcard, because the machine's event type lists
 * only TICK; the guard lets nothing but a step's failure through.)
 */
export const onStepError = <T extends string>(target: T) => ({ '*': { guard: STEP_FAILED, target } });

/**
 * `restoring`'s transitions, built from one table: the state each status of the row starts in, in
 * table order (the first whose status matches). The last also takes a status the table lacks.
 */
export function restoreFrom<Status extends string>(machineId: string, table: Record<Status, string>) {
  const entries = Object.entries(table) as [Status, string][];
  return entries.map(([status, state], i) => {
    const target = `#${machineId}.${state}`;
    return i === entries.length - 1 ? { target } : { guard: { type: 'statusIs' as const, params: { status } }, target };
  });
}

/** A state value as one id: 'running', or { running: 'probing' } → 'running.probing'. */
export function stateIdOf(value: StateValue): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value)[0] ?? ['', undefined];
  return child === undefined ? key : `${key}.${stateIdOf(child)}`;
}

/**
 * The state an invoked step runs in, from the actor's invoke id (XState names it
 * `<index>.<machine id>.<state path>`): '0.job.starting.failing' → 'starting.failing'.
 */
export function invokingState(invokeId: string, machineId: string): string {
  const prefix = `.${machineId}.`;
  const at = invokeId.indexOf(prefix);
  return at < 0 ? invokeId : invokeId.slice(at + prefix.length);
}
