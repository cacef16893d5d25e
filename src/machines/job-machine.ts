// The job lifecycle: pending → claimed → running → finished | failed | cancelled → notified.
// A pure definition: every effect is a named actor whose implementation comes in through
// provide() (src/services/agent/job-actors.ts). The row in the database is the machine's memory:
// an actor is created from the row ('restoring' picks the state from its status), one TICK
// drives it one step, and every transition goes through a SQL function that records it. Deadlines
// (timeout, kill grace, heartbeat, email retry) are compared with TICK's `now`, never timers,
// because a cron tick lives a few seconds and XState does not persist `after` timers.
import { assign, fromPromise, setup } from 'xstate';
import type { JobRow } from '../services/store/types.js';

/** What an agent sees of a job's process from its log folder and /proc. */
export interface JobProbe {
  /** The wrapper's exit record, once the process has ended. */
  exit: { code: number | null; signal: string | null; endedAt: string; diskFull?: boolean } | null;
  /** The process (pid and start time as recorded) is still there. */
  alive: boolean;
  stdoutTail: string;
  stderrTail: string;
}

/** How a job ends, decided here and carried out by the concludeJob actor. */
export type JobOutcome =
  | { kind: 'finish'; retcode: number | null; signal: string | null; finishedAt: string | null }
  | { kind: 'fail'; error: string; retcode: number | null; signal: string | null }
  | { kind: 'cancel'; retcode: number | null; signal: string | null };

export interface JobMachineInput {
  job: JobRow;
  now: number;
  /** SIGTERM → SIGKILL (LAB_KILL_GRACE_S). */
  killGraceMs: number;
  /** Tails go to the row at most this often while running. */
  heartbeatMs: number;
  /** LAB_JOB_TIMEOUT, used when the job has no timeout_s; 0 = none. */
  defaultTimeoutS: number;
}

export interface JobContext extends JobMachineInput {
  probe: JobProbe | null;
  /** A problem found while starting, for the failing step. */
  error: string | null;
  /** The `now` of the TICK in which an email was last tried: at most one try per tick. */
  notifyTriedAt: number;
}

export type JobEvent = { type: 'TICK'; now: number } | { type: 'CLAIMED'; job: JobRow };

/** Raised by startJob for bad input (missing script, bad args ...): the job fails, no retry. */
export const INPUT_ERROR = 'JobInputError';

const ms = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) : null);

export function timeoutSeconds(c: Pick<JobContext, 'job' | 'defaultTimeoutS'>): number {
  return c.job.timeout_s ?? c.defaultTimeoutS;
}

export function isTimedOut(c: Pick<JobContext, 'job' | 'defaultTimeoutS' | 'now'>): boolean {
  const limit = timeoutSeconds(c);
  const started = ms(c.job.started_at);
  return limit > 0 && started !== null && c.now - started >= limit * 1000;
}

type Timing = Pick<JobContext, 'job' | 'now' | 'killGraceMs' | 'heartbeatMs' | 'defaultTimeoutS'>;

/** A cancel or a timeout that has not been signalled yet. */
export function mustSignal(c: Timing): boolean {
  return c.job.kill_sent_at === null && (c.job.cancel_requested_at !== null || isTimedOut(c));
}

/** SIGTERM went long enough ago: SIGKILL is due. */
export function isGraceOver(c: Timing): boolean {
  const sent = ms(c.job.kill_sent_at);
  return sent !== null && c.now - sent >= c.killGraceMs;
}

const heartbeatDue = (c: Timing): boolean => c.now - (ms(c.job.heartbeat_at) ?? 0) >= c.heartbeatMs;

/**
 * Pure: a running job whose process is still alive has nothing for a step to do: no stop to
 * signal, no grace over, no tails due. The driver then skips its step (no probe, no machine).
 */
export function isQuiet(c: Timing): boolean {
  return c.job.status === 'running' && !mustSignal(c) && !isGraceOver(c) && !heartbeatDue(c);
}

export function isNotifyDue(job: JobRow, now: number): boolean {
  if (job.notified_at) return false;
  const next = ms(job.notify_next_at);
  return next === null || next <= now;
}

/**
 * Pure: the outcome once the process has ended, or vanished without a record. A job the agent
 * stopped (stop_reason, recorded before the signal) ends by that stop whatever its exit code:
 * a cancelled job that exits 0 on SIGTERM is cancelled, a timed-out one failed.
 */
