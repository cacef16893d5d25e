// The Jupyter machine's actors: the I/O behind each named step. Each one is idempotent, because a
// step may be retried by the next tick after a crash: the on-disk session record and /proc are
// checked before a spawn, and a pid is signalled only while its start time still matches.
// The token is never logged: log lines carry the session id, pid and port only.
import { nodeCrypto } from '../node-crypto.js';
import { isAbsolute, join, resolve } from 'node:path';
import type { jupyterActorStubs } from '../../machines/jupyter-machine.js';
import type { LaunchInfo, ServerProbe } from '../../machines/jupyter-rules.js';
import { renderJupyterEmail } from '../job-email.js';
import { messageIdFor, sendRecorded } from './send-recorded.js';
import { JupyterError, scrubbedTail } from '../jupyter/errors.js';
import { checkHealth, waitHealthy } from '../jupyter/health.js';
import { jupyterLink } from '../jupyter/link.js';
import { launchJupyter, type JupyterAppKind } from '../jupyter/launch.js';
import { jupyterForApp } from '../jupyter/installed.js';
import { pickFreePort } from '../jupyter/ports.js';
import {
  findServerByRuntimeDir, readSessionRecord, removeSessionRecord, sessionRuntimeDir, writeSessionRecord, type SessionRecord,
} from '../jupyter/session-record.js';
import { stopJupyter } from '../jupyter/stop.js';
import { findJupyter } from '../runner/interpreter.js';
import { isSameProcess } from '../host/process-identity.js';
import type { SessionRow } from '../store/types.js';
import type { AgentContext } from './context.js';
import { faultPoint } from './fault-points.js';
import { step, type StepPlace } from './row-actors.js';
import { gpuEnv, holdJobGpus, releaseJobGpus } from '../gpu/agent-gpus.js';

const INSTALL_HINT =
  'To install Jupyter: python3 -m pip install --user jupyterlab (or into a venv, then set LAB_JUPYTER=/path/to/venv/bin/jupyter); ' +
  "for the classic Notebook (JUPYTER_LEGACY=true): python3 -m pip install --user 'notebook<7', or apt-get install jupyter-notebook.";

const home = (ctx: AgentContext) => ctx.config.home;
export const sessionLogFile = (ctx: AgentContext, sessionId: string) => join(ctx.config.logDir, 'jupyter', `${sessionId}.log`);

/** The requested folder (relative to home when relative), or home. */
export function workDir(ctx: AgentContext, s: SessionRow): string {
  if (!s.dir) return home(ctx);
  const d = s.dir.replace(/^~(?=\/|$)/, home(ctx));
  return isAbsolute(d) ? d : resolve(home(ctx), d);
}

/** LAB_JUPYTER, a venv in or above the folder, the login PATH, ~/.local/bin; never cron's PATH. */
export function locateJupyter(ctx: AgentContext, dir: string, env: Record<string, string>): string {
  try {
    // findJupyter searches venvs from the folder of the path it is given: a name inside `dir`.
    return findJupyter(join(dir, '.jupyter-session'), { home: home(ctx), env, labJupyter: ctx.config.jupyter.executable || undefined }).path;
  } catch (err) {
    throw new JupyterError('not-found', `${(err as Error).message} ${INSTALL_HINT}`);
  }
}

/** The session's server: from the record, else found by its config path in /proc, else from the row. */
function locate(ctx: AgentContext, s: SessionRow): { rec: SessionRecord | null; pid: number | null; startTime: string | null } {
  const rec = readSessionRecord(home(ctx), s.session_id);
  if (rec?.pid && rec.startTime) return { rec, pid: rec.pid, startTime: rec.startTime };
  if (s.pid && s.pid_start) return { rec, pid: s.pid, startTime: s.pid_start };
  const found = rec ? findServerByRuntimeDir(home(ctx), s.session_id) : null;
  if (rec && found) writeSessionRecord(home(ctx), { ...rec, pid: found.pid, startTime: found.startTime });
  return { rec, pid: found?.pid ?? null, startTime: found?.startTime ?? null };
}

