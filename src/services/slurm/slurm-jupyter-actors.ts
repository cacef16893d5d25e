// The Slurm executor for Jupyter sessions: the Jupyter machine's actors for a session whose server
// runs as a Slurm batch job on a compute node (jupyter-batch.ts), the way Open OnDemand does it.
// The machine is the same; what changes is where the server runs and how it is found and stopped:
// - launch = sbatch (once per session, as for jobs: submit.ts), the token in the session's private
//   config file under the member's home, which the compute node shares;
// - while Slurm keeps the job waiting, the session stays `starting` with Slurm's state and reason on
//   the row (awaitHealthy has nothing to wait for and markRunning leaves the row as it is; the next
//   tick finds the submission and looks again), and the start timeout counts from when Slurm
//   started the job, not from the submission;
// - healthy = /api/status answers with the token at the node and port the batch script wrote;
//   the link and the tunnel name the node;
// - alive = squeue (the pass's one answer) lists the job as live; stop = scancel (TERM, then the
//   rest after the grace); a job Slurm ended itself (TIMEOUT, NODE_FAIL …) is failed with its reason.
import { nodeCrypto } from '../node-crypto.js';
import { mkdirSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { jupyterActorStubs } from '../../machines/jupyter-machine.js';
import type { LaunchInfo, ServerProbe } from '../../machines/jupyter-rules.js';
import { jupyterMachine } from '../../machines/jupyter-machine.js';
import type { AgentContext } from '../agent/context.js';
import { classifyEnd, locateJupyter, notifyUser, recordOf, sessionLogFile, workDir } from '../agent/jupyter-actors.js';
import { provideOnce } from '../agent/machine-runner.js';
import { step, type StepPlace } from '../agent/row-actors.js';
import { JupyterError, scrubbedTail } from '../jupyter/errors.js';
import { checkHealth, waitHealthy } from '../jupyter/health.js';
import { jupyterForApp } from '../jupyter/installed.js';
import { writeSessionConfig, type JupyterAppKind } from '../jupyter/launch.js';
import { nodeLink } from '../jupyter/link.js';
import { readSessionRecord, removeSessionRecord, sessionRuntimeDir, writeSessionRecord, type SessionRecord } from '../jupyter/session-record.js';
import { memberUmask } from '../process-safety.js';
import type { SessionRow } from '../store/types.js';
import { resourceArgs, placementArgs } from './batch-script.js';
import { JUPYTER_BATCH_FILE, jupyterBatchScript, readConnection, serverEnded, slurmSessionName } from './jupyter-batch.js';
import { SlurmCommandError } from './slurm-cli.js';
import { slurmEndError } from './slurm-end.js';
import { slurmJobsFor } from './slurm-job-actors.js';
import type { SlurmJobs } from './slurm-jobs.js';
import { hasEnded, isWaiting, type SlurmJobView } from './squeue.js';
import { submitOnce, submittedAt, submittedBefore } from './submit.js';

const home = (ctx: AgentContext) => ctx.config.home;
const folderOf = (ctx: AgentContext, s: SessionRow) => sessionRuntimeDir(home(ctx), s.session_id);
/** A launch's "start time" for a server Slurm runs: its Slurm job (there is no pid on this host). */
const SLURM_START = /^slurm:([0-9]+(?:_[0-9]+)?)$/;
const launchOf = (slurmJobId: string, launchedAt: number): LaunchInfo => ({ pid: 0, startTime: `slurm:${slurmJobId}`, port: 0, launchedAt });

/** The session's Slurm job: on the row, in the launch, or in its folder (an earlier submission). */
async function slurmIdOf(ctx: AgentContext, slurm: SlurmJobs, s: SessionRow, launch?: LaunchInfo | null): Promise<string | null> {
  const fromLaunch = launch ? SLURM_START.exec(launch.startTime)?.[1] : undefined;
  const fromRow = s.slurm_job_id ?? SLURM_START.exec(s.pid_start ?? '')?.[1];
  return fromLaunch ?? fromRow ?? submittedBefore(slurm.client, { folder: folderOf(ctx, s), file: JUPYTER_BATCH_FILE, name: slurmSessionName(s.session_id) });
}

/** squeue's line for the job in this pass's answer; 'unanswered' when squeue failed (never read as "gone"). */
async function lookUp(ctx: AgentContext, slurm: SlurmJobs, s: SessionRow, id: string): Promise<SlurmJobView | undefined | 'unanswered'> {
  try {
    const view = await slurm.look(id);
    // An answer older than the submission cannot list it yet.
    if (!view && slurm.queue.askedAt < (await submittedAt(folderOf(ctx, s)))) return 'unanswered';
    return view;
  } catch (err) {
    if (!(err instanceof SlurmCommandError)) throw err;
    ctx.log.warn({ session: s.session_id, slurmJobId: id, err: err.message }, 'squeue failed; the Jupyter session stays as it was');
    return 'unanswered';
  }
}

async function findLaunch(ctx: AgentContext, s: SessionRow): Promise<LaunchInfo | null> {
  const slurm = await slurmJobsFor(ctx);
  const rec = readSessionRecord(home(ctx), s.session_id);
  if (!rec) return null;
  const id = await slurmIdOf(ctx, slurm, s);
  if (!id) {
    removeSessionRecord(home(ctx), s.session_id); // recorded, never submitted: start afresh
    return null;
  }
  const view = await lookUp(ctx, slurm, s, id);
  // The start timeout counts from when Slurm started it; a job still waiting has not begun to count.
  const started = typeof view === 'object' && !isWaiting(view) && view.startedAt ? Date.parse(view.startedAt) : NaN;
  return launchOf(id, Number.isNaN(started) ? Date.now() : Math.min(started, Date.now()));
}

async function launchServer(ctx: AgentContext, s: SessionRow): Promise<LaunchInfo> {
  const slurm = await slurmJobsFor(ctx);
  const cfg = ctx.config.jupyter;
  const dir = workDir(ctx, s);
  const env = await ctx.loginEnv();
  // Found on this (the submit) host, as a job's interpreter is: homes and software are shared.
  const jupyterPath = locateJupyter(ctx, dir, env);
  const app = (s.app ?? cfg.app) as JupyterAppKind;
  const { legacy } = jupyterForApp(jupyterPath, app, cfg.legacy, env.PATH);
  const runtimeDir = folderOf(ctx, s);
  const rec: SessionRecord = {
    sessionId: s.session_id, port: 0, token: nodeCrypto().randomBytes(32).toString('hex'), ip: '0.0.0.0', app, legacy,
    logFile: sessionLogFile(ctx, s.session_id), launchedAt: Date.now(),
  };
  writeSessionRecord(home(ctx), rec);
  const configFile = writeSessionConfig(runtimeDir, { legacy, token: rec.token, idleMinutes: cfg.idleMin });
  mkdirSync(dirname(rec.logFile), { recursive: true, mode: 0o700 });
  chmodSync(dirname(rec.logFile), 0o700);
  await ctx.store.slurmUpdateSession({ sessionId: s.session_id, state: 'SUBMITTING' });
  const { JUPYTER_TOKEN: _t, JUPYTER_TOKEN_FILE: _f, ...jobEnv } = env;
  const name = slurmSessionName(s.session_id);
  const id = await submitOnce(slurm.client, {
    folder: runtimeDir, file: JUPYTER_BATCH_FILE, name, env: jobEnv,
    script: jupyterBatchScript({ sessionId: s.session_id, jupyterPath, app, legacy, dir, configFile, runtimeDir, umask: memberUmask() }),
    args: [...resourceArgs(ctx.config.slurm, { gpus: s.gpus ?? 0 }, 0), ...placementArgs({ name, cwd: dir, stdout: rec.logFile, stderr: rec.logFile })],
  });
  ctx.log.info({ session: s.session_id, slurmJobId: id, jupyter: jupyterPath, dir }, 'Jupyter session submitted to Slurm');
  await ctx.store.slurmUpdateSession({ sessionId: s.session_id, slurmJobId: id, state: 'PENDING', reason: 'submitted' });
  return launchOf(id, Date.now());
}

/** Waiting in Slurm: nothing to wait for in this tick. Running: until /api/status answers, the server ends or the time is up. */
async function awaitHealthy(ctx: AgentContext, s: SessionRow, launch: LaunchInfo | null, timeoutMs: number): Promise<void> {
  const slurm = await slurmJobsFor(ctx);
  const id = await slurmIdOf(ctx, slurm, s, launch);
  if (!id) throw new Error(`Jupyter session ${s.session_id}: no Slurm job to wait for`);
  const view = await lookUp(ctx, slurm, s, id);
  if (view === 'unanswered') return;
  const rec = recordOf(ctx, s);
  const tail = () => scrubbedTail(rec.logFile, [rec.token]).catch(() => undefined);
  if (!view || hasEnded(view)) {
    const why = view ? (slurmEndError(id, view.state, { view }) ?? `${view.state}${view.reason ? ` (${view.reason})` : ''}`) : 'Slurm no longer knows it';
    throw new JupyterError('exited', `the Slurm job ${id} of this Jupyter session ended before Jupyter answered: ${why}`, await tail());
  }
  // Written when Slurm says something new (a session waiting for hours costs no request per pass).
  const said = { state: view.state, reason: view.reason, node: view.nodes };
  if (s.slurm_job_id !== id || s.slurm_state !== said.state || s.slurm_reason !== said.reason || (said.node && s.slurm_node !== said.node)) {
    await ctx.store.slurmUpdateSession({ sessionId: s.session_id, slurmJobId: id, ...said });
  }
  if (isWaiting(view)) return;
  const runtimeDir = folderOf(ctx, s);
  const deadline = Date.now() + timeoutMs;
  let conn = readConnection(runtimeDir);
  while (!conn && !serverEnded(runtimeDir) && Date.now() < deadline) {
    await sleep(200);
    conn = readConnection(runtimeDir);
  }
  if (!conn) {
    const what = serverEnded(runtimeDir) ? 'ended before it had a port' : `said nothing of its port within ${timeoutMs} ms`;
    throw new JupyterError(serverEnded(runtimeDir) ? 'exited' : 'timeout', `the Slurm job ${id} of this Jupyter session ${what}`, await tail());
  }
  await waitHealthy({
    port: conn.port, token: rec.token, host: conn.node, timeoutMs: Math.max(0, deadline - Date.now()), logFile: rec.logFile, intervalMs: 200,
    gone: () => serverEnded(runtimeDir),
  });
}

/** Healthy at the node and port its batch script wrote: running, with the link to the node. Else still starting. */
async function markRunning(ctx: AgentContext, s: SessionRow, launch: LaunchInfo | null): Promise<SessionRow> {
  const conn = readConnection(folderOf(ctx, s));
  const rec = readSessionRecord(home(ctx), s.session_id);
  if (!conn || !rec || !(await checkHealth({ host: conn.node, port: conn.port, token: rec.token }))) return s;
  const { url, tunnel } = nodeLink({
    node: conn.node, loginHost: ctx.config.jupyter.publicHost || ctx.host, port: conn.port, token: rec.token, app: rec.app, linuxUser: ctx.config.user,
  });
  const row = await ctx.store.markJupyterRunning({
    sessionId: s.session_id, port: conn.port, token: rec.token, pid: null, pidStart: launch?.startTime ?? null, url, tunnel, logPath: rec.logFile, app: rec.app,
  });
  ctx.log.info({ session: s.session_id, node: conn.node, port: conn.port, ms: Date.now() - rec.launchedAt }, 'Jupyter server on Slurm healthy: session running');
  return row;
}

async function probeServer(ctx: AgentContext, s: SessionRow): Promise<ServerProbe> {
  const slurm = await slurmJobsFor(ctx);
  const id = await slurmIdOf(ctx, slurm, s);
  if (!id) return { alive: false, healthy: false };
  const view = await lookUp(ctx, slurm, s, id);
  const alive = view === 'unanswered' || (view !== undefined && !hasEnded(view) && !serverEnded(folderOf(ctx, s)));
  if (!alive || s.port === null || !s.token) return { alive, healthy: false };
  const node = readConnection(folderOf(ctx, s))?.node ?? s.slurm_node ?? null;
  const healthy = node !== null && (await checkHealth({ host: node, port: s.port, token: s.token }));
  if (!healthy) ctx.log.warn({ session: s.session_id, slurmJobId: id, node, port: s.port }, 'Jupyter server on Slurm not answering /api/status');
  return { alive, healthy };
}

/** scancel: TERM to the server (it shuts its kernels down), the rest after the grace; a waiting job is simply cancelled. */
async function cancelServer(ctx: AgentContext, slurm: SlurmJobs, s: SessionRow, graceMs: number): Promise<string | null> {
  const id = await slurmIdOf(ctx, slurm, s);
  if (!id) return null;
  const runtimeDir = folderOf(ctx, s);
  if (readConnection(runtimeDir) && !serverEnded(runtimeDir)) {
    await slurm.signal(id, 'TERM').catch((err: Error) => ctx.log.warn({ session: s.session_id, slurmJobId: id, err: err.message }, 'scancel --signal=TERM failed'));
    const deadline = Date.now() + graceMs;
    while (!serverEnded(runtimeDir) && Date.now() < deadline) await sleep(200);
  }
  await slurm.cancel(id);
  ctx.log.info({ session: s.session_id, slurmJobId: id }, 'Jupyter session\'s Slurm job cancelled');
  return id;
}

async function concludeGone(ctx: AgentContext, s: SessionRow): Promise<SessionRow> {
  const slurm = await slurmJobsFor(ctx);
  const id = await slurmIdOf(ctx, slurm, s);
  const view = id ? await lookUp(ctx, slurm, s, id) : undefined;
  const rec = readSessionRecord(home(ctx), s.session_id);
  const tail = await scrubbedTail(s.log_path ?? rec?.logFile ?? sessionLogFile(ctx, s.session_id), [s.token ?? rec?.token ?? '']).catch(() => '');
  if (id && typeof view === 'object' && !hasEnded(view)) await slurm.cancel(id); // Jupyter ended; its job lingers
  removeSessionRecord(home(ctx), s.session_id);
  if (id && typeof view === 'object') {
    await ctx.store.slurmUpdateSession({ sessionId: s.session_id, slurmJobId: id, state: view.state, reason: view.reason });
    // (The jobs' hints name submit's options; a session's limits are the partition's or LAB_SLURM_EXTRA_ARGS'.)
    const slurmSaid = slurmEndError(id, view.state, { view })?.replace(/; ask for more with submit --\w+$/, '') ?? null;
    if (slurmSaid) {
      // A cancel from outside is a stop the member (or an admin) asked for; the rest are failures.
      if (view.state === 'CANCELLED') return ctx.store.markJupyterStopped({ sessionId: s.session_id, reason: slurmSaid });
      return ctx.store.failJupyter({ sessionId: s.session_id, error: tail ? `${slurmSaid}\n--- last lines of the Jupyter log ---\n${tail}` : slurmSaid });
    }
  }
  const end = classifyEnd(tail, null, ctx.config.jupyter.idleMin);
  ctx.log.info({ session: s.session_id, slurmJobId: id, end: end.kind }, 'Jupyter server on Slurm ended by itself');
  if (end.kind === 'stopped') return ctx.store.markJupyterStopped({ sessionId: s.session_id, reason: end.reason });
  return ctx.store.failJupyter({ sessionId: s.session_id, error: end.error.replace(/\(pid \?\)/, `(Slurm job ${id ?? '?'})`) });
}

async function stopServer(ctx: AgentContext, s: SessionRow, graceMs: number): Promise<SessionRow> {
  const slurm = await slurmJobsFor(ctx);
  let row = s;
  if (row.status === 'starting' || row.status === 'running') row = await ctx.store.beginJupyterStop({ sessionId: s.session_id, reason: 'stop requested' });
  const id = await cancelServer(ctx, slurm, row, graceMs);
  removeSessionRecord(home(ctx), s.session_id);
  return ctx.store.markJupyterStopped({ sessionId: s.session_id, reason: id ? `stopped on request (scancel ${id})` : 'stopped on request' });
}

async function failSession(ctx: AgentContext, s: SessionRow, error: string): Promise<SessionRow> {
  const slurm = await slurmJobsFor(ctx);
  await cancelServer(ctx, slurm, s, Math.min(ctx.config.killGraceS * 1000, 3000)).catch((err: Error) =>
    ctx.log.warn({ session: s.session_id, err: err.message }, 'could not cancel the Jupyter session\'s Slurm job'),
  );
  removeSessionRecord(home(ctx), s.session_id);
  ctx.log.warn({ session: s.session_id, error: error.split('\n')[0] }, 'Jupyter session on Slurm failed');
  return ctx.store.failJupyter({ sessionId: s.session_id, error });
}

/** Implementations for jupyterMachine.provide({ actors }) when Slurm runs the session's server. */
function slurmJupyterActors(ctx: AgentContext): typeof jupyterActorStubs {
  const jupyterStep = <O, I>(run: (input: I, place: StepPlace) => Promise<O>) => step('jupyter', run);
  return {
    findLaunch: jupyterStep(({ row }) => findLaunch(ctx, row)),
    launchServer: jupyterStep(({ row }) => launchServer(ctx, row)),
    awaitHealthy: jupyterStep(({ row, launch, timeoutMs }) => awaitHealthy(ctx, row, launch, timeoutMs)),
    markRunning: jupyterStep(({ row, launch }) => markRunning(ctx, row, launch)),
    probeServer: jupyterStep(({ row }) => probeServer(ctx, row)),
    notifyUser: jupyterStep(({ row }) => notifyUser(ctx, row)),
    concludeGone: jupyterStep(({ row }) => concludeGone(ctx, row)),
    stopServer: jupyterStep(({ row, graceMs }) => stopServer(ctx, row, graceMs)),
    failSession: jupyterStep(({ row, error }) => failSession(ctx, row, error)),
  };
}

const owners = new WeakMap<AgentContext, object>();
/** The Jupyter machine with the Slurm actors, provided once per agent process. */
export function slurmJupyterMachine(ctx: AgentContext) {
  let owner = owners.get(ctx);
  if (!owner) owners.set(ctx, (owner = {}));
  return provideOnce(owner, jupyterMachine, () => jupyterMachine.provide({ actors: slurmJupyterActors(ctx) }));
}
