// The job machine's actors: the I/O behind each named step. Each one is idempotent, because a
// step may be retried by the next tick after a crash: it checks the row and the log folder before
// acting (no second spawn when a pid record exists, no signal to a pid that was reused).
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { jobActorStubs } from '../../machines/job-machine.js';
import type { JobOutcome, JobProbe } from '../../machines/job-rules.js';
import { gpuEnv, holdJobGpus, releaseJobGpus } from '../gpu/agent-gpus.js';
import { renderJobEmail } from '../job-email.js';
import { nextNotifyAttempt } from '../notify-backoff.js';
import { JobInputError } from '../runner/errors.js';
import { checkLogFolder, isNoSpace, noSpaceError } from '../runner/log-folder.js';
import { AlreadyLaunchedError, killJobStragglers, launchDetached, readExitRecord, readPidRecord, signalJobProcess, type PidRecord } from '../runner/launch.js';
import { prepareJob, type PreparedJob } from '../runner/prepare.js';
import { withStopNote } from '../runner/stop-note.js';
import { isAlive, isSameProcess } from '../host/process-identity.js';
import { readTail } from '../host/tail.js';
import { EXIT_RESERVE, PID_FILE, STDERR_FILE, STDOUT_FILE } from '../runner/wrapper.js';
import type { JobRow } from '../store/types.js';
import type { AgentContext } from './context.js';
import { memberUmask } from '../process-safety.js';
import { faultPoint } from './fault-points.js';
import { messageIdFor, sendRecorded } from './send-recorded.js';
import { step, type StepPlace } from './row-actors.js';
import { attemptLogDir, isRetryableFailure, readRunResult } from '../queue/attempts.js';

export const logDirOf = (ctx: AgentContext, job: JobRow) => job.log_dir ?? attemptLogDir(ctx.config.logDir, job);

/** A line in the job's own folder, for what the agent decided (interpreter, argument handling). */
async function noteForJob(logDir: string, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await mkdir(logDir, { recursive: true, mode: 0o700 });
  await appendFile(logDir + '/agent.log', lines.map((l) => `${new Date().toISOString()} ${l}\n`).join(''), { mode: 0o600 });
}

/** What was launched, kept beside the logs so an agent adopting the job can record it. */
interface LaunchNote {
  argv: string[];
  interpreter: string;
  /** A notebook kernel's private socket folder, removed when the job ends. */
  tempDir?: string;
}

export async function readLaunchNote(logDir: string): Promise<LaunchNote | null> {
  try {
    return JSON.parse(await readFile(join(logDir, 'command.json'), 'utf8')) as LaunchNote;
  } catch {
    return null;
  }
}

async function recordStart(ctx: AgentContext, job: JobRow, rec: PidRecord, interpreter: string, argv: string[], logDir: string): Promise<JobRow> {
  return ctx.store.startJob({
    jobId: job.job_id, agentId: ctx.agentId, pid: rec.pid, pidStart: rec.startTime, interpreter, command: argv, logDir,
    stdoutPath: join(logDir, STDOUT_FILE), stderrPath: join(logDir, STDERR_FILE),
  });
}

/** The job's script path; a row without one is the member's to fix. */
export function scriptOf(job: JobRow): string {
  if (job.script_path) return job.script_path;
  throw new JobInputError(`The job names no script${job.script_id ? ` (script_id ${job.script_id} is not in your inventory)` : ''}: submit it with a script path.`);
}

