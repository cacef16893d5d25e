// The Jupyter-session lifecycle: pending → starting → running → stopping → stopped | failed.
// A pure definition built from the row-machine kit (kit.ts), like the job machine: every effect
// is a named actor whose implementation comes in through provide()
// (src/services/agent/jupyter-actors.ts), the row is the machine's memory ('restoring' picks the
// state from its status), one TICK drives it one step, and the deadlines (start timeout, kill
// grace, how long to retry the email) are compared with TICK's `now`. The claim is the database's
// (jupyter_claim): the agent starts the machine from the claimed row, in `starting`. Each group of
// steps has one error edge back to `restoring`. The token never enters the context: the actors
// keep it on disk (0600) and in the row.
import { assign, setup } from 'xstate';
import type { SessionRow } from '../services/store/types.js';
import { JUPYTER_STATE_OF_STATUS, type SessionStatus } from './jupyter-states.js';
import {
  graceLeft, isNotifyDue, limitMessage, sessionsAhead, startTimeLeft,
  type JupyterContext, type JupyterMachineInput, type LaunchInfo, type ServerProbe,
} from './jupyter-rules.js';
import { actorStub, errorMessage, onStepError, restoreFrom, rowAssigns, rowInput, waitForTick, stepFailed, withError, withOutput, type Tick } from './kit.js';

const stub = <Output, Input>(name: string) => actorStub<Output, Input>('jupyter', name);
type Row = { row: SessionRow };

/** The Jupyter machine's steps, typed once: what each takes and gives. The agent implements them (jupyter-actors.ts). */
export const jupyterActorStubs = {
  /** A server this session already launched (record on disk, or found in /proc), or null. */
  findLaunch: stub<LaunchInfo | null, Row>('findLaunch'),
  /** Finds Jupyter, picks a free port, makes a token, spawns the server detached. */
  launchServer: stub<LaunchInfo, Row>('launchServer'),
  /** Resolves once /api/status answers with the token; rejects (with the log tail) when it died or timeoutMs passed. */
  awaitHealthy: stub<void, Row & { launch: LaunchInfo | null; timeoutMs: number }>('awaitHealthy'),
  markRunning: stub<SessionRow, Row & { launch: LaunchInfo | null }>('markRunning'),
  probeServer: stub<ServerProbe, Row>('probeServer'),
  notifyUser: stub<SessionRow, Row>('notifyUser'),
  /** The server ended on its own (idle shutdown, killed): leftovers reaped, stopped or failed. */
  concludeGone: stub<SessionRow, Row>('concludeGone'),
  /** Stop on request: stopping, SIGTERM, SIGKILL after graceMs, port checked, stopped. */
  stopServer: stub<SessionRow, Row & { graceMs: number }>('stopServer'),
  /** Kills whatever was launched, then fails the session with the reason. */
  failSession: stub<SessionRow, Row & { error: string }>('failSession'),
};

/** Any step's failure in a group: back to the row's own state; the next tick tries again. */
const retryLater = onStepError('#jupyter.restoring');

