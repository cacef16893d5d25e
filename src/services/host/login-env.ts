// The member's login environment (PATH with conda, modules, ~/.local/bin ...), which cron does not
// give: jobs, Jupyter servers and doctor's checks all look programs up in it.
import { childProcess } from './child-process.js';
import { delimiter, join } from 'node:path';
import { userInfo } from 'node:os';
import { isExecutableFile } from './executables.js';

const LOGIN_TIMEOUT_MS = 5000;
const MARKER = '\0__LAB_AGENT_ENV__\0';
const SANE_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const cache = new Map<string, Promise<Record<string, string>>>();

/** The login shell in the passwd entry (cron sets SHELL=/bin/sh, so $SHELL comes second). */
function userLoginShell(): string {
  try {
    const line = childProcess().execFileSync('getent', ['passwd', userInfo().username], { encoding: 'utf8', timeout: 2000 }).trim();
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
      child = childProcess().spawn(shell, ['-lc', `printf '\\000__LAB_AGENT_ENV__\\000'; exec env -0`], {
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