async function startJob(ctx: AgentContext, job: JobRow): Promise<JobRow> {
  const logDir = logDirOf(ctx, job);
  // A previous agent may have spawned it and died before recording the start: adopt, never respawn.
  // (A stat first: the usual answer is "no", and a failed open costs more than a stat.)
  const earlier = existsSync(join(logDir, PID_FILE)) ? await readPidRecord(logDir) : null;
  if (earlier) {
    ctx.log.warn({ job: job.job_id, jobPid: earlier.pid }, 'adopting a job started by an agent that stopped before recording it');
    const note = await readLaunchNote(logDir);
    return recordStart(ctx, job, earlier, note?.interpreter ?? 'unknown (adopted)', note?.argv ?? [], logDir);
  }
  try {
    return await launchNew(ctx, job, scriptOf(job));
  } catch (err) {
    // A disk that filled up while starting: say so once (retrying cannot help), never "ENOSPC" thrice.
    if (isNoSpace(err)) throw noSpaceError(ctx.config.logDir, ctx.config.home, null);
    throw err;
  }
}

/** The job's argv, folder and environment, decided and noted in its folder (every executor runs this). */
export async function prepareLaunch(ctx: AgentContext, job: JobRow, scriptPath: string): Promise<PreparedJob> {
  await checkLogFolder(ctx.config.logDir, ctx.config.home);
  holdJobGpus(ctx, job); // local mode: this member's host locks on the job's GPUs, or no start
  const prepared = await prepareJob({
    jobId: job.job_id, scriptPath, args: job.args, home: ctx.config.home, logRoot: ctx.config.logDir, logDir: logDirOf(ctx, job),
    env: await ctx.loginEnv(), labPython: ctx.config.python || undefined, labJupyter: ctx.config.jupyter.executable || undefined,
  });
  await noteForJob(prepared.logDir, [`command: ${JSON.stringify(prepared.argv)}`, `cwd: ${prepared.cwd}`, ...prepared.notes]);
  const note: LaunchNote = { argv: prepared.argv, interpreter: prepared.interpreter, ...(prepared.tempDir ? { tempDir: prepared.tempDir } : {}) };
  await writeFile(join(prepared.logDir, 'command.json'), JSON.stringify(note), { mode: 0o600 });
  return prepared;
}

async function launchNew(ctx: AgentContext, job: JobRow, scriptPath: string): Promise<JobRow> {
  const prepared = await prepareLaunch(ctx, job, scriptPath);
  let launched: PidRecord;
  faultPoint('launch');
  try {
    // The agent's own files are private (umask 077); what the job writes follows the member's umask.
    launched = await launchDetached({
      jobId: job.job_id, logDir: prepared.logDir, argv: prepared.argv, cwd: prepared.cwd, env: { ...prepared.env, ...gpuEnv(job) }, umask: memberUmask(), onEnded: () => ctx.jobEnded(),
    });
  } catch (err) {
    if (!(err instanceof AlreadyLaunchedError) || !err.record) throw err;
    launched = err.record;
  }
  ctx.log.info({ job: job.job_id, jobPid: launched.pid, interpreter: prepared.interpreter, gpus: job.cuda_visible_devices ?? undefined }, 'job started');
  holdJobGpus(ctx, job, { pid: launched.pid, start: launched.startTime }); // now held by the job's own process
  faultPoint('after-spawn');
  return recordStart(ctx, job, launched, prepared.interpreter, prepared.argv, prepared.logDir);
}

export async function tails(job: JobRow): Promise<{ stdoutTail: string; stderrTail: string }> {
  const [stdoutTail, stderrTail] = await Promise.all([
    job.stdout_path ? readTail(job.stdout_path) : '',
    job.stderr_path ? readTail(job.stderr_path) : '',
  ]);
  return { stdoutTail, stderrTail };
}

async function probeJob(ctx: AgentContext, job: JobRow): Promise<JobProbe> {
  const logDir = logDirOf(ctx, job);
  // Order matters: liveness first, the exit record last. The recorder writes exit.json and only
  // then exits, so once it is seen gone, a record it wrote is there to read. (Reading the record
  // first could miss one written a moment later and call a finished job lost.)
  const jobAlive = job.pid !== null && isSameProcess(job.pid, job.pid_start);
  const rec = jobAlive ? null : await readPidRecord(logDir);
  const recorderAlive = Boolean(rec && rec.wrapperPid > 1 && isSameProcess(rec.wrapperPid, rec.wrapperStartTime));
  const exit = await readExitRecord(logDir);
  return { exit, alive: jobAlive || recorderAlive, ...(await tails(job)) };
}

