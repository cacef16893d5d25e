// What an agent costs a hosted project (issue 13's load goals: an idle member ≤ 60 requests an
// hour, one short job ≤ 10), counted as requests on the PostgREST/GoTrue layer over the real SQL.
// Counts, not timings: each test arranges that only the work under test can send anything
// (a supervisor polling once an hour, an inventory that is or is not due), then names every
// request. bench/supabase-load.ts measures the same per hour; BENCHMARKS.md has the figures.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentEnv, eventually, exited, sleep } from './helpers/agent-env.js';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { startSmtp, type TestSmtp } from './helpers/smtp.js';
import { startSupabaseLayer, type SupabaseLayer } from './helpers/supabase/layer.js';
import { hostFileName } from '../src/services/names.js';

let db: TestDb;
let layer: SupabaseLayer;
let smtp: TestSmtp;
let email: string;

before(async () => {
  db = await freshDatabase();
  layer = await startSupabaseLayer({ connection: db.connection });
  smtp = await startSmtp();
});
after(async () => {
  await layer?.close();
  await smtp?.close();
  await db?.drop();
});

/** A signed-in member whose supervisor polls once per `pollS` (3600: never within a test, so only wake-ups and the work count). */
async function member(name: string, pollS: number): Promise<AgentEnv> {
  email = `${name}-${process.pid}@lab.example`;
  await layer.createUser(email, 'pw');
  const a = new AgentEnv(db, name, {
    LAB_DATABASE_URL: '', SUPABASE_URL: layer.url, SUPABASE_ANON_KEY: layer.anonKey, LAB_POLL_INTERVAL_S: String(pollS),
    LAB_EMAIL: email, SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port),
  });
  const login = await a.cli(['login', '--password', '--email', email], {}, 30_000, 'pw\n');
  assert.equal(login.code, 0, login.stderr);
  return a;
}

/** The API requests (by function or endpoint name) from index `from` on. */
const sent = (from: number): string[] => layer.requests.slice(from).filter((r) => !r.path.startsWith('/realtime/')).map((r) => r.name);
const sorted = (names: string[]) => [...names].sort();

