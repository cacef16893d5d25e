// Supervise mode with the user CLI in another process, as a lab member would use it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { AgentEnv, eventually, exited, sleep } from './helpers/agent-env.js';
import type { JobRow } from '../src/services/store/types.js';
import { isSameProcess } from '../src/services/host/process-identity.js';
import { readExitRecord } from '../src/services/runner/launch.js';

let db: TestDb;
let a: AgentEnv;

before(async () => {
  db = await freshDatabase();
  a = new AgentEnv(db, 'frank', { LAB_POLL_INTERVAL_S: '60' });
});
after(async () => db.drop());

const row = async (id: string): Promise<JobRow> => (await db.admin.query('select * from public.jobs where job_id = $1', [id])).rows[0];

test('submit, wait, logs, status, ls against a running supervisor; a second one refuses', async () => {
  const sup = a.spawn(['supervise']);
  await eventually('the supervisor to register', async () => (await db.admin.query("select 1 from public.agents where mode = 'supervise' and stopped_at is null")).rowCount);
  const second = await a.cli(['supervise']);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /another lab-agent \(pid \d+\) is already running for this user on this host/);

  const hello = a.write('hello.py', 'import argparse\np = argparse.ArgumentParser(); p.add_argument("--n", type=int)\nfor i in range(p.parse_args().n): print("hello", i, flush=True)\n');
  const submitted = await a.cli(['submit', hello, '--', '--n', '3']);
  assert.equal(submitted.code, 0, submitted.stderr);
  const id = submitted.stdout.trim();
  // The polling interval is a minute: a quick end proves the wake-up (NOTIFY) path.
  const waited = await a.cli(['wait', id], {}, 20_000);
  assert.equal(waited.code, 0, waited.stderr + waited.stdout);
  assert.match(waited.stdout, /finished \(exit 0\)/);
  const logs = await a.cli(['logs', id]);
  assert.equal(logs.stdout, 'hello 0\nhello 1\nhello 2\n');
  const status = JSON.parse((await a.cli(['status', id, '--json'])).stdout);
  assert.equal(status.status, 'finished');
  const ls = await a.cli(['ls']);
  assert.match(ls.stdout, new RegExp(`${id.slice(0, 8)}\\s+finished`));

  // wait's exit code is the job's.
  const failing = a.write('fail.py', 'import sys\nsys.exit(7)\n');
  const fid = (await a.cli(['submit', failing])).stdout.trim();
  assert.equal((await a.cli(['wait', fid])).code, 7);

  // logs -f follows a running job to its end.
  const ticking = a.write('ticking.py', 'import time\nfor i in range(4):\n    print("tick", i, flush=True)\n    time.sleep(0.3)\n');
  const tid = (await a.cli(['submit', ticking])).stdout.trim();
  const followed = await a.cli(['logs', tid, '-f'], {}, 20_000);
  assert.equal(followed.stdout, 'tick 0\ntick 1\ntick 2\ntick 3\n');

  // A job's end is reported within about a second of the process exiting.
  const quick = (await a.cli(['submit', hello, '--', '--n', '1'])).stdout.trim();
  const done = await eventually('finished', async () => {
    const j = await row(quick);
    return j.status === 'finished' ? j : null;
  }, 10_000, 50);
  const exitRecord = (await readExitRecord(done.log_dir!))!;
  const lag = Date.parse(done.updated_at) - Date.parse(exitRecord.endedAt);
  assert.ok(lag < 1500, `reported ${lag} ms after the exit`);

  // Cancel through the CLI while the supervisor runs it.
  const sleeper = a.write('sleeper.py', 'import time\nprint("up", flush=True)\ntime.sleep(60)\n');
  const sid = (await a.cli(['submit', sleeper])).stdout.trim();
  await eventually('running', async () => (await row(sid)).status === 'running');
  await a.cli(['cancel', sid]);
  const cancelled = await a.cli(['wait', sid], {}, 20_000);
  assert.equal(cancelled.code, 130);
  assert.match(cancelled.stdout, /cancelled/);

  sup.kill('SIGTERM');
  assert.deepEqual(await exited(sup), { code: 0, signal: null });
});

test('SIGTERM stops the supervisor but leaves running jobs running; the next agent finishes them', async () => {
  const sup = a.spawn(['supervise']);
  const long = a.write('long.py', 'import time\ntime.sleep(2)\nprint("survived")\n');
  const id = (await a.cli(['submit', long])).stdout.trim();
  const running = await eventually('running', async () => {
    const j = await row(id);
    return j.status === 'running' ? j : null;
  });
  sup.kill('SIGTERM');
  assert.deepEqual(await exited(sup), { code: 0, signal: null });
  assert.ok(isSameProcess(running.pid!, running.pid_start), 'the job outlives the supervisor');
  const agent = (await db.admin.query("select stopped_at from public.agents where mode = 'supervise'")).rows[0];
  assert.ok(agent.stopped_at, 'the agents row says it stopped');
  await sleep(2500);
  await a.cli(['tick']);
  const j = await row(id);
  assert.equal(j.status, 'finished');
  assert.match(j.stdout_tail!, /survived/);
});