/** Signals the job's process group, unless its pid now belongs to another process. */
function signalJob(ctx: AgentContext, job: JobRow, signal: NodeJS.Signals): void {
  if (job.pid === null || !isSameProcess(job.pid, job.pid_start)) return;
  signalJobProcess(job.pid, signal);
  ctx.log.info({ job: job.job_id, jobPid: job.pid, signal }, 'job signalled');
}

/**
 * The job's session id while it is still the job's. A pid is not reused while any process of its
 * session lives, so the id can only name someone else's session once the session has emptied and
 * a new process took the pid: then its leader is alive and is not the job's process.
 */
function jobSession(job: JobRow): number {
  if (job.pid === null || (isAlive(job.pid) && !isSameProcess(job.pid, job.pid_start))) return 0;
  return job.pid;
}

/**
 * Signals everything of a stopped job: its group, then what left it (found by LAB_JOB_ID or by
 * its session: a daemonised child, a notebook's kernel). Every stop path uses it: SIGTERM, SIGKILL
 * after the grace, and the end of a stopped job, whose main process may be gone already.
 */
async function stopEverything(ctx: AgentContext, job: JobRow, signal: NodeJS.Signals): Promise<void> {
  signalJob(ctx, job, signal);
  const rec = await readPidRecord(logDirOf(ctx, job));
  const hit = killJobStragglers(job.job_id, rec?.wrapperPid ?? 0, signal, jobSession(job));
  if (hit.length) ctx.log.info({ job: job.job_id, jobPids: hit, signal }, 'signalled processes that left the job\'s group');
}

/** Cancel or timeout: the stop is recorded before the signal goes, so a crash in between never reads as a plain finish. */
async function signalStop(ctx: AgentContext, job: JobRow, reason: string): Promise<JobRow> {
  const row = await ctx.store.markStopping({ jobId: job.job_id, reason });
  faultPoint('stopping');
  await stopEverything(ctx, row, 'SIGTERM');
  return row;
}

/** Removes what the job needed only while it ran: the unused exit-record reserve, a kernel's socket folder under the temp dir. */
async function cleanUp(ctx: AgentContext, job: JobRow): Promise<void> {
  const logDir = logDirOf(ctx, job);
  await rm(join(logDir, EXIT_RESERVE), { force: true }); // the exit record's room, unused
  const note = await readLaunchNote(logDir);
  if (note?.tempDir && note.tempDir.startsWith(tmpdir() + '/')) await rm(note.tempDir, { recursive: true, force: true });
}

async function conclude(ctx: AgentContext, job: JobRow, outcome: JobOutcome, probe: JobProbe | null, via: string): Promise<JobRow> {
  const t = probe ?? (await tails(job));
  // A stopped job's main process has ended: nothing it started may outlive it.
  if (job.kill_sent_at) await stopEverything(ctx, job, 'SIGKILL');
  return recordOutcome(ctx, job, outcome, t, { via, probe });
}

/** The end, in the row: what the job's folder no longer needs is removed first. */
export async function recordOutcome(
  ctx: AgentContext, job: JobRow, outcome: JobOutcome, t: { stdoutTail: string; stderrTail: string }, how: { via: string; probe: JobProbe | null },
): Promise<JobRow> {
  const stderrTail = withStopNote(t.stderrTail, job, ctx.config.user); // who stopped it and when, after its own output
  const result = await readRunResult(job).catch(() => null);
  const end = { jobId: job.job_id, retcode: outcome.retcode, signal: outcome.signal, stdoutTail: t.stdoutTail, stderrTail, result };
  await cleanUp(ctx, job).catch(() => undefined);
  releaseJobGpus(ctx, job);
  faultPoint('before-finish');
  switch (outcome.kind) {
    case 'finish':
      return ctx.store.finishJob({ ...end, finishedAt: outcome.finishedAt });
    case 'fail':
      return ctx.store.failJob({ ...end, error: outcome.error, via: how.via, retry: isRetryableFailure(job, outcome, how.probe) });
    case 'cancel':
      return ctx.store.markCancelled(end);
  }
}

