// Starts a detached Jupyter server for one session. The token never appears on the command line
// (every user can read every command line through ps) nor in the log: it goes into a per-session
// config file, mode 0600 in a 0700 folder, passed with --config. That file is loaded last, so it
// also beats a user's own config that might set another token or none (an open server on 0.0.0.0).
// The cost: with --config, Jupyter skips the user's jupyter_server_config / jupyter_notebook_config
// (extensions enabled in jupyter_server_config.d and jupyter_config.* still load).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, closeSync, constants, mkdirSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { withMemberUmask } from '../process-safety.js';
import { JupyterError, scrubbedTail } from './errors.js';
import { readProcGroup } from './proc.js';

export type JupyterAppKind = 'lab' | 'notebook' | 'server';

export interface LaunchOptions {
  /** Names the config folder; must be a plain id (uuid). */
  sessionId: string;
  /** `jupyter` (a subcommand is added) or a direct `jupyter-notebook` / `jupyter-lab` / `jupyter-server`. */
  jupyterPath: string;
  app: JupyterAppKind;
  /** Notebook 6 and older (NotebookApp) instead of Jupyter Server (ServerApp). */
  legacy: boolean;
  port: number;
  /** The address to bind (JUPYTER_IP, default 0.0.0.0 in the agent config). */
  ip: string;
  /** Root directory the server shows (and its working directory). */
  dir: string;
  token: string;
  /** Shut the server down, and cull idle kernels/terminals, after this many idle minutes; 0 = never. */
  idleMinutes: number;
  /** Appended to; its folder is created 0700. */
  logFile: string;
  /** The environment for Jupyter (e.g. the user's login environment); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where the per-session config goes; default <HOME>/.local/state/lab-job-agent/jupyter/<sessionId>. */
  runtimeDir?: string;
}

export interface LaunchResult {
  pid: number;
  /** The server leads its own process group (kernels join it), so pgid === pid. */
  pgid: number;
  /** /proc/<pid>/stat field 22: with the pid, identifies this process even after pid reuse. */
  startTime: string;
  /** The generated config (holds the token; remove it when the session ends). */
  configFile: string;
  command: string;
  /** The full argument list as the OS sees it (safe to log: no token). */
  args: string[];
}

const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

function validate(opts: LaunchOptions): void {
  if (!SESSION_ID.test(opts.sessionId)) throw new JupyterError('invalid', `invalid session id ${JSON.stringify(opts.sessionId)}`);
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) throw new JupyterError('invalid', `invalid port ${opts.port}`);
  // Short or odd tokens are refused: the token is the only thing guarding the user's files.
  if (opts.token.length < 16 || /[\s\0-\x1f]/.test(opts.token)) throw new JupyterError('invalid', 'the Jupyter token must be at least 16 characters with no whitespace');
  if (!(opts.idleMinutes >= 0)) throw new JupyterError('invalid', `invalid idleMinutes ${opts.idleMinutes}`);
  if (opts.legacy && opts.app === 'server') throw new JupyterError('invalid', "app 'server' needs Jupyter Server; a legacy Notebook has none");
  if (!['lab', 'notebook', 'server'].includes(opts.app)) throw new JupyterError('invalid', `unknown Jupyter app ${String(opts.app)}`);
}

/** The settings that go into the session's config file (token, no password, idle limits). */
function sessionConfig(opts: Pick<LaunchOptions, 'legacy' | 'token' | 'idleMinutes'>): Record<string, Record<string, unknown>> {
  const idle = Math.round(opts.idleMinutes * 60);
  // Check often enough that a short limit is honoured, at most once a minute.
  const interval = idle > 0 ? Math.max(10, Math.min(60, Math.floor(idle / 2))) : 300;
  const culling = {
    // Kernels idle this long are shut down even with a browser tab still open (cull_connected),
    // so a forgotten tab does not hold GPU memory; a busy kernel is never culled.
    MappingKernelManager: { cull_idle_timeout: idle, cull_interval: interval, cull_connected: true, cull_busy: false },
    TerminalManager: { cull_inactive_timeout: idle, cull_interval: interval },
  };
  if (opts.legacy) {
    return {
      NotebookApp: { token: opts.token, password: '', allow_password_change: false, shutdown_no_activity_timeout: idle },
      ...culling,
    };
  }
  return {
    IdentityProvider: { token: opts.token },
    PasswordIdentityProvider: { hashed_password: '', allow_password_change: false },
    // ServerApp.token too, for jupyter_server 1.x (JupyterLab 3), which has no IdentityProvider;
    // jupyter_server 2 logs one deprecation warning for it and uses the same value.
    ServerApp: { token: opts.token, shutdown_no_activity_timeout: idle },
    ...culling,
  };
}

