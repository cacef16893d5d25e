// The dashboard's SQL functions on the real database: paging and filters of jobs_page, the
// inventory search, agents' liveness and the changes-since fallback, each as a member would call
// them (role authenticated with their claims), and never across members or for anon.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase, makeUser, storeAs, type TestDb } from './helpers/db.js';
import type { LabStore } from '../src/services/store/lab-store.js';

let db: TestDb;
let alice: LabStore;
let bob: LabStore;
let aliceId: string;

interface Page {
  jobs: { job_id: string; status: string; script_path: string; args: string | null; created_at: string; stdout_tail?: string }[];
  has_more: boolean;
  total: number;
  counts: Record<string, number>;
}

const page = (store: LabStore, args: Record<string, unknown> = {}) => store.transport.rpc<Page>('jobs_page', args);

before(async () => {
  db = await freshDatabase();
  aliceId = await makeUser(db, 'alice');
  const bobId = await makeUser(db, 'bob');
  alice = storeAs(db, aliceId);
  bob = storeAs(db, bobId);
  // 120 jobs over two scripts and two hosts, one second apart, some finished, some failed.
  await db.admin.query(
    `insert into public.jobs (user_id, script_path, args, host, run_host, status, created_at, error, stdout_tail)
     select $1, case when i % 2 = 0 then '/home/alice/train.py' else '/home/alice/eval_100%.py' end,
            '--n ' || i, null, case when i % 3 = 0 then 'gpu1' else 'gpu2' end,
            'pending',
            now() - (i || ' seconds')::interval, case when i % 10 = 0 then 'boom ' || i end, 'tail'
     from generate_series(1, 120) i`,
    [aliceId],
  );
  // New rows always start pending (a trigger): set the outcomes behind the functions' back.
  await db.admin.query(
    `update public.jobs set status = case when (args ~ '0$') then 'failed' else 'finished' end
     where user_id = $1 and ((substring(args from 5))::int % 10 = 0 or (substring(args from 5))::int % 4 = 0)`,
    [aliceId],
  );
  await db.admin.query("insert into public.jobs (user_id, script_path) values ($1, '/home/bob/secret.py')", [bobId]);
});
after(async () => {
  await alice.close();
  await bob.close();
  await db.drop();
});

describe('jobs_page', () => {
  test('newest first, paged by a keyset cursor with nothing skipped or repeated; list rows carry no tails', async () => {
    const seen: string[] = [];
    let cursor: Record<string, unknown> = {};
    for (let i = 0; i < 10; i++) {
      const p = await page(alice, { p_limit: 50, ...cursor });
      assert.equal(p.total, 120);
      seen.push(...p.jobs.map((j) => j.job_id));
      for (const j of p.jobs) assert.equal(j.stdout_tail, undefined);
      if (!p.has_more) break;
      const last = p.jobs.at(-1)!;
      cursor = { p_before_created: last.created_at, p_before_id: last.job_id };
    }
    assert.equal(seen.length, 120);
    assert.equal(new Set(seen).size, 120);
    const first = await page(alice, { p_limit: 3 });
    assert.deepEqual(first.jobs.map((j) => j.args), ['--n 1', '--n 2', '--n 3']);
  });

  test('filters by status, host, script and text; counts per status follow the other filters', async () => {
    const failed = await page(alice, { p_statuses: ['failed'] });
    assert.equal(failed.total, 12);
    assert.ok(failed.jobs.every((j) => j.status === 'failed'));
    assert.deepEqual(failed.counts, { failed: 12, finished: 24, pending: 84 });
    const both = await page(alice, { p_statuses: ['failed', 'finished'], p_limit: 500 });
    assert.equal(both.total, 36);
    assert.equal(both.jobs.length, 36);
    const gpu1 = await page(alice, { p_host: 'gpu1', p_limit: 500 });
    assert.equal(gpu1.total, 40);
    const train = await page(alice, { p_script: '/home/alice/train.py', p_host: 'gpu1' });
    assert.equal(train.total, 20); // even and divisible by 3
    const boom = await page(alice, { p_q: 'BOOM 11' });
    assert.deepEqual(boom.jobs.map((j) => j.args), ['--n 110']);
    // % typed by the member is a character, not a wildcard.
    const pct = await page(alice, { p_q: '100%' });
    assert.equal(pct.total, 60);
    const pctOnly = await page(alice, { p_q: '%' });
    assert.equal(pctOnly.total, 60);
    const prefix = first8(boom.jobs[0]!.job_id);
    assert.equal((await page(alice, { p_q: prefix })).jobs[0]!.job_id, boom.jobs[0]!.job_id);
  });

  test("another member sees none of my jobs, anon may not call it, and a member cannot name another's id", async () => {
    const p = await page(bob);
    assert.equal(p.total, 1);
    assert.deepEqual(p.jobs.map((j) => j.script_path), ['/home/bob/secret.py']);
    await assert.rejects(bob.transport.rpc('jobs_page', { p_user_id: aliceId }), /cannot act as/);
    const c = await db.admin.query('select 1'); // the admin connection works; anon does not
    assert.equal(c.rowCount, 1);
    await db.admin.query('begin');
    await db.admin.query("select set_config('role', 'anon', true)");
    await assert.rejects(db.admin.query('select public.jobs_page()'), /permission denied/);
    await db.admin.query('rollback');
  });

  test('facets: hosts and scripts my jobs used, most used first', async () => {
    const f = await alice.transport.rpc<{ hosts: string[]; scripts: string[] }>('jobs_facets', {});
    assert.deepEqual(f.hosts, ['gpu2', 'gpu1']);
    assert.deepEqual([...f.scripts].sort(), ['/home/alice/eval_100%.py', '/home/alice/train.py']);
    assert.deepEqual((await bob.transport.rpc<{ scripts: string[] }>('jobs_facets', {})).scripts, ['/home/bob/secret.py']);
  });
});

