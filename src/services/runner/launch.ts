import { spawn } from 'node:child_process';
import { openSync, closeSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { wrapperArgv, EXIT_FILE, EXIT_RESERVE, EXIT_RESERVE_BYTES, PID_FILE, STDOUT_FILE, STDERR_FILE } from './wrapper.js';
import { readTail } from '../host/tail.js';
import { JobInputError } from './errors.js';
import { findProcessesInSession, findProcessesWithEnv } from '../host/process-identity.js';
import { launcherAvailable, launcherCanRun, startThroughLauncher, type LauncherJob } from './launcher.js';

export interface LaunchOptions {
  jobId: string;
  /** Created (mode 0700) if missing; receives stdout.log, stderr.log, pid, exit.json. */
  logDir: string;
  /** The program and its arguments; argv[0] is looked up on env.PATH if not absolute. */
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /**
   * Called once the job has ended and its exit record is written (the recorder closed the start
   * pipe). Only while this process lives: an agent started later finds the end by polling.
   */
  onEnded?: () => void;
  /** The umask the job runs under (octal digits), when not this process's own. */
  umask?: string | null;
  /** How the wrapper is started: through the resident launcher (the default where env(1) can reset signals), or spawned from here. */
  via?: 'launcher' | 'spawn';
}

export interface LaunchedJob {
  /** The job's pid; also its session id and process group id. */
  pid: number;
  /** Signal this group (killJobGroup) to stop the job; equals pid. */
  pgid: number;
  /** /proc starttime of pid, for isSameProcess after an agent restart. */
  startTime: string;
  /** The /bin/sh process that waits for the job and writes exit.json. */
  wrapperPid: number;
  wrapperStartTime: string;
  stdoutPath: string;
  stderrPath: string;
}

/** Contents of <logDir>/pid. */
export type PidRecord = Omit<LaunchedJob, 'stdoutPath' | 'stderrPath'>;

/** Contents of <logDir>/exit.json. */
export interface ExitRecord {
  /** Exit status when the job exited by itself; null when a signal ended it. */
  code: number | null;
  /** E.g. "SIGTERM", "SIGKILL"; null when it exited by itself. */
  signal: string | null;
  endedAt: string;
  /** The recorder found no room for a new file and wrote the record into its reserve: the disk was full. */
  diskFull?: boolean;
}

export class AlreadyLaunchedError extends Error {
  override name = 'AlreadyLaunchedError';
  constructor(readonly record: PidRecord | null, logDir: string) {
    super(`a job was already launched into ${logDir} (pid ${record?.pid ?? 'unknown'}); refusing to start it twice`);
  }
}

const HANDSHAKE_TIMEOUT_MS = 15_000;

/**
 * Starts a job detached from the agent: it keeps running when the agent exits or crashes, and
 * exit.json appears when it ends, however it ends (see wrapper.ts for the process layout).
 * Resolves as soon as the job has started; never waits for it to finish.
 * Refuses (AlreadyLaunchedError) if <logDir>/pid exists, so a retried step cannot start a job twice.
 */
export async function launchDetached(opts: LaunchOptions): Promise<LaunchedJob> {
  const { logDir, argv } = opts;
  if (argv.length === 0 || !argv[0]) throw new Error('launchDetached: empty argv');
  // spawn would report a missing cwd as "spawn /bin/sh ENOENT", which misleads
  if (!isDirectory(opts.cwd)) throw new JobInputError(`The job's working folder ${opts.cwd} does not exist (was it moved or deleted?).`);
  await mkdir(logDir, { recursive: true, mode: 0o700 });
  await chmod(logDir, 0o700); // it may have existed (a notebook's parameterized copy is written first)
  if (existsSync(join(logDir, PID_FILE))) throw new AlreadyLaunchedError(await readPidRecord(logDir), logDir);

  const { stdoutPath, stderrPath } = createLogFiles(logDir);
  const job = { ...opts, umask: opts.umask ?? null, stdoutPath, stderrPath };
  const useLauncher = launcherCanRun(argv) && (opts.via === 'launcher' || (opts.via !== 'spawn' && launcherAvailable()));
  const report = await (useLauncher ? startThroughLauncher(job, opts.onEnded, HANDSHAKE_TIMEOUT_MS) : spawnWrapper(job)).catch(async (e: Error) => {
    const tail = await readTail(stderrPath, { maxLines: 10 }).catch(() => '');
    throw new Error(`${e.message}${tail ? `: ${tail.trim()}` : ''}`, { cause: e });
  });

  const [pidText, startTime, wrapperPidText, wrapperStartTime] = report.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 1 || !startTime) throw new Error(`job ${opts.jobId}: bad start report "${report}"`);
  return { pid, pgid: pid, startTime, wrapperPid: Number(wrapperPidText) || 0, wrapperStartTime: wrapperStartTime ?? '', stdoutPath, stderrPath };
}

/**
 * What a job's folder holds before the job starts, wherever it runs: the exit record's room
 * (taken now while there is some: ENOSPC here means nothing was started) and the two logs,
 * created private (the wrapper, or Slurm, appends to them).
 */
export function createLogFiles(logDir: string): { stdoutPath: string; stderrPath: string } {
  writeFileSync(join(logDir, EXIT_RESERVE), `${' '.repeat(EXIT_RESERVE_BYTES - 1)}\n`, { mode: 0o600 });
  const stdoutPath = join(logDir, STDOUT_FILE);
  const stderrPath = join(logDir, STDERR_FILE);
  closeSync(openSync(stdoutPath, 'a', 0o600));
  closeSync(openSync(stderrPath, 'a', 0o600));
  return { stdoutPath, stderrPath };
}

