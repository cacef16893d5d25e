// The job lifecycle: pending → claimed → running → finished | failed | cancelled → notified.
// A pure definition built from the row-machine kit (kit.ts): every effect is a named actor whose
// implementation comes in through provide() (src/services/agent/job-actors.ts). The row in the
// database is the machine's memory: an actor is created from the row ('restoring' picks the state
// from its status), one TICK drives it one step, and every transition goes through a SQL function
// that records it. Deadlines (timeout, kill grace, heartbeat, email retry) are compared with
// TICK's `now`, never timers, because a cron tick lives a few seconds and XState does not persist
// `after` timers. The claim itself is the database's (job_claim): the agent starts the machine
// from the claimed row. Each group of steps (starting, running) has one error edge, as have
// concluding and notifying: a step's failure (the database away, the agent's own trouble) goes
// back to `restoring`, and the next tick tries again from what the row says.
import { assign, setup } from 'xstate';
import type { JobRow } from '../services/store/types.js';
import { JOB_STATE_OF_STATUS, type JobStatus } from './job-states.js';
import {
  INPUT_ERROR, isGraceOver, isNotifyDue, mustSignal, outcomeOf, stopReason, tailsDue,
  type JobContext, type JobMachineInput, type JobOutcome, type JobProbe,
} from './job-rules.js';
import { actorStub, errorMessage, onStepError, restoreFrom, rowAssigns, rowInput, waitForTick, stepFailed, withError, withOutput, type Tick } from './kit.js';

const stub = <Output, Input>(name: string) => actorStub<Output, Input>('job', name);
type Row = { row: JobRow };

/** The job machine's steps, typed once: what each takes and gives. The agent implements them (job-actors.ts). */
export const jobActorStubs = {
  startJob: stub<JobRow, Row>('startJob'),
  probeJob: stub<JobProbe, Row>('probeJob'),
  pushTails: stub<JobRow, Row & { probe: JobProbe | null }>('pushTails'),
  signalStop: stub<JobRow, Row & { reason: string }>('signalStop'),
  killJob: stub<void, Row>('killJob'),
  concludeJob: stub<JobRow, Row & { outcome: JobOutcome; probe: JobProbe | null }>('concludeJob'),
  failJob: stub<JobRow, Row & { error: string }>('failJob'),
  releaseJob: stub<JobRow, Row & { reason: string }>('releaseJob'),
  notifyUser: stub<JobRow, Row>('notifyUser'),
};

/** Any step's failure in a group: back to the row's own state; the next tick tries again. */
const retryLater = onStepError('#job.restoring');

