// The Jupyter-session lifecycle's rules, as pure functions of the row, the other sessions and the
// TICK's time: LAB_JUPYTER_MAX, what is left of the start timeout and the kill grace, when the
// email with the link is due. The Jupyter machine (jupyter-machine.ts) asks them.
import type { SessionRow } from '../services/store/types.js';
import type { RowContext } from './kit.js';
import { ms } from './timestamps.js';

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
  row: SessionRow;
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

export interface JupyterContext extends JupyterMachineInput, RowContext<SessionRow> {
  launch: LaunchInfo | null;
  probe: ServerProbe | null;
  error: string | null;
}

/** An SMTP outage is retried on later ticks for this long after the server came up, then dropped. */
const NOTIFY_WINDOW_MS = 60 * 60 * 1000;

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
export function graceLeft(c: Pick<JupyterContext, 'row' | 'now' | 'killGraceMs'>): number {
  const began = c.row.status === 'stopping' ? ms(c.row.stopping_at) : null;
  return began === null ? c.killGraceMs : Math.max(0, began + c.killGraceMs - c.now);
}

export function isNotifyDue(c: Pick<JupyterContext, 'row' | 'now' | 'emailOn' | 'notifyTriedAt'>): boolean {
  if (!c.emailOn || c.row.notified_at || c.row.status !== 'running' || c.notifyTriedAt === c.now) return false;
  const started = ms(c.row.started_at);
  return started === null || c.now - started < NOTIFY_WINDOW_MS;
}
