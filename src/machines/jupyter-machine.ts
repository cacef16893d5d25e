// The Jupyter-session lifecycle: pending → starting → running → stopping → stopped | failed.
// A pure definition, like the job machine: every effect is a named actor whose implementation
// comes in through provide() (src/services/agent/jupyter-actors.ts), the row is the machine's
// memory ('restoring' picks the state from its status), one TICK drives it one step, and the
// deadlines (start timeout, kill grace, how long to retry the email) are compared with TICK's `now`.
// The token never enters the context: the actors keep it on disk (0600) and in the row.
import { assign, fromPromise, setup } from 'xstate';
import type { SessionRow } from '../services/store/types.js';

/** A launched server as the agent recorded it (pid + start time identify it across pid reuse). */
export interface LaunchInfo {
  pid: number;
  startTime: string;
  port: number;
  /** Epoch ms of the launch: the start timeout counts from here. */
  launchedAt: number;
}

/** What a running session's check found. */
export interface ServerProbe {
  /** The recorded process (pid and start time) still exists. */
  alive: boolean;
  /** /api/status answers 200 with the session's token. */
  healthy: boolean;
}

export interface JupyterMachineInput {
  session: SessionRow;
  now: number;
  /** This user's other active sessions on this host, for LAB_JUPYTER_MAX. */
  others: SessionRow[];
  /** LAB_JUPYTER_MAX. */
  max: number;
  /** LAB_JUPYTER_START_TIMEOUT in ms. */
  startTimeoutMs: number;
  /** SIGTERM → SIGKILL (LAB_KILL_GRACE_S) in ms. */
  killGraceMs: number;
  /** LAB_EMAIL is set: the link is emailed once the server is healthy. */
  emailOn: boolean;
}

export interface JupyterContext extends JupyterMachineInput {
  launch: LaunchInfo | null;
  probe: ServerProbe | null;
  error: string | null;
  /** The `now` of the TICK in which the email was last tried: at most one try per tick. */
  notifyTriedAt: number;
}

export type JupyterEvent = { type: 'TICK'; now: number } | { type: 'CLAIMED'; session: SessionRow };

/** An SMTP outage is retried on later ticks for this long after the server came up, then dropped. */
export const NOTIFY_WINDOW_MS = 60 * 60 * 1000;

const ms = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) : null);

