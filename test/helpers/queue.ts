// The queue's SQL functions called as a member, the way the agent calls them (the store's
// transport), and the steps an agent takes with a job, without an agent: for tests of the rules.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { JobRow } from '../../src/services/store/types.js';
import { after, before } from 'node:test';
import { freshDatabase, makeUser, storeAs, type TestDb } from './db.js';

/** A job row with the queue's columns (until the store's row type has them). */
export type QueueJob = JobRow & {
  priority: number; seq: number; retries: number | null; attempt: number; attempts: Record<string, unknown>[];
  not_before: string | null; deps_left: number; held: boolean; sweep_id: string | null; sweep_index: number | null;
  sweep_params: Record<string, string> | null; schedule_id: string | null; scheduled_for: string | null;
  result: unknown; pending_reason: string | null;
};

export interface Member {
  id: string;
  call<T = QueueJob>(fn: string, args?: Record<string, unknown>): Promise<T>;
  submit(scriptPath: string, opts?: Record<string, unknown>): Promise<QueueJob>;
  claim(host?: string, limit?: number, defaultRetries?: number): Promise<QueueJob[]>;
  /** claimed → running, as an agent's start records it. */
  start(jobId: string): Promise<QueueJob>;
  finish(jobId: string, retcode: number, result?: unknown): Promise<QueueJob>;
  get(jobId: string): Promise<QueueJob>;
  close(): Promise<void>;
}

export function member(db: TestDb, id: string): Member {
  const store = storeAs(db, id);
  const agent = randomUUID();
  const call = <T>(fn: string, args: Record<string, unknown> = {}) => store.transport.rpc<T>(fn, args);
  return {
    id,
    call,
    submit: (scriptPath, opts = {}) => call('job_submit', { p_script_path: scriptPath, ...opts }),
    claim: (host = 'gpu1', limit = 10, defaultRetries = 0) =>
      call('job_claim', { p_agent_id: agent, p_host: host, p_limit: limit, p_default_retries: defaultRetries }),
    start: (jobId) => call('job_start', {
      p_job_id: jobId, p_agent_id: agent, p_pid: 1, p_pid_start: '1', p_interpreter: 'python3', p_command: [],
      p_log_dir: `/tmp/${jobId}`, p_stdout_path: `/tmp/${jobId}/stdout.log`, p_stderr_path: `/tmp/${jobId}/stderr.log`,
    }),
    finish: (jobId, retcode, result) => call('job_finish', { p_job_id: jobId, p_retcode: retcode, p_result: result ?? null }),
    get: (jobId) => call('job_get', { p_job_id: jobId }),
    close: () => store.close(),
  };
}

/** A connection of its own acting as the member inside an open transaction (for races). */
export async function openAs(db: TestDb, userId: string): Promise<pg.Client> {
  const c = new pg.Client(db.connection);
  await c.connect();
  await c.query('begin');
  await c.query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)",
    [JSON.stringify({ sub: userId, role: 'authenticated' })]);
  return c;
}

export const short = (id: string) => id.slice(0, 8);

/**
 * A fresh database with these members, made before the file's tests and dropped after them;
 * `take` receives them (e.g. `(x) => ({ db, alice } = x)`).
 */
export function withMembers<N extends string>(names: N[], take: (x: { db: TestDb } & Record<N, Member>) => void): void {
  let fixture: { db: TestDb } & Record<N, Member>;
  before(async () => {
    const db = await freshDatabase();
    const members = {} as Record<N, Member>;
    for (const n of names) members[n] = member(db, await makeUser(db, n));
    fixture = { db, ...members };
    take(fixture);
  });
  after(async () => {
    for (const n of names) await fixture[n].close();
    await fixture.db.drop();
  });
}