/** The command and arguments (no secrets) for a launch. */
export function jupyterCommand(opts: Pick<LaunchOptions, 'jupyterPath' | 'app' | 'legacy' | 'port' | 'ip' | 'dir'>, configFile: string): { command: string; args: string[] } {
  const app = opts.legacy ? 'NotebookApp' : 'ServerApp';
  // `jupyter` dispatches to `jupyter-<sub>` (found next to itself first); a `jupyter-<sub>`
  // executable such as Debian's /usr/bin/jupyter-notebook is run as it is.
  const sub = basename(opts.jupyterPath).startsWith('jupyter-') ? [] : [opts.app];
  const rootDir = opts.legacy ? `--NotebookApp.notebook_dir=${resolve(opts.dir)}` : `--ServerApp.root_dir=${resolve(opts.dir)}`;
  const args = [
    ...sub,
    '--no-browser',
    `--port=${opts.port}`,
    // Serve on exactly the port we report, or fail.
    `--${app}.port_retries=0`,
    `--ip=${opts.ip}`,
    rootDir,
    `--config=${configFile}`,
  ];
  // Jupyter refuses to run as root without it (containers, CI); the agent normally runs as the user.
  if (process.getuid?.() === 0) args.push('--allow-root');
  return { command: opts.jupyterPath, args };
}

export function defaultRuntimeDir(env: NodeJS.ProcessEnv, sessionId: string): string {
  return join(env.HOME || homedir(), '.local', 'state', 'lab-job-agent', 'jupyter', sessionId);
}

function mkdirPrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

function checkPaths(opts: LaunchOptions): void {
  try {
    accessSync(opts.jupyterPath, constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new JupyterError('not-found', `Jupyter not found or not executable: ${opts.jupyterPath} (${code}); install JupyterLab (pip install jupyterlab) or point the agent at the right jupyter`);
  }
  let isDir = false;
  try {
    isDir = statSync(opts.dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new JupyterError('not-found', `Jupyter root directory does not exist: ${opts.dir}`);
}

/** The session's config (its token) in its private runtime folder; returns the file's path. */
export function writeSessionConfig(runtimeDir: string, opts: Pick<LaunchOptions, 'legacy' | 'token' | 'idleMinutes'>): string {
  mkdirPrivate(runtimeDir);
  const configFile = join(runtimeDir, opts.legacy ? 'jupyter_notebook_config.json' : 'jupyter_server_config.json');
  writeFileSync(configFile, JSON.stringify(sessionConfig(opts), null, 2) + '\n', { mode: 0o600 });
  chmodSync(configFile, 0o600); // writeFileSync's mode only applies when it creates the file
  return configFile;
}

/** Starts the server detached (own session and process group), output appended to logFile. */
export async function launchJupyter(opts: LaunchOptions): Promise<LaunchResult> {
  validate(opts);
  checkPaths(opts);
  const env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env) };
  // A stale token in the environment would be inherited by every kernel; ours is in the config.
  delete env.JUPYTER_TOKEN;
  delete env.JUPYTER_TOKEN_FILE;
  env.PYTHONUNBUFFERED = '1';

  const configFile = writeSessionConfig(opts.runtimeDir ?? defaultRuntimeDir(env, opts.sessionId), opts);

  mkdirPrivate(dirname(opts.logFile));
  const { command, args } = jupyterCommand(opts, configFile);
  const fd = openSync(opts.logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    writeSync(fd, `[lab-job-agent ${new Date().toISOString()}] starting: ${[command, ...args].join(' ')}\n`);
    // Under the member's own umask (the agent's is 077): notebooks saved from it are theirs as usual.
    const [exe, ...argv] = withMemberUmask([command, ...args]);
    const started = spawn(exe!, argv, { cwd: resolve(opts.dir), env, detached: true, stdio: ['ignore', fd, fd] });
    await new Promise<void>((resolveSpawn, rejectSpawn) => {
      started.once('spawn', resolveSpawn);
      started.once('error', rejectSpawn);
    });
    child = started;
  } catch (err) {
    rmSync(configFile, { force: true }); // no server will read the token
    const code = (err as NodeJS.ErrnoException).code;
    const kind = code === 'ENOENT' || code === 'EACCES' ? 'not-found' : 'spawn';
    throw new JupyterError(kind, `cannot start ${command}: ${(err as Error).message}${code === 'ENOENT' ? ' (the file or its #! interpreter is missing)' : ''}`);
  } finally {
    closeSync(fd); // the child holds its own copy
  }
  child.on('error', () => {}); // nothing more to report once it is running
  child.unref();

  const pid = child.pid!;
  // 'spawn' fires after exec succeeded, so setsid() has run and /proc shows the new image.
  const stat = readProcGroup(pid);
  if (!stat) {
    rmSync(configFile, { force: true });
    throw new JupyterError('exited', `Jupyter (pid ${pid}) exited at once`, await scrubbedTail(opts.logFile, [opts.token]));
  }
  return { pid, pgid: stat.pgrp, startTime: stat.startTime, configFile, command, args };
}