async function findLaunch(ctx: AgentContext, s: SessionRow): Promise<LaunchInfo | null> {
  const { rec, pid, startTime } = locate(ctx, s);
  if (!rec) return null;
  if (pid === null || startTime === null) {
    // Recorded, never spawned (the agent died in between): start afresh.
    removeSessionRecord(home(ctx), s.session_id);
    return null;
  }
  ctx.log.warn({ session: s.session_id, serverPid: pid, port: rec.port }, 'adopting a Jupyter server launched by an earlier agent run');
  return { pid, startTime, port: rec.port, launchedAt: rec.launchedAt };
}

async function launchServer(ctx: AgentContext, s: SessionRow): Promise<LaunchInfo> {
  const cfg = ctx.config.jupyter;
  const dir = workDir(ctx, s);
  const env = await ctx.loginEnv();
  const jupyterPath = locateJupyter(ctx, dir, env);
  const app = (s.app ?? cfg.app) as JupyterAppKind;
  const { legacy } = jupyterForApp(jupyterPath, app, cfg.legacy, env.PATH); // fails at once, with the fix, when the app is missing
  let port: number;
  try {
    port = await pickFreePort({ basePort: cfg.basePort, uid: process.getuid?.() ?? 0, range: cfg.portRange, host: cfg.ip });
  } catch (err) {
    throw new JupyterError('invalid', (err as Error).message);
  }
  const rec: SessionRecord = {
    sessionId: s.session_id, port, token: nodeCrypto().randomBytes(32).toString('hex'), ip: cfg.ip, app, legacy,
    logFile: sessionLogFile(ctx, s.session_id), launchedAt: Date.now(),
  };
  writeSessionRecord(home(ctx), rec);
  let launched;
  try {
    holdJobGpus(ctx, s); // local mode: this member's host locks on the session's GPUs, or no start
    launched = await launchJupyter({
      sessionId: s.session_id, jupyterPath, app, legacy, port, ip: cfg.ip, dir, token: rec.token,
      idleMinutes: cfg.idleMin, logFile: rec.logFile, env: { ...env, ...gpuEnv(s) }, runtimeDir: sessionRuntimeDir(home(ctx), s.session_id),
    });
  } catch (err) {
    removeSessionRecord(home(ctx), s.session_id);
    throw err;
  }
  holdJobGpus(ctx, s, { pid: launched.pid, start: launched.startTime }); // now held by the server itself
  faultPoint('jupyter-after-spawn');
  writeSessionRecord(home(ctx), { ...rec, pid: launched.pid, startTime: launched.startTime, configFile: launched.configFile });
  ctx.log.info({ session: s.session_id, serverPid: launched.pid, port, app, jupyter: jupyterPath, dir }, 'Jupyter server launched');
  return { pid: launched.pid, startTime: launched.startTime, port, launchedAt: rec.launchedAt };
}

export function recordOf(ctx: AgentContext, s: SessionRow): SessionRecord {
  const rec = readSessionRecord(home(ctx), s.session_id);
  if (!rec) throw new Error(`the launch record of Jupyter session ${s.session_id} is gone (${sessionRuntimeDir(home(ctx), s.session_id)})`);
  return rec;
}

async function awaitHealthy(ctx: AgentContext, s: SessionRow, launch: LaunchInfo, timeoutMs: number): Promise<void> {
  const rec = recordOf(ctx, s);
  await waitHealthy({
    port: launch.port, token: rec.token, host: rec.ip, legacy: rec.legacy, timeoutMs, pid: launch.pid, startTime: launch.startTime,
    logFile: rec.logFile, intervalMs: 100,
  });
}

