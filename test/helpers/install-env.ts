// What the installer suite needs from the machine: real Linux users (useradd, as root in CI), a git
// repository holding the working tree as it is now (so the installer installs the code under test,
// committed or not), commands run as a user with a bare environment, and a terminal (tmux) to type
// answers into. Everything made here is removed again: users with their homes and crontabs, and
// their processes, each stopped by its pid.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './required.js';
import { addLinuxUser, deleteLinuxUser, killUserProcesses } from './linux-users.js';

export const nodeDir = dirname(process.execPath);

export function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface TestUser {
  name: string;
  home: string;
  uid: number;
  /** This user's own copy of the repository snapshot (git refuses repositories owned by others). */
  repo: string;
  /** This user's npm cache, seeded from ours so `npm ci` needs little from the registry. */
  cache: string;
}

export interface Run {
  code: number | null;
  out: string;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'safe.directory=*', '-c', 'user.name=test', '-c', 'user.email=test@lab.example', ...args], { cwd, encoding: 'utf8' });

/** A commit of the working tree: tracked and untracked files that git does not ignore. */
function snapshotRepo(into: string): string {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && existsSync(join(repoRoot, f)) && statSync(join(repoRoot, f)).isFile());
  mkdirSync(into, { recursive: true });
  for (const f of new Set(files)) {
    mkdirSync(dirname(join(into, f)), { recursive: true });
    cpSync(join(repoRoot, f), join(into, f), { preserveTimestamps: true });
  }
  git(into, 'init', '--quiet', '--initial-branch=main');
  git(into, 'add', '-A');
  git(into, 'commit', '--quiet', '-m', 'snapshot of the working tree');
  return into;
}

/** Adds a commit to a user's copy of the repository (as its owner would), returns the new HEAD. */
export function commitTo(user: TestUser, file: string, content: string): string {
  execFileSync('runuser', ['-u', user.name, '--', 'sh', '-c', `printf '%s\\n' "$1" > "$2"`, 'sh', content, join(user.repo, file)]);
  const run = (...args: string[]) => execFileSync('runuser', ['-u', user.name, '--', 'git', '-C', user.repo, '-c', 'user.name=test', '-c', 'user.email=t@lab.example', ...args], { encoding: 'utf8' });
  run('add', file);
  run('commit', '--quiet', '-m', `add ${file}`);
  return run('rev-parse', 'HEAD').trim();
}

export class InstallWorld {
  readonly work = mkdtempSync('/tmp/lab-install-');
  readonly users: TestUser[] = [];
  private snapshot: string | null = null;
  private readonly tmuxSockets: string[] = [];

  constructor() {
    chmodSync(this.work, 0o755); // the test users read their repository copies from here
  }

  makeUser(tag: string): TestUser {
    this.snapshot ??= snapshotRepo(join(this.work, 'snapshot'));
    const { name, home, uid } = addLinuxUser('labi', tag);
    const repo = join(this.work, `repo-${name}`);
    cpSync(this.snapshot, repo, { recursive: true });
    const cache = join(this.work, `npm-cache-${name}`);
    const ours = execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim();
    if (existsSync(join(ours, '_cacache'))) cpSync(join(ours, '_cacache'), join(cache, '_cacache'), { recursive: true });
    mkdirSync(cache, { recursive: true });
    execFileSync('chown', ['-R', `${name}:`, repo, cache]);
    const user = { name, home, uid, repo, cache };
    this.users.push(user);
    return user;
  }

  /** The bare environment a login would give, plus npm's cache settings and `extra`. */
  env(u: TestUser, extra: Record<string, string> = {}): string[] {
    const base: Record<string, string> = {
      HOME: u.home, USER: u.name, LOGNAME: u.name, SHELL: '/bin/bash', LANG: 'C.UTF-8',
      PATH: `${nodeDir}:/usr/bin:/bin`, npm_config_cache: u.cache, npm_config_prefer_offline: 'true', ...extra,
    };
    return Object.entries(base).map(([k, v]) => `${k}=${v}`);
  }

  /** Runs argv as the user in its own session (no controlling terminal), with exactly `env`. */
  runAs(u: TestUser, argv: string[], env: string[], input = '', timeoutMs = 300_000): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn('runuser', ['-u', u.name, '--', 'env', '-i', ...env, ...argv], { cwd: this.work, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
      // A command that never reads stdin may be gone before it is written to (EPIPE): not an error.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    });
  }

  crontab(u: TestUser): string {
    try {
      return execFileSync('crontab', ['-u', u.name, '-l'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      return '';
    }
  }

  setCrontab(u: TestUser, text: string): void {
    execFileSync('crontab', ['-u', u.name, '-'], { input: text });
  }

  /** A terminal running `command` (a shell line) in a private tmux server. */
  tmux(command: string): Tmux {
    const socket = join(this.work, `tmux-${this.tmuxSockets.length}`);
    this.tmuxSockets.push(socket);
    const t = (...args: string[]) => execFileSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
    t('new-session', '-d', '-s', 'install', '-x', '200', '-y', '50', command);
    t('set-option', '-t', 'install', 'history-limit', '20000');
    return {
      screen: () => t('capture-pane', '-p', '-J', '-t', 'install', '-S', '-20000'),
      type: (text: string) => {
        if (text) t('send-keys', '-t', 'install', '-l', text);
        t('send-keys', '-t', 'install', 'Enter');
      },
    };
  }

  async cleanup(): Promise<void> {
    for (const socket of this.tmuxSockets) {
      try {
        execFileSync('tmux', ['-S', socket, 'kill-server'], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
    for (const u of this.users) {
      // The local database first, the clean way, when the user's agent is still installed.
      const stop = join(u.home, 'lab_job_agent', 'dist', 'services', 'store', 'local-postgres.js');
      if (existsSync(stop)) {
        await this.runAs(u, [process.execPath, '-e', 'import(process.argv[1]).then((m) => m.stopLocalPostgres(process.argv[2]))', `file://${stop}`, join(u.home, '.local/share/lab-job-agent')], this.env(u), '', 30_000);
      }
      killUserProcesses(u.name); // what is left (its local database, a job)
      await new Promise((r) => setTimeout(r, 200));
      try {
        execFileSync('crontab', ['-u', u.name, '-r'], { stdio: 'ignore' });
      } catch {
        /* no crontab */
      }
      deleteLinuxUser(u.name);
    }
    rmSync(this.work, { recursive: true, force: true });
  }
}

export interface Tmux {
  screen(): string;
  /** Types text (literally) and presses Enter. */
  type(text: string): void;
}