/** Without the launcher: the wrapper spawned by this process, its reports on a pipe of its own. */
async function spawnWrapper(job: LauncherJob & { onEnded?: () => void }): Promise<string> {
  const out = openSync(job.stdoutPath, 'a', 0o600);
  const err = openSync(job.stderrPath, 'a', 0o600);
  let child;
  try {
    const [shell, ...shellArgs] = wrapperArgv(job.jobId, job.logDir, job.argv, job.umask);
    child = spawn(shell, shellArgs, {
      cwd: job.cwd,
      env: job.env,
      detached: true, // setsid(): the wrapper leaves the agent's session and process group
      stdio: ['ignore', out, err, 'pipe'],
    });
  } finally {
    closeSync(out); // the child holds its own copies
    closeSync(err);
  }
  child.unref();
  const started = `${job.jobId} started `;
  return new Promise<string>((resolve, reject) => {
    const pipe = child.stdio[3] as Readable;
    let text = '';
    const timer = setTimeout(() => done(new Error(`job ${job.jobId} did not report its start within ${HANDSHAKE_TIMEOUT_MS} ms`)), HANDSHAKE_TIMEOUT_MS);
    const done = (e: Error | null, value = ''): void => {
      clearTimeout(timer);
      pipe.removeAllListeners();
      pipe.on('error', () => {}); // late EPIPE/ECONNRESET after we stop listening
      if (e || !job.onEnded) pipe.destroy();
      else listenForEnd(pipe as Socket, job.onEnded);
      if (e) reject(e);
      else resolve(value);
    };
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      text += chunk;
      const nl = text.indexOf('\n');
      if (nl >= 0) done(text.startsWith(started) ? null : new Error(`job ${job.jobId}: bad start report "${text.slice(0, nl)}"`), text.slice(started.length, nl));
    });
    // the pipe ends without a line when the wrapper could not start the job at all
    pipe.on('end', () => done(new Error(`job ${job.jobId} could not be started`)));
    pipe.on('error', (e) => done(e));
    child.on('error', (e) => done(e)); // e.g. cwd missing: spawn fails with ENOENT
  });
}

/** Keeps the start pipe open, without holding this process alive, to hear the recorder close it. */
function listenForEnd(pipe: Socket, onEnded: () => void): void {
  pipe.once('close', onEnded);
  pipe.resume(); // nothing more is written; reading is what notices the end of file
  pipe.unref();
}

/** The exit record, or null while the job runs (or if its wrapper was killed: check isSameProcess on wrapperPid). */
export async function readExitRecord(logDir: string): Promise<ExitRecord | null> {
  const file = join(logDir, EXIT_FILE);
  const parsed = await readJson(file);
  if (!parsed || typeof parsed !== 'object') return null;
  const r = parsed as Record<string, unknown>;
  // The recorder writes no time of its own (that would cost a date(1) per job): the file's is the end.
  const endedAt = typeof r.endedAt === 'string' ? r.endedAt : await stat(file).then((st) => st.mtime.toISOString(), () => '');
  return {
    code: typeof r.code === 'number' ? r.code : null,
    signal: typeof r.signal === 'string' ? r.signal : null,
    endedAt,
    ...(r.diskFull === true ? { diskFull: true } : {}),
  };
}

/** The pid record written when the job started, or null. */
export async function readPidRecord(logDir: string): Promise<PidRecord | null> {
  const parsed = await readJson(join(logDir, PID_FILE));
  if (!parsed || typeof parsed !== 'object') return null;
  const r = parsed as Record<string, unknown>;
  if (typeof r.pid !== 'number') return null;
  return {
    pid: r.pid,
    pgid: typeof r.pgid === 'number' ? r.pgid : r.pid,
    startTime: String(r.startTime ?? ''),
    wrapperPid: typeof r.wrapperPid === 'number' ? r.wrapperPid : 0,
    wrapperStartTime: String(r.wrapperStartTime ?? ''),
  };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch {
    return null; // missing, or still being written
  }
}

/**
 * Sends `signal` to every process in the job's group. Returns false if the group is already
 * gone. Refuses pgid ≤ 1: kill(0) and kill(-1) would hit the agent's own group or every process.
 */
export function killJobGroup(pgid: number, signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new Error(`killJobGroup: refusing pgid ${pgid}`);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/**
 * Signals a job whose process is alive (its pid and start time checked): its group, or the process
 * itself while the group does not exist yet. That is the moment between the job's start report and
 * its setsid (wrapper.ts): an agent that waited for the session instead would poll for every job.
 */
export function signalJobProcess(pid: number, signal: NodeJS.Signals): void {
  if (killJobGroup(pid, signal)) return;
  try {
    process.kill(pid, signal);
  } catch {
    // gone meanwhile
  }
}

/**
 * Signals the job's processes that left its process group: found by LAB_JOB_ID=<jobId> in their
 * environment (prepareJob sets it: a daemon that forked and called setsid keeps it) and, when
 * `session` is the job's session id (its pid), by session (a child that moved to a group of its
 * own and dropped its environment stays in the session). Spares the wrapper (it still has to
 * write exit.json) and this process. Use on every stop, with the group's signal: a Jupyter kernel
 * runs in a session of its own too. Returns the pids signalled.
 */
export function killJobStragglers(jobId: string, wrapperPid: number, signal: NodeJS.Signals = 'SIGKILL', session = 0): number[] {
  const hit: number[] = [];
  const pids = new Set([...findProcessesWithEnv('LAB_JOB_ID', jobId), ...findProcessesInSession(session)]);
  for (const pid of pids) {
    if (pid === wrapperPid || pid === process.pid || pid <= 1) continue;
    try {
      process.kill(pid, signal);
      hit.push(pid);
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return hit;
}
