// Requests the kernel or the file system can never satisfy fail once, before anything starts,
// with a message in the member's terms (never "spawn E2BIG" or an index into the agent's own argv),
// and the agent goes on with the next job.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useFreshDatabase } from './helpers/fresh-db.js';
import { AgentEnv, eventually } from './helpers/agent-env.js';
import type { JobRow } from '../src/services/store/types.js';

const db = await useFreshDatabase();
let a: AgentEnv;
let userId: string;

before(async () => {
  a = new AgentEnv(db, 'ivan', { LAB_MAX_PARALLEL: '4' });
  const r = await a.cli(['ls']); // creates ivan's users row
  assert.equal(r.code, 0, r.stderr);
  userId = (await db.admin.query("select user_id from public.users where linux_user = 'ivan'")).rows[0].user_id;
});

async function insertJob(scriptPath: string, args: string | null): Promise<string> {
  const r = await db.admin.query('insert into public.jobs (user_id, script_path, args) values ($1, $2, $3) returning job_id', [userId, scriptPath, args]);
  return r.rows[0].job_id;
}

const rows = async (ids: string[]): Promise<JobRow[]> => (await db.admin.query('select * from public.jobs where job_id = any($1)', [ids])).rows;

/** Ticks until every job has ended; returns them by id. */
async function tickUntilEnded(ids: string[], env: NodeJS.ProcessEnv = {}): Promise<Map<string, JobRow>> {
  const ended = await eventually('the jobs to end', async () => {
    const t = await a.cli(['tick'], env);
    assert.equal(t.code, 0, t.stderr);
    const r = await rows(ids);
    return r.every((j) => ['finished', 'failed', 'cancelled'].includes(j.status)) ? r : null;
  }, 180_000, 100); // seven jobs through cron-style ticks: minutes when other test files share the CPUs
  return new Map(ended.map((j) => [j.job_id, j]));
}

test('arguments the kernel cannot take, and args that look like JSON but are not, fail once and clearly', async () => {
  const echo = a.write('echo.py', 'import sys\nprint(len(sys.argv))\n');
  const nb = a.write('nb.ipynb', JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }));
  const big = 'x'.repeat(1 << 20);
  const cases: [string, () => Promise<string>, RegExp][] = [
    ['one argument over 128 KiB', () => insertJob(echo, JSON.stringify(['a', 'b', big])), /^argument 3 is 1\.0 MiB; the limit for one argument is 128 KiB/],
    ['all arguments together over the limit', () => insertJob(echo, JSON.stringify(Array.from({ length: 70 }, () => "y".repeat(100 << 10)))), /^the arguments \(6\.8 MiB\) and the environment .* are too long together: the limit on this server is \d/],
    ['a NUL byte in an argument', () => insertJob(echo, JSON.stringify(['ok', 'b\u0000c'])), /^argument 2 contains a NUL byte/],
    ['JSON that does not parse', () => insertJob(echo, '["--n", 3'), /^the arguments start with "\[" but are not valid JSON/],
    ['an object that does not parse', () => insertJob(echo, '{"n": }'), /^the arguments start with "\{" but are not valid JSON/],
    ['a notebook with arguments over 128 KiB', () => insertJob(nb, `--blob ${big}`), /^the arguments are 1\.0 MiB; a notebook gets them in the environment variable LAB_JOB_ARGS, whose limit is 128 KiB/],
  ];
  const ids: string[] = [];
  for (const [, make] of cases) ids.push(await make());
  const good = await insertJob(echo, '["fine"]');
  const byId = await tickUntilEnded([...ids, good]);
  cases.forEach(([name, , pattern], i) => {
    const j = byId.get(ids[i]!)!;
    assert.equal(j.status, 'failed', name);
    assert.match(j.error ?? '', pattern, `${name}: ${j.error}`);
    assert.doesNotMatch(j.error ?? '', /E2BIG|args\[\d+\]|could not be started after/, `${name}: no agent internals`);
    assert.equal(j.claim_count, 1, `${name}: failed once, not retried`);
    assert.equal(j.pid, null, `${name}: nothing was started`);
  });
  assert.equal(byId.get(good)!.status, 'finished', 'the next job runs');
});

test('a log folder that is a file fails the job once, in the member\'s words', async () => {
  const s = a.write('plain.py', 'print("hi")\n');
  writeFileSync(join(a.home, 'blocked_logs'), 'not a folder\n');
  const id = await insertJob(s, null);
  const byId = await tickUntilEnded([id], { LAB_LOG_DIR: join(a.home, 'blocked_logs') });
  const j = byId.get(id)!;
  assert.equal(j.status, 'failed');
  assert.match(j.error ?? '', /^~\/blocked_logs is a file, not a folder/);
  assert.equal(j.claim_count, 1);
  // With the folder back, the next job runs.
  const next = await insertJob(s, null);
  assert.equal((await tickUntilEnded([next])).get(next)!.status, 'finished');
});