async function notifyUser(ctx: AgentContext, job: JobRow): Promise<JobRow> {
  const lease = await ctx.store.beginNotify({ jobId: job.job_id, agentId: ctx.agentId });
  if (!lease) return ctx.store.getJob(job.job_id); // another agent has it, or it is not due
  const mailer = await ctx.mailer();
  if (!mailer) return ctx.store.markNotEmailed({ jobId: job.job_id, reason: 'LAB_EMAIL empty' }); // nothing to send
  const mail = renderJobEmail({ ...lease, script_path: lease.script_path ?? '(no script)', status: lease.status as 'finished' }, { host: ctx.host, dashboardUrl: ctx.config.values.LAB_DASHBOARD_URL });
  // notified_at is written first and committed the moment the SMTP server accepts the message:
  // only an agent dying between those two lines sends it again (with the same Message-ID).
  const message = { to: ctx.config.email, ...mail, messageId: messageIdFor('job', job.job_id) };
  const done = await sendRecorded(mailer, message, (send) => ctx.store.markNotifiedOnSend({ jobId: job.job_id, send }), () => faultPoint('after-email'));
  if (done.sent) return done.row;
  const attempts = lease.notify_attempts + 1;
  const next = nextNotifyAttempt(attempts, new Date(lease.finished_at ?? Date.now()), new Date());
  const retryAt = 'retryAt' in next ? next.retryAt : null;
  ctx.log.warn({ job: job.job_id, attempts, retryAt, err: done.error.message }, retryAt ? 'email not sent; will retry' : 'email not sent; giving up after a day');
  return ctx.store.notifyFailed({ jobId: job.job_id, error: done.error.message, retryAt });
}

/** Implementations for jobMachine.provide({ actors }), typed by the machine's stubs. */
export function jobActors(ctx: AgentContext): typeof jobActorStubs {
  const jobStep = <O, I>(run: (input: I, place: StepPlace) => Promise<O>) => step('job', run);
  return {
    startJob: jobStep(({ row }) => startJob(ctx, row)),
    probeJob: jobStep(({ row }) => probeJob(ctx, row)),
    pushTails: jobStep(({ row, probe }) =>
      ctx.store.heartbeatJob({
        jobId: row.job_id,
        stdoutTail: probe && probe.stdoutTail !== (row.stdout_tail ?? '') ? probe.stdoutTail : null,
        stderrTail: probe && probe.stderrTail !== (row.stderr_tail ?? '') ? probe.stderrTail : null,
      }),
    ),
    signalStop: jobStep(({ row, reason }) => signalStop(ctx, row, reason)),
    killJob: jobStep(({ row }) => stopEverything(ctx, row, 'SIGKILL')),
    concludeJob: jobStep(({ row, outcome, probe }, { via }) => conclude(ctx, row, outcome, probe, via)),
    failJob: jobStep(({ row, error }, { via }) => {
      ctx.log.warn({ job: row.job_id, error }, 'job failed before it started');
      return ctx.store.failJob({ jobId: row.job_id, error, stderrTail: error, via });
    }),
    releaseJob: jobStep(({ row, reason }, { via }) => {
      ctx.log.error({ job: row.job_id, reason }, 'could not start the job; releasing it');
      return ctx.store.releaseJob({ jobId: row.job_id, reason, maxClaims: ctx.config.startTries, via });
    }),
    notifyUser: jobStep(({ row }) => notifyUser(ctx, row)),
  };
}