async function markRunning(ctx: AgentContext, s: SessionRow, launch: LaunchInfo): Promise<SessionRow> {
  const rec = recordOf(ctx, s);
  const { url, tunnel } = jupyterLink({
    ip: rec.ip, publicHost: ctx.config.jupyter.publicHost || ctx.host, port: launch.port, token: rec.token, app: rec.app, linuxUser: ctx.config.user,
  });
  const row = await ctx.store.markJupyterRunning({
    sessionId: s.session_id, port: launch.port, token: rec.token, pid: launch.pid, pidStart: launch.startTime, url, tunnel, logPath: rec.logFile, app: rec.app,
  });
  ctx.log.info({ session: s.session_id, serverPid: launch.pid, port: launch.port, ms: Date.now() - rec.launchedAt }, 'Jupyter server healthy: session running');
  return row;
}

async function probeServer(ctx: AgentContext, s: SessionRow): Promise<ServerProbe> {
  const alive = s.pid !== null && isSameProcess(s.pid, s.pid_start);
  if (!alive || s.port === null || !s.token) return { alive, healthy: false };
  const ip = readSessionRecord(home(ctx), s.session_id)?.ip ?? ctx.config.jupyter.ip;
  const healthy = await checkHealth({ port: s.port, token: s.token, host: ip });
  // Alive but not answering (busy, or hung): left running; the user can stop it.
  if (!healthy) ctx.log.warn({ session: s.session_id, serverPid: s.pid, port: s.port }, 'Jupyter server alive but not answering /api/status');
  return { alive, healthy };
}

/** How a server that went away by itself ended, from the last lines of its log. */
export function classifyEnd(tail: string, pid: number | null, idleMin: number): { kind: 'stopped'; reason: string } | { kind: 'failed'; error: string } {
  if (/No kernels( or terminals)? for \d+ seconds; shutting down/.test(tail)) {
    return { kind: 'stopped', reason: `idle: Jupyter shut itself down after ${idleMin} min with no kernels (LAB_JUPYTER_IDLE_MIN)` };
  }
  if (/Shutting down on \/api\/shutdown request/.test(tail)) return { kind: 'stopped', reason: 'shut down from Jupyter itself (File → Shut Down)' };
  const sig = /received signal (\d+), stopping/.exec(tail);
  if (sig) return { kind: 'stopped', reason: `stopped by signal ${sig[1]} from outside the agent` };
  return {
    kind: 'failed',
    error: `the Jupyter server (pid ${pid ?? '?'}) is gone: it was killed or crashed (SIGKILL, out of memory ...)` +
      (tail ? `\n--- last lines of the Jupyter log ---\n${tail}` : ''),
  };
}

/** Stops what is left of the session's server (the group, kernels) and removes its private files. */
async function cleanUp(ctx: AgentContext, s: SessionRow, graceMs: number): Promise<{ portFree: boolean; port: number | null }> {
  const { rec, pid, startTime } = locate(ctx, s);
  const port = s.port ?? rec?.port ?? null;
  let portFree = true;
  if (pid !== null && startTime !== null && port !== null) {
    const res = await stopJupyter({
      pid, pgid: pid, startTime, port, graceMs, portWaitMs: 5000, host: rec?.ip ?? ctx.config.jupyter.ip, configFile: rec?.configFile,
    });
    portFree = res.portFree;
    ctx.log.info({ session: s.session_id, serverPid: pid, port, killed: res.killed, leftovers: res.leftovers, portFree }, 'Jupyter server stopped');
  }
  removeSessionRecord(home(ctx), s.session_id);
  releaseJobGpus(ctx, s);
  return { portFree, port };
}

async function concludeGone(ctx: AgentContext, s: SessionRow): Promise<SessionRow> {
  const rec = readSessionRecord(home(ctx), s.session_id);
  const token = s.token ?? rec?.token ?? '';
  const tail = await scrubbedTail(s.log_path ?? rec?.logFile ?? sessionLogFile(ctx, s.session_id), [token]).catch(() => '');
  await cleanUp(ctx, s, 1000); // kernels orphaned by the server's end
  const end = classifyEnd(tail, s.pid, ctx.config.jupyter.idleMin);
  if (end.kind === 'stopped') {
    ctx.log.info({ session: s.session_id, serverPid: s.pid, reason: end.reason }, 'Jupyter server ended by itself');
    return ctx.store.markJupyterStopped({ sessionId: s.session_id, reason: end.reason });
  }
  ctx.log.warn({ session: s.session_id, serverPid: s.pid }, 'Jupyter server is gone: session failed');
  return ctx.store.failJupyter({ sessionId: s.session_id, error: end.error });
}

