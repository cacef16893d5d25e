// A resident /bin/sh that starts jobs for this agent process. Spawning from Node forks the whole
// agent, and that fork costs in proportion to the agent's memory: about 7 ms of the agent's CPU
// and more in the forked copy before its exec, per job, at the ~115 MiB of a busy supervisor
// (BENCHMARKS.md, "Agent CPU per job"). The launcher is a small shell in a session of its own
// (so a signal to the agent's process group does not reach it or the jobs it started). It reads
// one command per line (every word quoted with shqLine) and runs the wrapper function (wrapper.ts)
// in the background: a fork of the launcher, no exec. The wrappers' reports come back on its
// stdout: `<id> started …` and `<id> ended` on their fd 3, the launcher's stdout.
// A shell starts a background job with SIGINT and SIGQUIT ignored, for good: `env
// --default-signal` (coreutils ≥ 8.31) gives them back to the job. Without it launch.ts spawns
// each wrapper itself.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { envPath, launcherScript, shqLine } from './wrapper.js';

export interface LauncherJob {
  jobId: string;
  logDir: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  umask: string | null;
  stdoutPath: string;
  stderrPath: string;
}

/** What a background job of the launcher ignores, given back to the job's program by env(1). */
const DEFAULT_SIGNALS = '--default-signal=INT,QUIT';

let usable: boolean | undefined;

/** env(1) can reset signal dispositions: the launcher can start jobs as a spawn would. */
export function launcherAvailable(): boolean {
  if (usable === undefined) {
    try {
      execFileSync(envPath(), [DEFAULT_SIGNALS, '--version'], { stdio: 'ignore', timeout: 5000 });
      usable = true;
    } catch {
      usable = false;
    }
  }
  return usable;
}

/**
 * The launcher runs the job's program through env(1), which cannot run a program whose path holds
 * a '=' (it would take the path for a variable): such a job is spawned the other way.
 */
export const launcherCanRun = (argv: string[]): boolean => !(argv[0] ?? '').includes('=');

/**
 * env(1) before the job's program: the signals reset, and the job's environment relative to the
 * launcher's: its additions (the usual case: LAB_JOB_ID and friends), or, when a variable must go,
 * the whole environment after `-i`. As env's arguments, not shell variables: the wrapper's shell
 * never holds them, whatever their names.
 */
function envArgv(env: Record<string, string>, base: Record<string, string>): string[] {
  const removed = Object.keys(base).some((k) => !(k in env));
  const pairs = Object.entries(env).filter(([k, v]) => removed || base[k] !== v).map(([k, v]) => `${k}=${v}`);
  return [envPath(), ...(removed ? ['-i'] : []), DEFAULT_SIGNALS, '--', ...pairs]; // `--`: a name may start with '-'
}

/** The one line that starts a job: in the background, cd, then the wrapper function with its fds. */
function commandLine(job: LauncherJob, base: Record<string, string>): string {
  const words = [job.jobId, job.logDir, job.umask ?? '', ...envArgv(job.env, base), ...job.argv].map(shqLine).join(' ');
  const fds = `3>&1 </dev/null >>${shqLine(job.stdoutPath)} 2>>${shqLine(job.stderrPath)}`;
  return `{ cd -- ${shqLine(job.cwd)} && lab_job ${words} ${fds} || printf '%s failed\\n' ${shqLine(job.jobId)}; } &\n`;
}

/** A child's pipe is a net.Socket at run time (typed as a plain stream): it can be unref'd too. */
function unrefPipe(stream: object): void {
  if ('unref' in stream && typeof stream.unref === 'function') stream.unref();
}

class Launcher {
  private readonly child: ChildProcess;
  private readonly input: Writable;
  private text = '';
  private readonly waiting = new Map<string, (report: string | Error) => void>();
  private readonly endings = new Map<string, () => void>();
  gone = false;

  constructor(readonly base: Record<string, string>) {
    this.child = spawn('/bin/sh', ['-c', launcherScript(), 'lab-job-launcher'], {
      env: base, cwd: '/', detached: true, stdio: ['pipe', 'pipe', 'ignore'],
    });
    this.input = this.child.stdin!;
    const output = this.child.stdout!;
    // Neither the launcher nor its pipes keep this process alive: at its exit the launcher reads
    // the end of its input and exits too; jobs it started keep running.
    this.child.unref();
    unrefPipe(this.input);
    unrefPipe(output);
    this.input.on('error', (e) => this.stop(e));
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => this.read(chunk));
    this.child.on('error', (e) => this.stop(e));
    this.child.on('exit', () => this.stop(new Error('the job launcher stopped')));
  }

  /** Starts a job; resolves with its start report (`<pid> <start> <wrapper pid> <wrapper start>`). */
  start(job: LauncherJob, onEnded: (() => void) | undefined, timeoutMs: number): Promise<string> {
    if (this.gone) return Promise.reject(new Error('the job launcher stopped'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`job ${job.jobId} did not report its start within ${timeoutMs} ms`)), timeoutMs);
      const done = (report: string | Error): void => {
        clearTimeout(timer);
        this.waiting.delete(job.jobId);
        if (report instanceof Error) {
          this.endings.delete(job.jobId);
          reject(report);
        } else resolve(report);
      };
      this.waiting.set(job.jobId, done);
      if (onEnded) this.endings.set(job.jobId, onEnded);
      this.input.write(commandLine(job, this.base));
    });
  }

  private read(chunk: string): void {
    this.text += chunk;
    let nl: number;
    while ((nl = this.text.indexOf('\n')) >= 0) {
      const [id = '', what = '', ...rest] = this.text.slice(0, nl).split(' ');
      this.text = this.text.slice(nl + 1);
      if (what === 'started') this.waiting.get(id)?.(rest.join(' '));
      else if (what === 'failed') this.waiting.get(id)?.(new Error(`job ${id} could not be started`));
      else if (what === 'ended') {
        const ended = this.endings.get(id);
        this.endings.delete(id);
        ended?.();
      }
    }
  }

  private stop(err: Error): void {
    if (this.gone) return;
    this.gone = true;
    for (const done of [...this.waiting.values()]) done(err);
    this.endings.clear(); // those jobs' ends are found by polling
  }
}

let current: Launcher | null = null;

/** Starts a job through this process's launcher, started (again) as needed. */
export function startThroughLauncher(job: LauncherJob, onEnded: (() => void) | undefined, timeoutMs: number): Promise<string> {
  if (!current || current.gone) {
    const base = Object.fromEntries(Object.entries(job.env).filter(([k]) => !k.startsWith('LAB_JOB_')));
    current = new Launcher(base);
  }
  return current.start(job, onEnded, timeoutMs);
}
