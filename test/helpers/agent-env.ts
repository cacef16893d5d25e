// A lab member's world for end-to-end tests: a temporary home with scripts in it, the real CLI
// (dist/index.cjs, what the installer's wrapper runs) run as cron or a terminal would run it,
// against a test database.
import { agentLogFile } from '../../src/services/agent/agent-process.js';
import { loadConfig } from '../../src/services/config.js';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestDb } from './db.js';
import { repoRoot } from './required.js';

export const cliPath = join(repoRoot, 'dist', 'index.cjs');
/** The tick's own entry point, which the installer's wrapper runs for `lab-agent tick` (cron). */
const tickPath = join(repoRoot, 'dist', 'tick.cjs');

export interface CliResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function databaseUrl(db: TestDb): string {
  const c = db.connection;
  return `postgres://${c.user}@localhost/${c.database}?host=${encodeURIComponent(String(c.host))}`;
}

export class AgentEnv {
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(db: TestDb, user: string, extra: NodeJS.ProcessEnv = {}) {
    this.home = mkdtempSync(join(tmpdir(), `lab-home-${user}-`));
    this.env = {
      PATH: process.env.PATH,
      HOME: this.home,
      USER: user,
      LAB_USER: user,
      LAB_DATABASE_URL: databaseUrl(db),
      LAB_HOST: 'testhost',
      LAB_KILL_GRACE_S: '1',
      LAB_EMAIL: '',
      LAB_LOG_LEVEL: 'debug',
      // Tests run as root in CI, where the agent refuses to run without it (trust-host.test.ts
      // checks the refusal itself).
      ...(process.getuid?.() === 0 ? { LAB_ALLOW_ROOT: '1' } : {}),
      ...extra,
    };
  }

  /** Writes a file under home (folders made as needed); returns its absolute path. */
  write(rel: string, content: string): string {
    const path = join(this.home, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    return path;
  }

  /** Where this member's agent writes agent.log (the agent folder when it exists, else LAB_DATA_DIR). */
  get agentLog(): string {
    return agentLogFile(loadConfig({ env: this.env }));
  }

  /**
   * Runs the CLI to its end, as the installer's wrapper runs it (`tick` through the tick's own
   * entry point, dist/tick.cjs; every other command through dist/index.cjs); never throws on a
   * non-zero exit. `input`: what it reads on stdin.
   */
  cli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000, input?: string): Promise<CliResult> {
    return args[0] === 'tick' ? this.node(tickPath, args.slice(1), env, timeoutMs, input) : this.node(cliPath, args, env, timeoutMs, input);
  }

  /** Runs a script (dist/index.cjs for `tick` too, say) to its end; never throws on a non-zero exit. */
  node(script: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000, input?: string): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = execFile(process.execPath, [script, ...args], { env: { ...this.env, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, signal: e?.signal ?? null, stdout, stderr });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  /** Runs the CLI with `input` on its stdin (answers to its questions); never throws on a non-zero exit. */
  cliWithInput(args: string[], input: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [cliPath, ...args], { env: { ...this.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, signal, stdout, stderr });
      });
      child.stdin!.end(input);
    });
  }

  /** Starts a long-running CLI command (supervise); output is collected. */
  spawn(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { output: () => string } {
    const child = spawn(process.execPath, [cliPath, ...args], { env: { ...this.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    return Object.assign(child, { output: () => out });
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value, or fails with `what` after timeoutMs. */
export async function eventually<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}