async function stopServer(ctx: AgentContext, s: SessionRow, graceMs: number): Promise<SessionRow> {
  let row = s;
  if (row.status === 'starting' || row.status === 'running') row = await ctx.store.beginJupyterStop({ sessionId: s.session_id, reason: 'stop requested' });
  faultPoint('jupyter-before-kill');
  const { portFree, port } = await cleanUp(ctx, row, graceMs);
  const reason = portFree ? 'stopped on request' : `stopped on request; port ${port} is still taken by another process`;
  if (!portFree) ctx.log.warn({ session: s.session_id, port }, 'Jupyter server stopped but its port is still in use');
  return ctx.store.markJupyterStopped({ sessionId: s.session_id, reason });
}

async function failSession(ctx: AgentContext, s: SessionRow, error: string): Promise<SessionRow> {
  await cleanUp(ctx, s, Math.min(ctx.config.killGraceS * 1000, 3000));
  ctx.log.warn({ session: s.session_id, error: error.split('\n')[0] }, 'Jupyter session failed');
  return ctx.store.failJupyter({ sessionId: s.session_id, error });
}

export async function notifyUser(ctx: AgentContext, s: SessionRow): Promise<SessionRow> {
  const mailer = await ctx.mailer();
  if (!mailer || s.port === null || !s.token || !s.url) return s;
  const mail = renderJupyterEmail(
    {
      session_id: s.session_id, port: s.port, url: s.url, tunnel: s.tunnel, working_dir: workDir(ctx, s), host: ctx.config.jupyter.publicHost || ctx.host,
      started_at: s.started_at,
    },
    { host: ctx.host, dashboardUrl: ctx.config.values.LAB_DASHBOARD_URL },
  );
  // As for jobs: notified_at committed the moment the message is accepted, one Message-ID per session.
  const message = { to: ctx.config.email, ...mail, messageId: messageIdFor('jupyter', s.session_id) };
  const done = await sendRecorded(mailer, message, (send) => ctx.store.markJupyterNotifiedOnSend({ sessionId: s.session_id, send }));
  if (done.sent) return done.row;
  ctx.log.warn({ session: s.session_id, err: done.error.message }, 'Jupyter email not sent; will retry on a later tick');
  return s;
}

/** A step that needs the launch the machine found or made. */
function launched(launch: LaunchInfo | null, s: SessionRow): LaunchInfo {
  if (!launch) throw new Error(`Jupyter session ${s.session_id}: no launch to wait for`);
  return launch;
}

/** Implementations for jupyterMachine.provide({ actors }), typed by the machine's stubs. */
export function jupyterActors(ctx: AgentContext): typeof jupyterActorStubs {
  const jupyterStep = <O, I>(run: (input: I, place: StepPlace) => Promise<O>) => step('jupyter', run);
  return {
    findLaunch: jupyterStep(({ row }) => findLaunch(ctx, row)),
    launchServer: jupyterStep(({ row }) => launchServer(ctx, row)),
    awaitHealthy: jupyterStep(({ row, launch, timeoutMs }) => awaitHealthy(ctx, row, launched(launch, row), timeoutMs)),
    markRunning: jupyterStep(({ row, launch }) => markRunning(ctx, row, launched(launch, row))),
    probeServer: jupyterStep(({ row }) => probeServer(ctx, row)),
    notifyUser: jupyterStep(({ row }) => notifyUser(ctx, row)),
    concludeGone: jupyterStep(({ row }) => concludeGone(ctx, row)),
    stopServer: jupyterStep(({ row, graceMs }) => stopServer(ctx, row, graceMs)),
    failSession: jupyterStep(({ row, error }) => failSession(ctx, row, error)),
  };
}