export const jupyterMachine = setup({
  types: {
    context: {} as JupyterContext,
    events: {} as Tick,
    input: {} as JupyterMachineInput,
  },
  actors: jupyterActorStubs,
  guards: {
    stepFailed,
    statusIs: ({ context }, params: { status: SessionStatus }) => context.row.status === params.status,
    stopRequested: ({ context }) => context.row.stop_requested_at !== null,
    launchFound: (_, params: { output: LaunchInfo | null }) => params.output !== null,
    overLimit: ({ context }) => sessionsAhead(context.row, context.others).length >= context.max,
    serverGone: (_, params: { output: ServerProbe }) => !params.output.alive,
    notifyDue: ({ context }) => isNotifyDue(context),
    endedStopped: (_, params: { output: SessionRow }) => params.output.status === 'stopped',
  },
  actions: {
    ...rowAssigns<JupyterContext, SessionRow>(),
    takeLaunch: assign((_, params: { output: LaunchInfo | null }) => (params.output ? { launch: params.output } : {})),
    takeProbe: assign((_, params: { output: ServerProbe }) => ({ probe: params.output })),
    takeError: assign((_, params: { error: unknown }) => ({ error: errorMessage(params.error, 'could not start Jupyter') })),
    takeLimitError: assign(({ context }) => ({ error: limitMessage(context.row, sessionsAhead(context.row, context.others), context.max) })),
  },
}).createMachine({
  id: 'jupyter',
  initial: 'restoring',
  context: ({ input }) => ({ ...input, launch: null, probe: null, error: null, notifyTriedAt: -1 }),
  states: {
    // The row says where the session is; the machine starts there.
    restoring: {
      always: restoreFrom('jupyter', JUPYTER_STATE_OF_STATUS),
    },
    // Waits for a claim (jupyter_claim, in the database); the agent drives claimed rows only.
    pending: {},
    // Launched and healthy, or failed with the reason; never a second server for one session.
    starting: {
      initial: 'waiting',
      on: retryLater,
      states: {
        waiting: {
          on: {
            TICK: [
              { guard: 'stopRequested', target: '#jupyter.stopping.halting', actions: 'takeNow' },
              { target: 'findingLaunch', actions: 'takeNow' },
            ],
          },
        },
        // An agent that died after the spawn left it running: adopt it.
        findingLaunch: {
          invoke: {
            src: 'findLaunch',
            input: rowInput,
            onDone: [
              { guard: withOutput('launchFound'), target: 'awaitingHealth', actions: withOutput('takeLaunch') },
              { guard: 'overLimit', target: '#jupyter.failing', actions: 'takeLimitError' },
              { target: 'launching' },
            ],
          },
        },
        launching: {
          invoke: {
            src: 'launchServer',
            input: rowInput,
            onDone: { target: 'awaitingHealth', actions: withOutput('takeLaunch') },
            onError: { target: '#jupyter.failing', actions: withError('takeError') },
          },
        },
        // Running only when healthy. The wait ends at the start deadline, whichever tick it falls in.
        awaitingHealth: {
          invoke: {
            src: 'awaitHealthy',
            input: ({ context }) => ({ row: context.row, launch: context.launch, timeoutMs: startTimeLeft(context) }),
            onDone: 'markingRunning',
            onError: { target: '#jupyter.failing', actions: withError('takeError') },
          },
        },
        markingRunning: {
          invoke: {
            src: 'markRunning',
            input: ({ context }) => ({ row: context.row, launch: context.launch }),
            onDone: { target: '#jupyter.running.checkingEmail', actions: withOutput('takeOutputRow') },
          },
        },
      },
    },
    // Every tick: still there? (killed from outside, idle shutdown), and was a stop asked for?
    // Then the email with the link, once.
    running: {
      initial: 'waiting',
      on: retryLater,
      states: {
        waiting: waitForTick('probing'),
        probing: {
          invoke: {
            src: 'probeServer',
            input: rowInput,
            onDone: [
              { guard: withOutput('serverGone'), target: '#jupyter.concluding', actions: withOutput('takeProbe') },
              { guard: 'stopRequested', target: '#jupyter.stopping.halting', actions: withOutput('takeProbe') },
              { target: 'checkingEmail', actions: withOutput('takeProbe') },
            ],
          },
        },
        // After the server was seen healthy (never before the TICK's check, which would swallow the TICK).
        checkingEmail: {
          always: [{ guard: 'notifyDue', target: 'notifying' }, { target: 'waiting' }],
        },
        // Retried on later ticks while SMTP is down (for a while): a failed try waits for the next tick.
        notifying: {
          entry: 'markNotifyTried',
          invoke: {
            src: 'notifyUser',
            input: rowInput,
            onDone: { target: 'waiting', actions: withOutput('takeOutputRow') },
            onError: 'waiting',
          },
        },
      },
    },
    // The server ended on its own.
    concluding: {
      invoke: {
        src: 'concludeGone',
        input: rowInput,
        onDone: [
          { guard: withOutput('endedStopped'), target: 'stopped', actions: withOutput('takeOutputRow') },
          { target: 'failed', actions: withOutput('takeOutputRow') },
        ],
        onError: 'restoring',
      },
    },
    // A stop on request; one that an earlier tick began goes on from the row's stopping_at.
    stopping: {
      initial: 'waiting',
      on: retryLater,
      states: {
        waiting: waitForTick('halting'),
        halting: {
          invoke: {
            src: 'stopServer',
            input: ({ context }) => ({ row: context.row, graceMs: graceLeft(context) }),
            onDone: [
              { guard: withOutput('endedStopped'), target: '#jupyter.stopped', actions: withOutput('takeOutputRow') },
              { target: '#jupyter.failed', actions: withOutput('takeOutputRow') },
            ],
          },
        },
      },
    },
    failing: {
      invoke: {
        src: 'failSession',
        input: ({ context }) => ({ row: context.row, error: context.error ?? 'could not start Jupyter' }),
        onDone: { target: 'failed', actions: withOutput('takeOutputRow') },
        onError: 'restoring',
      },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
});