/** The link without its token: safe for error messages, lists and logs. */
export function tokenlessUrl(url: string | null): string | null {
  return url ? url.replace(/([?&])token=[^&#]*&?/, '$1').replace(/[?&]$/, '') : null;
}

/**
 * The sessions that hold one of this user's LAB_JUPYTER_MAX places on this host ahead of
 * `session`: running ones, and starting ones requested earlier (so two requests claimed in the
 * same pass do not both give way to each other). Stopping ones are on their way out.
 */
export function sessionsAhead(session: SessionRow, others: SessionRow[]): SessionRow[] {
  const mine = [Date.parse(session.created_at), session.session_id] as const;
  return others.filter((o) => {
    if (o.session_id === session.session_id) return false;
    if (o.run_host !== null && session.run_host !== null && o.run_host !== session.run_host) return false;
    if (o.status === 'running') return true;
    if (o.status !== 'starting') return false;
    const t = Date.parse(o.created_at);
    return t < mine[0] || (t === mine[0] && o.session_id < mine[1]);
  });
}

export function limitMessage(session: SessionRow, ahead: SessionRow[], max: number): string {
  const where = session.run_host ?? 'this host';
  const list = ahead
    .map((o) => `${o.session_id} (${o.status}${o.url ? `, ${tokenlessUrl(o.url)}` : ''})`)
    .join('; ');
  return (
    `LAB_JUPYTER_MAX is ${max}: you already have ${ahead.length} Jupyter server${ahead.length === 1 ? '' : 's'} on ${where}: ${list}. ` +
    'Open it with `lab-agent jupyter url <id>`, stop it with `lab-agent jupyter stop <id>`, or raise LAB_JUPYTER_MAX in the agent\'s .env.'
  );
}

/** What is left of the start timeout at `now` (0 when it has passed: one last probe). */
export function startTimeLeft(c: Pick<JupyterContext, 'launch' | 'now' | 'startTimeoutMs'>): number {
  if (!c.launch) return c.startTimeoutMs;
  return Math.max(0, c.launch.launchedAt + c.startTimeoutMs - c.now);
}

/** What is left of the kill grace at `now`, counted from when the stop began (kept in the row). */
export function graceLeft(c: Pick<JupyterContext, 'session' | 'now' | 'killGraceMs'>): number {
  const began = c.session.status === 'stopping' ? ms(c.session.stopping_at) : null;
  return began === null ? c.killGraceMs : Math.max(0, began + c.killGraceMs - c.now);
}

export function isNotifyDue(c: Pick<JupyterContext, 'session' | 'now' | 'emailOn' | 'notifyTriedAt'>): boolean {
  if (!c.emailOn || c.session.notified_at || c.session.status !== 'running' || c.notifyTriedAt === c.now) return false;
  const started = ms(c.session.started_at);
  return started === null || c.now - started < NOTIFY_WINDOW_MS;
}

const notProvided = (name: string) =>
  fromPromise<never, unknown>(async () => {
    throw new Error(`jupyter machine: actor ${name} was not provided`);
  });

type Actor<O, I> = ReturnType<typeof fromPromise<O, I>>;
const outputRow = (event: unknown) => (event as { output?: SessionRow }).output;
const errorText = (event: unknown) => String((event as { error?: Error }).error?.message ?? 'could not start Jupyter');

export const jupyterMachine = setup({
  types: {
    context: {} as JupyterContext,
    events: {} as JupyterEvent,
    input: {} as JupyterMachineInput,
  },
  actors: {
    /** A server this session already launched (record on disk, or found in /proc), or null. */
    findLaunch: notProvided('findLaunch') as unknown as Actor<LaunchInfo | null, { session: SessionRow }>,
    /** Finds Jupyter, picks a free port, makes a token, spawns the server detached. */
    launchServer: notProvided('launchServer') as unknown as Actor<LaunchInfo, { session: SessionRow }>,
    /** Resolves once /api/status answers with the token; rejects (with the log tail) when it died or timeoutMs passed. */
    awaitHealthy: notProvided('awaitHealthy') as unknown as Actor<void, { session: SessionRow; launch: LaunchInfo; timeoutMs: number }>,
    markRunning: notProvided('markRunning') as unknown as Actor<SessionRow, { session: SessionRow; launch: LaunchInfo }>,
    probeServer: notProvided('probeServer') as unknown as Actor<ServerProbe, { session: SessionRow }>,
    notifyUser: notProvided('notifyUser') as unknown as Actor<SessionRow, { session: SessionRow }>,
    /** The server ended on its own (idle shutdown, killed): leftovers reaped, stopped or failed. */
    concludeGone: notProvided('concludeGone') as unknown as Actor<SessionRow, { session: SessionRow }>,
    /** Stop on request: stopping, SIGTERM, SIGKILL after graceMs, port checked, stopped. */
    stopServer: notProvided('stopServer') as unknown as Actor<SessionRow, { session: SessionRow; graceMs: number }>,
    /** Kills whatever was launched, then fails the session with the reason. */
    failSession: notProvided('failSession') as unknown as Actor<SessionRow, { session: SessionRow; error: string }>,
  },
  guards: {
    isPending: ({ context }) => context.session.status === 'pending',
    isStarting: ({ context }) => context.session.status === 'starting',
    isRunning: ({ context }) => context.session.status === 'running',
    isStopping: ({ context }) => context.session.status === 'stopping',
    isStopped: ({ context }) => context.session.status === 'stopped',
    stopRequested: ({ context }) => context.session.stop_requested_at !== null,
    launchFound: ({ event }) => Boolean((event as { output?: LaunchInfo | null }).output),
    overLimit: ({ context }) => sessionsAhead(context.session, context.others).length >= context.max,
    serverGone: ({ event }) => (event as { output?: ServerProbe }).output?.alive === false,
    notifyDue: ({ context }) => isNotifyDue(context),
    endedStopped: ({ event }) => outputRow(event)?.status === 'stopped',
  },
  actions: {
    takeNow: assign({ now: ({ context, event }) => (event.type === 'TICK' ? event.now : context.now) }),
    takeClaimedRow: assign({ session: ({ context, event }) => (event.type === 'CLAIMED' ? event.session : context.session) }),
    takeOutputRow: assign({ session: ({ context, event }) => outputRow(event) ?? context.session }),
    takeLaunch: assign({ launch: ({ context, event }) => (event as { output?: LaunchInfo | null }).output ?? context.launch }),
    takeProbe: assign({ probe: ({ event }) => (event as { output?: ServerProbe }).output ?? null }),
    takeError: assign({ error: ({ event }) => errorText(event) }),
    takeLimitError: assign({ error: ({ context }) => limitMessage(context.session, sessionsAhead(context.session, context.others), context.max) }),
    markNotifyTried: assign({ notifyTriedAt: ({ context }) => context.now }),
  },
}).createMachine({
  id: 'jupyter',
  initial: 'restoring',
  context: ({ input }) => ({ ...input, launch: null, probe: null, error: null, notifyTriedAt: -1 }),
  states: {
    // The row says where the session is; the machine starts there.
    restoring: {
      always: [
        { guard: 'isPending', target: 'pending' },
        { guard: 'isStarting', target: 'starting' },
        { guard: 'isRunning', target: 'running' },
        { guard: 'isStopping', target: 'stopping' },
        { guard: 'isStopped', target: 'stopped' },
        { target: 'failed' },
      ],
    },
    pending: {
      on: { CLAIMED: { target: 'starting', actions: 'takeClaimedRow' } },
    },
    starting: {
      on: {
        TICK: [
          { guard: 'stopRequested', target: 'halting', actions: 'takeNow' },
          { target: 'findingLaunch', actions: 'takeNow' },
        ],
      },
    },
    // Never a second server for one session: an agent that died after the spawn left it running.
    findingLaunch: {
      invoke: {
        src: 'findLaunch',
        input: ({ context }) => ({ session: context.session }),
        onDone: [
          { guard: 'launchFound', target: 'awaitingHealth', actions: 'takeLaunch' },
          { guard: 'overLimit', target: 'failing', actions: 'takeLimitError' },
          { target: 'launching' },
        ],
        onError: 'restoring',
      },
    },
    launching: {
      invoke: {
        src: 'launchServer',
        input: ({ context }) => ({ session: context.session }),
        onDone: { target: 'awaitingHealth', actions: 'takeLaunch' },
        onError: { target: 'failing', actions: 'takeError' },
      },
    },
    // Running only when healthy. The wait ends at the start deadline, whichever tick it falls in.
    awaitingHealth: {
      invoke: {
        src: 'awaitHealthy',
        input: ({ context }) => ({ session: context.session, launch: context.launch!, timeoutMs: startTimeLeft(context) }),
        onDone: 'markingRunning',
        onError: { target: 'failing', actions: 'takeError' },
      },
    },
    markingRunning: {
      invoke: {
        src: 'markRunning',
        input: ({ context }) => ({ session: context.session, launch: context.launch! }),
        onDone: { target: 'checkingEmail', actions: 'takeOutputRow' },
        onError: 'restoring',
      },
    },
    running: {
      on: { TICK: { target: 'probing', actions: 'takeNow' } },
    },
    // After the server was seen healthy (never before the TICK's check, which would swallow the TICK).
    checkingEmail: {
      always: [{ guard: 'notifyDue', target: 'notifying' }, { target: 'running' }],
    },
    // The email with the link: once, retried on later ticks while SMTP is down (for a while).
    notifying: {
      entry: 'markNotifyTried',
      invoke: {
        src: 'notifyUser',
        input: ({ context }) => ({ session: context.session }),
        onDone: { target: 'running', actions: 'takeOutputRow' },
        onError: 'running',
      },
    },
    // Every tick: still there? (killed from outside, idle shutdown), and was a stop asked for?
    probing: {
      invoke: {
        src: 'probeServer',
        input: ({ context }) => ({ session: context.session }),
        onDone: [
          { guard: 'serverGone', target: 'concluding', actions: 'takeProbe' },
          { guard: 'stopRequested', target: 'halting', actions: 'takeProbe' },
          { target: 'checkingEmail', actions: 'takeProbe' },
        ],
        onError: 'restoring',
      },
    },
    concluding: {
      invoke: {
        src: 'concludeGone',
        input: ({ context }) => ({ session: context.session }),
        onDone: [
          { guard: 'endedStopped', target: 'stopped', actions: 'takeOutputRow' },
          { target: 'failed', actions: 'takeOutputRow' },
        ],
        onError: 'restoring',
      },
    },
    // A stop that an earlier tick began: the grace goes on from the row's stopping_at.
    stopping: {
      on: { TICK: { target: 'halting', actions: 'takeNow' } },
    },
    halting: {
      invoke: {
        src: 'stopServer',
        input: ({ context }) => ({ session: context.session, graceMs: graceLeft(context) }),
        onDone: [
          { guard: 'endedStopped', target: 'stopped', actions: 'takeOutputRow' },
          { target: 'failed', actions: 'takeOutputRow' },
        ],
        onError: 'restoring',
      },
    },
    failing: {
      invoke: {
        src: 'failSession',
        input: ({ context }) => ({ session: context.session, error: context.error ?? 'could not start Jupyter' }),
        onDone: { target: 'failed', actions: 'takeOutputRow' },
        onError: 'restoring',
      },
    },
    stopped: { type: 'final' },
    failed: { type: 'final' },
  },
});

/** States in which a session waits for the next TICK (or CLAIMED); a step ends in one of them. */
export const JUPYTER_RESTING_STATES = ['pending', 'starting', 'running', 'stopping', 'stopped', 'failed'] as const;
