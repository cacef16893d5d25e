import { spawn, execFileSync } from 'node:child_process';
import { accessSync, statSync, constants as fsc } from 'node:fs';
import { dirname, join, delimiter, resolve, relative, isAbsolute } from 'node:path';
import { userInfo } from 'node:os';
import { JobInputError } from './errors.js';

export type InterpreterSource = 'LAB_PYTHON' | 'LAB_JUPYTER' | 'venv' | 'login PATH' | '~/.local/bin';

export interface FoundInterpreter {
  path: string;
  source: InterpreterSource;
}

export interface FindOptions {
  /** The user's home: the venv search stops there. */
  home: string;
  /** The environment whose PATH is searched: the user's login environment, not cron's. */
  env: Record<string, string | undefined>;
}

/** An executable regular file (following symlinks, as exec does). */
export function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `which`: the first executable `name` on `pathVar`. */
export function whichIn(name: string, pathVar: string | undefined): string | null {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue; // relative PATH entries would depend on the job's cwd
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * `<dir>/.venv/bin/<exe>` or `<dir>/venv/bin/<exe>` in the start folder or any parent up to and
 * including home. The venv path is returned unresolved: a venv's python is usually a symlink to
 * the system one, and only the venv path activates the venv's site-packages.
 */
export function findVenvExecutable(startDir: string, home: string, exe: string): string | null {
  const top = resolve(home);
  let dir = resolve(startDir);
  if (!isInside(dir, top)) return null;
  for (;;) {
    for (const venv of ['.venv', 'venv']) {
      const candidate = join(dir, venv, 'bin', exe);
      if (isExecutableFile(candidate)) return candidate;
    }
    if (dir === top) return null;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

function explicit(value: string, varName: 'LAB_PYTHON' | 'LAB_JUPYTER'): FoundInterpreter {
  if (!isAbsolute(value)) {
    throw new JobInputError(`${varName} must be an absolute path; it is "${value}". Set it in the agent's .env to e.g. /home/you/miniconda3/bin/${varName === 'LAB_PYTHON' ? 'python' : 'jupyter'}.`);
  }
  if (!isExecutableFile(value)) {
    throw new JobInputError(`${varName} is set to ${value}, which does not exist or is not executable. Fix or remove ${varName} in the agent's .env.`);
  }
  return { path: value, source: varName };
}

/** LAB_PYTHON, else a venv beside the script or above it (up to home), else python3 on the login PATH. */
export function findPython(scriptPath: string, opts: FindOptions & { labPython?: string | undefined }): FoundInterpreter {
  if (opts.labPython) return explicit(opts.labPython, 'LAB_PYTHON');
  const venv = findVenvExecutable(dirname(scriptPath), opts.home, 'python');
  if (venv) return { path: venv, source: 'venv' };
  const onPath = whichIn('python3', opts.env.PATH);
  if (onPath) return { path: onPath, source: 'login PATH' };
  throw new JobInputError(
    `No Python found for ${scriptPath}: no .venv/ or venv/ beside it or in a parent folder up to your home, ` +
      `and no python3 on your login shell's PATH. Set LAB_PYTHON=/path/to/python in the agent's .env, ` +
      `create a venv (python3 -m venv .venv) next to the script, or ask your admin to install python3.`,
  );
}

/** LAB_JUPYTER, else a venv's jupyter near the notebook, else jupyter on the login PATH or in ~/.local/bin. */
export function findJupyter(nearPath: string, opts: FindOptions & { labJupyter?: string | undefined }): FoundInterpreter {
  if (opts.labJupyter) return explicit(opts.labJupyter, 'LAB_JUPYTER');
  const venv = findVenvExecutable(dirname(nearPath), opts.home, 'jupyter');
  if (venv) return { path: venv, source: 'venv' };
  const onPath = whichIn('jupyter', opts.env.PATH);
  if (onPath) return { path: onPath, source: 'login PATH' };
  // pip install --user puts it here, and ~/.profile adds it to PATH only if it existed at login
  const userBin = join(opts.home, '.local', 'bin', 'jupyter');
  if (isExecutableFile(userBin)) return { path: userBin, source: '~/.local/bin' };
  throw new JobInputError(
    `No Jupyter found to run ${nearPath}: none in a .venv/ or venv/ near it, on your login shell's PATH, or in ~/.local/bin. ` +
      `Install it with: python3 -m pip install --user jupyterlab nbconvert ipykernel ` +
      `(or into the notebook's venv), or set LAB_JUPYTER=/path/to/jupyter in the agent's .env.`,
  );
}

// ---------------------------------------------------------------------------------------------
// The login environment

const LOGIN_TIMEOUT_MS = 5000;
const MARKER = '\0__LAB_AGENT_ENV__\0';
const SANE_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const cache = new Map<string, Promise<Record<string, string>>>();

/** The login shell in the passwd entry (cron sets SHELL=/bin/sh, so $SHELL comes second). */
export function userLoginShell(): string {
  try {
    const line = execFileSync('getent', ['passwd', userInfo().username], { encoding: 'utf8', timeout: 2000 }).trim();
    const shell = line.split(':')[6];
    if (shell && isExecutableFile(shell) && !/nologin|false$/.test(shell)) return shell;
  } catch {
    // no getent (or no entry): fall through
  }
  const fromEnv = process.env.SHELL;
  if (fromEnv && isExecutableFile(fromEnv)) return fromEnv;
  return '/bin/bash';
}

/**
 * The environment the user gets on login (their PATH with conda, modules, ~/.local/bin ...),
 * read once per process by running `<shell> -lc 'env -0'`; on failure or timeout, this
 * process's environment with the usual system folders added to PATH.
 */
export function loginEnvironment(home: string, shell?: string): Promise<Record<string, string>> {
  const sh = shell ?? userLoginShell();
  const key = `${home}\0${sh}`;
  let p = cache.get(key);
  if (!p) {
    p = readLoginEnv(home, sh).then((env) => env ?? fallbackEnv(home));
    cache.set(key, p);
  }
  return p;
}

/** Forget cached login environments (tests, or after the user edits their profile). */
export function clearLoginEnvironmentCache(): void {
  cache.clear();
}

export function fallbackEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const parts = (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const d of [join(home, '.local', 'bin'), ...SANE_PATH]) if (!parts.includes(d)) parts.push(d);
  env.PATH = parts.join(delimiter);
  env.HOME = home;
  return env;
}

function readLoginEnv(home: string, shell: string): Promise<Record<string, string> | null> {
  return new Promise((done) => {
    const base: Record<string, string> = { HOME: home, SHELL: shell, PATH: SANE_PATH.join(delimiter) };
    for (const k of ['USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ']) if (process.env[k]) base[k] = process.env[k]!;
    let child;
    try {
      // The marker skips anything the profile itself prints on stdout.
      child = spawn(shell, ['-lc', `printf '\\000__LAB_AGENT_ENV__\\000'; exec env -0`], {
        cwd: home,
        env: base,
        stdio: ['ignore', 'pipe', 'ignore'],
        detached: true, // own group, so a timeout kills whatever the profile started too
      });
    } catch {
      done(null);
      return;
    }
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!ok && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      child.stdout?.destroy();
      done(ok ? parseEnv0(Buffer.concat(chunks).toString('utf8')) : null);
    };
    const timer = setTimeout(() => finish(false), LOGIN_TIMEOUT_MS);
    child.stdout!.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', () => finish(false));
    // 'close' waits for stdout to end; a daemon started by the profile may hold it open, so
    // after 'exit' give the pipe a moment and then take what arrived.
    child.on('close', (code) => finish(code === 0));
    child.on('exit', (code) => {
      if (code !== 0) return;
      setTimeout(() => finish(true), 200).unref();
    });
  });
}

function parseEnv0(out: string): Record<string, string> | null {
  const at = out.lastIndexOf(MARKER);
  if (at < 0) return null;
  const env: Record<string, string> = {};
  for (const entry of out.slice(at + MARKER.length).split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  delete env._; // the shell's "last command", meaningless for the job
  if (!env.PATH) return null;
  return env;
}