export const jobMachine = setup({
  types: {
    context: {} as JobContext,
    events: {} as Tick,
    input: {} as JobMachineInput,
  },
  actors: jobActorStubs,
  guards: {
    stepFailed,
    statusIs: ({ context }, params: { status: JobStatus }) => context.row.status === params.status,
    isNotified: ({ context }) => context.row.notified_at !== null,
    cancelRequested: ({ context }) => context.row.cancel_requested_at !== null,
    isInputError: (_, params: { error: unknown }) => params.error instanceof Error && params.error.name === INPUT_ERROR,
    becamePending: (_, params: { output: JobRow }) => params.output.status === 'pending',
    endedFinished: (_, params: { output: JobRow }) => params.output.status === 'finished',
    endedFailed: (_, params: { output: JobRow }) => params.output.status === 'failed',
    wasNotified: (_, params: { output: JobRow }) => Boolean(params.output.notified_at),
    processEnded: (_, params: { output: JobProbe }) => Boolean(params.output.exit || !params.output.alive),
    mustSignal: ({ context }) => mustSignal(context),
    graceOver: ({ context }) => isGraceOver(context),
    tailsDue: ({ context }, params: { output: JobProbe }) => tailsDue(context, params.output),
    notifyDue: ({ context }) => context.notifyTriedAt !== context.now && isNotifyDue(context.row, context.now),
  },
  actions: {
    ...rowAssigns<JobContext, JobRow>(),
    takeProbe: assign((_, params: { output: JobProbe }) => ({ probe: params.output })),
    takeStartError: assign((_, params: { error: unknown }) => ({ error: errorMessage(params.error, 'could not start') })),
  },
}).createMachine({
  id: 'job',
  initial: 'restoring',
  context: ({ input }) => ({ ...input, probe: null, error: null, notifyTriedAt: -1 }),
  states: {
    // The row says where the job is; the machine starts there.
    restoring: {
      always: [{ guard: 'isNotified', target: 'notified' }, ...restoreFrom('job', JOB_STATE_OF_STATUS)],
    },
    // Waits for a claim (job_claim, in the database); the agent drives claimed rows only.
    pending: {},
    claimed: {
      on: {
        TICK: [
          { guard: 'cancelRequested', target: 'concluding', actions: 'takeNow' },
          { target: 'starting', actions: 'takeNow' },
        ],
      },
    },
    // Its process is spawned, or the job fails (bad input) or goes back to the queue (the agent's trouble).
    starting: {
      initial: 'launching',
      on: retryLater,
      states: {
        launching: {
          invoke: {
            src: 'startJob',
            input: rowInput,
            onDone: { target: '#job.running', actions: withOutput('takeOutputRow') },
            onError: [
              { guard: withError('isInputError'), target: 'failing', actions: withError('takeStartError') },
              { target: 'releasing', actions: withError('takeStartError') },
            ],
          },
        },
        // Bad input: the job fails with a message for the user; the agent goes on.
        failing: {
          invoke: {
            src: 'failJob',
            input: ({ context }) => ({ row: context.row, error: context.error ?? 'could not start' }),
            onDone: { target: '#job.ended.failed', actions: withOutput('takeOutputRow') },
          },
        },
        // The agent could not start it (its own trouble): back to the queue, or failed after LAB_JOB_START_TRIES.
        releasing: {
          invoke: {
            src: 'releaseJob',
            input: ({ context }) => ({ row: context.row, reason: context.error ?? 'could not start' }),
            onDone: [
              { guard: withOutput('becamePending'), target: '#job.pending', actions: withOutput('takeOutputRow') },
              { target: '#job.ended.failed', actions: withOutput('takeOutputRow') },
            ],
          },
        },
      },
    },
    // Each tick: probe the process, then at most one of: stop it (SIGTERM), kill it after the
    // grace (SIGKILL), or push new tails to the row. An ended process is concluded.
    running: {
      initial: 'waiting',
      on: retryLater,
      states: {
        waiting: waitForTick('probing'),
        probing: {
          invoke: {
            src: 'probeJob',
            input: rowInput,
            onDone: [
              { guard: withOutput('processEnded'), target: '#job.concluding', actions: withOutput('takeProbe') },
              { guard: 'mustSignal', target: 'signalling', actions: withOutput('takeProbe') },
              { guard: 'graceOver', target: 'killing', actions: withOutput('takeProbe') },
              { guard: withOutput('tailsDue'), target: 'pushingTails', actions: withOutput('takeProbe') },
              { target: 'waiting', actions: withOutput('takeProbe') },
            ],
          },
        },
        // Cancel requested or timed out: SIGTERM to the job's process group, moment kept in the row.
        signalling: {
          invoke: {
            src: 'signalStop',
            input: ({ context }) => ({ row: context.row, reason: stopReason(context) }),
            onDone: { target: 'waiting', actions: withOutput('takeOutputRow') },
          },
        },
        // The grace is over and it still runs: SIGKILL.
        killing: {
          invoke: { src: 'killJob', input: rowInput, onDone: 'waiting' },
        },
        pushingTails: {
          invoke: {
            src: 'pushTails',
            input: ({ context }) => ({ row: context.row, probe: context.probe }),
            onDone: { target: 'waiting', actions: withOutput('takeOutputRow') },
          },
        },
      },
    },
    // The process ended (or a claimed job was cancelled before it started): the outcome goes to the row.
    concluding: {
      invoke: {
        src: 'concludeJob',
        input: ({ context }) => ({ row: context.row, outcome: outcomeOf(context.row, context.probe), probe: context.probe }),
        onDone: [
          // A failed attempt with retries left is back in the queue (its reason on the row).
          { guard: withOutput('becamePending'), target: 'pending', actions: withOutput('takeOutputRow') },
          { guard: withOutput('endedFinished'), target: 'ended.finished', actions: withOutput('takeOutputRow') },
          { guard: withOutput('endedFailed'), target: 'ended.failed', actions: withOutput('takeOutputRow') },
          { target: 'ended.cancelled', actions: withOutput('takeOutputRow') },
        ],
        onError: 'restoring',
      },
    },
    // The ways a job ends. Each waits for its email to be due; every TICK brings a new `now` to check.
    ended: {
      // Always entered at one of its three (XState asks a compound state for an initial one all the same).
      initial: 'finished',
      always: { guard: 'notifyDue', target: 'notifying' },
      on: { TICK: { actions: 'takeNow' } },
      states: { finished: {}, failed: {}, cancelled: {} },
    },
    // Exactly one email: a lease in the row, the send, then notified_at.
    notifying: {
      entry: 'markNotifyTried',
      invoke: {
        src: 'notifyUser',
        input: rowInput,
        onDone: [
          { guard: withOutput('wasNotified'), target: 'notified', actions: withOutput('takeOutputRow') },
          { target: 'restoring', actions: withOutput('takeOutputRow') },
        ],
        onError: 'restoring',
      },
    },
    notified: { type: 'final' },
  },
});