/** agents_list for a member, as the service key calls it through the layer. */
async function agentsList(linuxUser: string): Promise<{ mode: string; alive: boolean }[]> {
  const uid = (await db.admin.query('select user_id from public.users where linux_user = $1', [linuxUser])).rows[0].user_id as string;
  const r = await fetch(`${layer.url}/rest/v1/rpc/agents_list`, {
    method: 'POST', headers: { apikey: layer.serviceKey, authorization: `Bearer ${layer.serviceKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ p_user_id: uid }),
  });
  assert.equal(r.status, 200);
  return (await r.json()) as { mode: string; alive: boolean }[];
}

/** Makes the next tick's scheduled inventory sync due (as if SYNC_INTERVAL_MIN had passed). */
const syncState = (a: AgentEnv) => join(a.home, '.local', 'share', 'lab-job-agent', `inventory-sync-${hostFileName('testhost')}.json`);

function inventoryDue(a: AgentEnv): void {
  const file = syncState(a);
  const state = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const long = new Date(Date.now() - 24 * 3600_000).toISOString();
  writeFileSync(file, JSON.stringify({ ...state, lastSyncAt: long, lastAttemptAt: long }));
}

test('an idle cron tick is one request (agent_poll), the inventory included; it shows the agent alive', async () => {
  const a = await member('cron', 3600);
  a.write('train.py', 'print("x")\n');
  assert.equal((await a.cli(['tick'])).code, 0); // the first: the inventory's first read and write

  let from = layer.requests.length;
  assert.equal((await a.cli(['tick'])).code, 0);
  assert.deepEqual(sent(from), ['agent_poll']);
  const agents = (await agentsList('cron')).map((x) => ({ mode: x.mode, alive: x.alive }));
  assert.deepEqual(agents, [{ mode: 'tick', alive: true }], 'a cron agent is alive by its last poll (no closing heartbeat)');

  // The scheduled inventory sync with nothing changed compares with the rows it keeps: no request.
  inventoryDue(a);
  from = layer.requests.length;
  assert.equal((await a.cli(['tick'])).code, 0);
  assert.deepEqual(sent(from), ['agent_poll']);

  // A new script: the sync reads the database's rows and writes the difference.
  a.write('eval.py', 'print("y")\n');
  inventoryDue(a);
  from = layer.requests.length;
  assert.equal((await a.cli(['tick'])).code, 0);
  assert.deepEqual(sent(from), ['agent_poll', 'scripts_for_sync_pieces', 'scripts_sync']);
  const paths = (await a.cli(['scripts', '--json'])).stdout;
  assert.match(paths, /eval\.py/);
  assert.match(paths, /train\.py/);
});

test('one short job end to end (CLI submit → supervisor → email → notified) is 9 requests; nothing while it runs or after', async () => {
  const a = await member('short', 3600);
  assert.equal((await a.cli(['tick'])).code, 0); // users row, agent id, inventory: not the job's
  const script = a.write('short.py', 'import time\ntime.sleep(1)\nprint("done")\n');

  const from = layer.requests.length;
  const s = await a.cli(['submit', script, '--json']);
  assert.equal(s.code, 0, s.stderr);
  const id = JSON.parse(s.stdout).job_id as string;
  // The CLI: its users row, the script's inventory row (the job names it), the job.
  assert.deepEqual(sorted(sent(from)), ['job_submit', 'scripts_sync', 'user_ensure']);

  // Started after the submit, so its start-up poll finds the job (Realtime's websocket is
  // refused here; on a project its wake-up starts the same one poll).
  const sup = a.spawn(['supervise']);
  try {
    await eventually('notified', async () => (await db.admin.query('select 1 from public.jobs where job_id = $1 and notified_at is not null', [id])).rowCount, 60_000, 100);
    await sleep(2000); // anything the supervisor still sends about it, and its idle time (no poll due for an hour)
    // Only a machine so loaded that the 1 s job runs for 5 or 10 s adds to these: its tails
    // (job_heartbeat every 5 s) and, Realtime being down here, a poll every 10 s for a cancel.
    const names = sent(from);
    const polls = names.filter((n) => n === 'agent_poll').length;
    const runFor = Number((await db.admin.query('select extract(epoch from finished_at - started_at) as s from public.jobs where job_id = $1', [id])).rows[0].s);
    assert.ok(polls >= 1 && polls <= 1 + Math.ceil(runFor / 10), `${polls} polls for a job that ran ${runFor} s`);
    assert.deepEqual(sorted(names.filter((n) => n !== 'job_heartbeat' && n !== 'agent_poll')), sorted([
      'user_ensure', 'scripts_sync', 'job_submit', // the CLI
      'user_ensure', 'agent_register', // the supervisor's start (not per job)
      'job_claim', 'job_start', 'job_finish', 'job_notify_begin', 'job_mark_notified', // and one agent_poll: 9 for the job
    ]));
    assert.equal(smtp.received.filter((m) => m.rcptTo.includes(email)).length, 1, 'the email went');
  } finally {
    sup.kill('SIGTERM');
    assert.deepEqual(await exited(sup), { code: 0, signal: null });
  }
});

test('an idle supervisor sends one agent_poll per interval and nothing else; agents_list holds it alive for 2.5 intervals', async () => {
  const a = await member('idle', 2);
  const sup = a.spawn(['supervise']);
  try {
    await eventually('registered', async () => (await db.admin.query("select 1 from public.agents where mode = 'supervise' and stopped_at is null and heartbeat_every_s = 2")).rowCount, 60_000);
    // Its start-up: the inventory's first sync (reads the rows once; later ones compare with the rows it keeps).
    await eventually('the first inventory sync', async () => existsSync(syncState(a)), 60_000);
    const from = layer.requests.length;
    await sleep(7000);
    const names = sent(from);
    assert.ok(names.length >= 2, `polls in 7 s at a 2 s interval: ${names.length}`);
    assert.deepEqual([...new Set(names)], ['agent_poll']);
  } finally {
    sup.kill('SIGTERM');
    assert.deepEqual(await exited(sup), { code: 0, signal: null });
  }
  // The liveness rule: a supervisor promising a 600 s poll is alive 1000 s after its last one, not 1600 s.
  const mine = "user_id = (select user_id from public.users where linux_user = 'idle')";
  await db.admin.query(`update public.agents set stopped_at = null, heartbeat_every_s = 600, heartbeat_at = now() - interval '1000 seconds' where ${mine}`);
  const alive = async () => (await agentsList('idle'))[0]!.alive;
  assert.equal(await alive(), true);
  await db.admin.query(`update public.agents set heartbeat_at = now() - interval '1600 seconds' where ${mine}`);
  assert.equal(await alive(), false);
});

test("a retry's due time wakes the supervisor by itself: one poll then, not an interval later", async () => {
  const a = await member('retry', 3600);
  const once = a.write('once.py', 'import os, sys\nmark = os.path.expanduser("~/ran-once")\nif not os.path.exists(mark):\n    open(mark, "w").close()\n    sys.exit(3)\nprint("second time")\n');
  const s = await a.cli(['submit', once, '--retries', '1', '--retry-delay', '3s', '--json']);
  assert.equal(s.code, 0, s.stderr);
  const id = JSON.parse(s.stdout).job_id as string;
  const sup = a.spawn(['supervise']);
  try {
    // The first attempt fails and goes back to the queue until not_before; no wake-up comes
    // (Realtime is refused here) and the interval is an hour: only the poll's next_wake_at brings it back.
    const done = await eventually('the retry finished', async () => {
      const j = (await db.admin.query('select status, attempt from public.jobs where job_id = $1', [id])).rows[0];
      return j.status === 'finished' ? j : null;
    }, 60_000, 200);
    assert.equal(done.attempt, 2);
  } finally {
    sup.kill('SIGTERM');
    assert.deepEqual(await exited(sup), { code: 0, signal: null });
  }
});

test('with Realtime down, a cancel of a running job is seen by a poll within seconds (the interval is an hour)', async () => {
  const a = await member('cancel', 3600);
  const sleeper = a.write('sleeper.py', 'import time\nprint("up", flush=True)\ntime.sleep(120)\n');
  const s = await a.cli(['submit', sleeper, '--json']);
  assert.equal(s.code, 0, s.stderr);
  const id = JSON.parse(s.stdout).job_id as string;
  const sup = a.spawn(['supervise']); // its start-up poll finds the job
  try {
    await eventually('running', async () => (await db.admin.query("select 1 from public.jobs where job_id = $1 and status = 'running'", [id])).rowCount, 60_000, 200);
    assert.equal((await a.cli(['cancel', id])).code, 0);
    // No wake-up can come (the layer refuses Realtime's websocket): the agent knows, and polls every 10 s while jobs run.
    await eventually('cancelled', async () => (await db.admin.query("select 1 from public.jobs where job_id = $1 and status = 'cancelled'", [id])).rowCount, 60_000, 200);
  } finally {
    sup.kill('SIGTERM');
    assert.deepEqual(await exited(sup), { code: 0, signal: null });
  }
});