export function outcomeOf(job: JobRow, probe: JobProbe | null): JobOutcome {
  if (job.status === 'claimed') return { kind: 'cancel', retcode: null, signal: null };
  const exit = probe?.exit;
  if (!exit) {
    return {
      kind: 'fail', retcode: null, signal: null,
      error: 'lost: the process is gone and left no exit record (the machine restarted, or the job was killed together with its recorder)',
    };
  }
  if (job.stop_reason === 'cancel') return { kind: 'cancel', retcode: exit.code, signal: exit.signal };
  if (job.stop_reason) return { kind: 'fail', error: job.stop_reason, retcode: exit.code, signal: exit.signal };
  if (exit.diskFull) {
    // Its output was cut short whatever its exit code says; the folder is the one the member set (LAB_LOG_DIR).
    const folder = (job.log_dir ?? '').replace(/\/[^/]+\/?$/, '') || 'the log disk';
    const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
    return { kind: 'fail', retcode: exit.code, signal: exit.signal, error: `no space left on ${folder}: the disk filled up while the job ran (${how}), so its logs are cut short` };
  }
  return { kind: 'finish', retcode: exit.code, signal: exit.signal, finishedAt: exit.endedAt };
}

/** An ended job waits for its email to be due; each TICK brings a new `now` to check. */
const ended = {
  always: { guard: 'notifyDue', target: 'notifying' },
  on: { TICK: { actions: 'takeNow' } },
} as const;

const notProvided = (name: string) =>
  fromPromise<never, unknown>(async () => {
    throw new Error(`job machine: actor ${name} was not provided`);
  });