const first8 = (id: string) => id.slice(0, 8);

describe('scripts_search, agents_list, dashboard_changes', () => {
  test('a match in the file name ranks before one in the folder; one script by id', async () => {
    await alice.syncScripts({ upserts: [
      { path: '/home/alice/exp/train/run.py', type: 'py', size: 1, mtime: '2026-01-01T00:00:00Z' },
      { path: '/home/alice/train.py', type: 'py', size: 1, mtime: '2025-01-01T00:00:00Z' },
      { path: '/home/alice/nb/Train.ipynb', type: 'ipynb', size: 1, mtime: '2024-01-01T00:00:00Z', kernel: 'python3' },
      { path: '/home/alice/other.py', type: 'py', size: 1, mtime: '2026-02-01T00:00:00Z' },
    ], deletes: [] });
    const hits = await alice.transport.rpc<{ path: string; kernel: string | null; script_id: number }[]>('scripts_search', { p_q: 'train' });
    assert.deepEqual(hits.map((h) => h.path), ['/home/alice/train.py', '/home/alice/nb/Train.ipynb', '/home/alice/exp/train/run.py']);
    assert.equal(hits[1]!.kernel, 'python3');
    const one = await alice.transport.rpc<{ path: string }[]>('scripts_search', { p_script_id: hits[1]!.script_id });
    assert.deepEqual(one.map((h) => h.path), ['/home/alice/nb/Train.ipynb']);
    assert.deepEqual(await bob.transport.rpc('scripts_search', { p_script_id: hits[1]!.script_id }), []);
    assert.equal((await alice.transport.rpc<unknown[]>('scripts_search', {})).length, 4);
  });

  test('agents: a supervisor is alive while it heartbeats; a stopped one is not; a cron agent counts for a while', async () => {
    const sup = '11111111-1111-4111-8111-111111111111';
    const cron = '22222222-2222-4222-8222-222222222222';
    await alice.registerAgent({ agentId: sup, host: 'gpu1', version: '0.1.0', mode: 'supervise', pid: 100 });
    await alice.registerAgent({ agentId: cron, host: 'gpu2', version: '0.1.0', mode: 'tick', pid: 101 });
    await alice.heartbeatAgent({ agentId: cron, stopped: true }); // a tick stops at the end of its pass
    let list = await alice.transport.rpc<{ agent_id: string; alive: boolean; host: string }[]>('agents_list', {});
    assert.deepEqual(list.map((a) => [a.host, a.alive]).sort(), [['gpu1', true], ['gpu2', true]]);
    await alice.heartbeatAgent({ agentId: sup, stopped: true });
    await db.admin.query("update public.agents set heartbeat_at = now() - interval '10 minutes' where agent_id = $1", [cron]);
    list = await alice.transport.rpc('agents_list', {});
    assert.deepEqual(list.map((a) => [a.host, a.alive]).sort(), [['gpu1', false], ['gpu2', false]]);
    assert.deepEqual(await bob.transport.rpc('agents_list', {}), []);
  });

  test('changes since a moment: only rows updated after it, mine only', async () => {
    const { now } = await alice.transport.rpc<{ now: string }>('dashboard_changes', { p_since: new Date().toISOString() });
    const job = await alice.submitJob({ scriptPath: '/home/alice/train.py' });
    await bob.submitJob({ scriptPath: '/home/bob/secret.py' });
    const changes = await alice.transport.rpc<{ jobs: { job_id: string }[]; sessions: unknown[] }>('dashboard_changes', { p_since: now });
    assert.deepEqual(changes.jobs.map((j) => j.job_id), [job.job_id]);
  });
});