export const jobMachine = setup({
  types: {
    context: {} as JobContext,
    events: {} as JobEvent,
    input: {} as JobMachineInput,
  },
  actors: {
    startJob: notProvided('startJob') as unknown as ReturnType<typeof fromPromise<JobRow, { job: JobRow }>>,
    probeJob: notProvided('probeJob') as unknown as ReturnType<typeof fromPromise<JobProbe, { job: JobRow }>>,
    pushTails: notProvided('pushTails') as unknown as ReturnType<typeof fromPromise<JobRow, { job: JobRow; probe: JobProbe }>>,
    signalStop: notProvided('signalStop') as unknown as ReturnType<typeof fromPromise<JobRow, { job: JobRow; reason: string }>>,
    killJob: notProvided('killJob') as unknown as ReturnType<typeof fromPromise<void, { job: JobRow }>>,
    concludeJob: notProvided('concludeJob') as unknown as ReturnType<typeof fromPromise<JobRow, { job: JobRow; outcome: JobOutcome; probe: JobProbe | null }>>,
    failJob: notProvided('failJob') as unknown as ReturnType<typeof fromPromise<JobRow, { job: JobRow; error: string }>>,
    releaseJob: notProvided('releaseJob') as unknown as ReturnType<typeof fromPromise<JobRow, { job: JobRow; reason: string }>>,
    notifyUser: notProvided('notifyUser') as unknown as ReturnType<typeof fromPromise<JobRow, { job: JobRow }>>,
  },
  guards: {
    isPending: ({ context }) => context.job.status === 'pending',
    isClaimed: ({ context }) => context.job.status === 'claimed',
    isRunning: ({ context }) => context.job.status === 'running',
    isFinished: ({ context }) => context.job.status === 'finished',
    isFailed: ({ context }) => context.job.status === 'failed',
    isNotified: ({ context }) => context.job.notified_at !== null,
    cancelRequested: ({ context }) => context.job.cancel_requested_at !== null,
    isInputError: ({ event }) => (event as { error?: { name?: string } }).error?.name === INPUT_ERROR,
    becamePending: ({ event }) => (event as { output?: JobRow }).output?.status === 'pending',
    endedFinished: ({ event }) => (event as { output?: JobRow }).output?.status === 'finished',
    endedFailed: ({ event }) => (event as { output?: JobRow }).output?.status === 'failed',
    wasNotified: ({ event }) => Boolean((event as { output?: JobRow }).output?.notified_at),
    processEnded: ({ event }) => {
      const p = (event as { output?: JobProbe }).output;
      return Boolean(p && (p.exit || !p.alive));
    },
    mustSignal: ({ context }) => mustSignal(context),
    graceOver: ({ context }) => isGraceOver(context),
    tailsDue: ({ context, event }) => {
      const p = (event as { output?: JobProbe }).output;
      const changed = Boolean(p && (p.stdoutTail !== (context.job.stdout_tail ?? '') || p.stderrTail !== (context.job.stderr_tail ?? '')));
      return changed && heartbeatDue(context);
    },
    notifyDue: ({ context }) => context.notifyTriedAt !== context.now && isNotifyDue(context.job, context.now),
  },
  actions: {
    takeNow: assign({ now: ({ context, event }) => (event.type === 'TICK' ? event.now : context.now) }),
    takeClaimedRow: assign({ job: ({ context, event }) => (event.type === 'CLAIMED' ? event.job : context.job) }),
    takeOutputRow: assign({ job: ({ context, event }) => (event as { output?: JobRow }).output ?? context.job }),
    takeProbe: assign({ probe: ({ event }) => (event as { output?: JobProbe }).output ?? null }),
    takeStartError: assign({ error: ({ event }) => String((event as { error?: Error }).error?.message ?? 'could not start') }),
    markNotifyTried: assign({ notifyTriedAt: ({ context }) => context.now }),
  },
}).createMachine({
  id: 'job',
  initial: 'restoring',
  context: ({ input }) => ({ ...input, probe: null, error: null, notifyTriedAt: -1 }),
  states: {
    // The row says where the job is; the machine starts there.
    restoring: {
      always: [
        { guard: 'isPending', target: 'pending' },
        { guard: 'isClaimed', target: 'claimed' },
        { guard: 'isRunning', target: 'running' },
        { guard: 'isNotified', target: 'notified' },
        { guard: 'isFinished', target: 'finished' },
        { guard: 'isFailed', target: 'failed' },
        { target: 'cancelled' },
      ],
    },
    pending: {
      on: { CLAIMED: { target: 'claimed', actions: 'takeClaimedRow' } },
    },
    claimed: {
      on: {
        TICK: [
          { guard: 'cancelRequested', target: 'concluding', actions: 'takeNow' },
          { target: 'starting', actions: 'takeNow' },
        ],
      },
    },
    starting: {
      invoke: {
        src: 'startJob',
        input: ({ context }) => ({ job: context.job }),
        onDone: { target: 'running', actions: 'takeOutputRow' },
        onError: [
          { guard: 'isInputError', target: 'failing', actions: 'takeStartError' },
          { target: 'releasing', actions: 'takeStartError' },
        ],
      },
    },
    // Bad input: the job fails with a message for the user; the agent goes on.
    failing: {
      invoke: {
        src: 'failJob',
        input: ({ context }) => ({ job: context.job, error: context.error ?? 'could not start' }),
        onDone: { target: 'failed', actions: 'takeOutputRow' },
        onError: 'restoring',
      },
    },
    // The agent could not start it (its own trouble): back to the queue, or failed after N tries.
    releasing: {
      invoke: {
        src: 'releaseJob',
        input: ({ context }) => ({ job: context.job, reason: context.error ?? 'could not start' }),
        onDone: [
          { guard: 'becamePending', target: 'pending', actions: 'takeOutputRow' },
          { target: 'failed', actions: 'takeOutputRow' },
        ],
        onError: 'restoring',
      },
    },
    running: {
      on: { TICK: { target: 'probing', actions: 'takeNow' } },
    },
    probing: {
      invoke: {
        src: 'probeJob',
        input: ({ context }) => ({ job: context.job }),
        onDone: [
          { guard: 'processEnded', target: 'concluding', actions: 'takeProbe' },
          { guard: 'mustSignal', target: 'signalling', actions: 'takeProbe' },
          { guard: 'graceOver', target: 'killing', actions: 'takeProbe' },
          { guard: 'tailsDue', target: 'pushingTails', actions: 'takeProbe' },
          { target: 'running', actions: 'takeProbe' },
        ],
        onError: 'restoring',
      },
    },
    // Cancel requested or timed out: SIGTERM to the job's process group, moment kept in the row.
    signalling: {
      invoke: {
        src: 'signalStop',
        input: ({ context }) => ({ job: context.job, reason: context.job.cancel_requested_at ? 'cancel' : `timeout after ${timeoutSeconds(context)}s` }),
        onDone: { target: 'running', actions: 'takeOutputRow' },
        onError: 'restoring',
      },
    },
    // The grace is over and it still runs: SIGKILL.
    killing: {
      invoke: {
        src: 'killJob',
        input: ({ context }) => ({ job: context.job }),
        onDone: 'running',
        onError: 'restoring',
      },
    },
    pushingTails: {
      invoke: {
        src: 'pushTails',
        input: ({ context }) => ({ job: context.job, probe: context.probe! }),
        onDone: { target: 'running', actions: 'takeOutputRow' },
        onError: 'restoring',
      },
    },
    concluding: {
      invoke: {
        src: 'concludeJob',
        input: ({ context }) => ({ job: context.job, outcome: outcomeOf(context.job, context.probe), probe: context.probe }),
        onDone: [
          // A failed attempt with retries left is back in the queue (its reason on the row).
          { guard: 'becamePending', target: 'pending', actions: 'takeOutputRow' },
          { guard: 'endedFinished', target: 'finished', actions: 'takeOutputRow' },
          { guard: 'endedFailed', target: 'failed', actions: 'takeOutputRow' },
          { target: 'cancelled', actions: 'takeOutputRow' },
        ],
        onError: 'restoring',
      },
    },
    finished: ended,
    failed: ended,
    cancelled: ended,
    // Exactly one email: a lease in the row, the send, then notified_at.
    notifying: {
      entry: 'markNotifyTried',
      invoke: {
        src: 'notifyUser',
        input: ({ context }) => ({ job: context.job }),
        onDone: [
          { guard: 'wasNotified', target: 'notified', actions: 'takeOutputRow' },
          { target: 'restoring', actions: 'takeOutputRow' },
        ],
        onError: 'restoring',
      },
    },
    notified: { type: 'final' },
  },
});

/** States in which a job waits for the next TICK (or CLAIMED); a step ends in one of them. */
export const JOB_RESTING_STATES = ['pending', 'claimed', 'running', 'finished', 'failed', 'cancelled', 'notified'] as const;
