// Dependencies in SQL (issue 17): --after waits for jobs (or a whole sweep) to finish; a failure or
// cancel cancels the dependents down the chain with the reason; --after-any starts whatever the
// outcome; a dependency that ends while the dependent is being submitted is never missed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDb } from './helpers/db.js';
import { withMembers, openAs, short, type Member, type QueueJob } from './helpers/queue.js';

let db: TestDb;
let alice: Member;
let bob: Member;

withMembers(['alice', 'bob'], (x) => ({ db, alice, bob } = x));

const ids = (rows: QueueJob[]) => rows.map((r) => r.job_id);

describe('dependencies', () => {
  test('a chain a → b → c where b fails: c is cancelled with the reason, and nothing starts early', async () => {
    const a = await alice.submit('/home/alice/a.py');
    const b = await alice.submit('/home/alice/b.py', { p_after: [a.job_id] });
    const c = await alice.submit('/home/alice/c.py', { p_after: [b.job_id] });
    assert.equal(b.status, 'pending');
    assert.equal(b.pending_reason, `waiting for job ${short(a.job_id)} to finish`);
    assert.equal(c.pending_reason, `waiting for job ${short(b.job_id)} to finish`);
    assert.deepEqual(ids(await alice.claim()), [a.job_id], 'only a can start');
    await alice.start(a.job_id);
    assert.equal((await alice.finish(a.job_id, 0)).status, 'finished');
    const bReady = await alice.get(b.job_id);
    assert.equal(bReady.deps_left, 0);
    assert.equal(bReady.pending_reason, null);
    assert.deepEqual(ids(await alice.claim()), [b.job_id], 'b starts once a finished; c still waits');
    await alice.start(b.job_id);
    assert.equal((await alice.finish(b.job_id, 3)).status, 'failed');
    const cEnd = await alice.get(c.job_id);
    assert.equal(cEnd.status, 'cancelled');
    assert.equal(cEnd.error, `cancelled: job ${short(b.job_id)}, which it waits for, failed (exit code 3)`);
    assert.equal(cEnd.pending_reason, null);
    assert.ok(cEnd.finished_at, 'its end is recorded, so its email goes out');
    const events = await db.admin.query('select from_status, to_status, detail from public.lifecycle_events where subject_id = $1 order by event_id', [c.job_id]);
    assert.deepEqual(events.rows.map((e) => [e.from_status, e.to_status]), [[null, 'pending'], ['pending', 'cancelled']]);
    assert.equal(events.rows[1].detail.after, b.job_id);
    assert.deepEqual(await alice.claim(), []);
  });

  test('--after-any starts when its dependency ended, however it ended', async () => {
    const a = await alice.submit('/home/alice/a.py');
    const b = await alice.submit('/home/alice/b.py', { p_after: [a.job_id], p_after_any: true });
    const c = await alice.submit('/home/alice/c.py', { p_after: [a.job_id] });
    assert.deepEqual(ids(await alice.claim()), [a.job_id]);
    await alice.start(a.job_id);
    await alice.finish(a.job_id, 1);
    assert.equal((await alice.get(c.job_id)).status, 'cancelled');
    assert.deepEqual(ids(await alice.claim()), [b.job_id]);
    await alice.call('job_release', { p_job_id: b.job_id, p_reason: 'test over', p_max_claims: 1 });
  });

  test('a cancel cascades through a long chain in one statement, and the cause comes first in the history', async () => {
    const root = await alice.submit('/home/alice/root.py');
    let prev = root;
    const chain: QueueJob[] = [];
    for (let i = 0; i < 300; i++) {
      prev = await alice.submit('/home/alice/step.py', { p_args: String(i), p_after: [prev.job_id] });
      chain.push(prev);
    }
    await alice.call('job_request_cancel', { p_job_id: root.job_id });
    const statuses = await db.admin.query('select status, count(*)::int as n from public.jobs where job_id = any($1) group by status', [ids(chain)]);
    assert.deepEqual(statuses.rows, [{ status: 'cancelled', n: 300 }]);
    const last = await alice.get(chain.at(-1)!.job_id);
    assert.equal(last.error, `cancelled: job ${short(chain.at(-2)!.job_id)}, which it waits for, was cancelled because job ${short(root.job_id)} was cancelled`);
    const order = await db.admin.query(
      "select subject_id from public.lifecycle_events where to_status = 'cancelled' and subject_id = any($1) order by event_id limit 1",
      [[root.job_id, ...ids(chain)]]);
    assert.equal(order.rows[0].subject_id, root.job_id);
  });

  test('after a whole sweep: waits for every cell, says how many are left', async () => {
    const sweep = (await alice.call<{ sweep: { sweep_id: string }; jobs: { job_id: string }[] }>('sweep_submit', {
      p_script_path: '/home/alice/train.py',
      p_cells: [{ args: '--lr 1', params: { lr: '1' } }, { args: '--lr 2', params: { lr: '2' } }],
    }));
    const report = await alice.submit('/home/alice/report.py', { p_after: [sweep.sweep.sweep_id] });
    assert.equal(report.deps_left, 2);
    assert.equal(report.pending_reason, `waiting for sweep ${short(sweep.sweep.sweep_id)} to finish (2 of 2 jobs left)`);
    const claimed = await alice.claim('gpu1', 2);
    assert.deepEqual(ids(claimed).sort(), sweep.jobs.map((j) => j.job_id).sort());
    await alice.start(claimed[0]!.job_id);
    await alice.finish(claimed[0]!.job_id, 0);
    assert.equal((await alice.get(report.job_id)).pending_reason, `waiting for sweep ${short(sweep.sweep.sweep_id)} to finish (1 of 2 jobs left)`);
    await alice.start(claimed[1]!.job_id);
    await alice.finish(claimed[1]!.job_id, 0);
    assert.deepEqual(ids(await alice.claim()), [report.job_id]);
    await alice.call('job_release', { p_job_id: report.job_id, p_reason: 'test over', p_max_claims: 1 });
  });

  test('a dependency that already failed cancels at once; --after-any does not wait for ended ones', async () => {
    const bad = await alice.submit('/home/alice/bad.py');
    await alice.call('job_request_cancel', { p_job_id: bad.job_id });
    const late = await alice.submit('/home/alice/late.py', { p_after: [bad.job_id] });
    assert.equal(late.status, 'cancelled');
    assert.equal(late.error, `cancelled: job ${short(bad.job_id)}, which it waits for, was cancelled`);
    const any = await alice.submit('/home/alice/any.py', { p_after: [bad.job_id], p_after_any: true });
    assert.equal(any.deps_left, 0);
    assert.equal(any.pending_reason, null);
    await alice.call('job_request_cancel', { p_job_id: any.job_id });
  });

  test('only my own existing jobs can be named, so no cycle can be made', async () => {
    const mine = await alice.submit('/home/alice/a.py');
    await assert.rejects(bob.submit('/home/bob/x.py', { p_after: [mine.job_id] }), /no job or sweep .* among yours/);
    await assert.rejects(alice.submit('/home/alice/x.py', { p_after: ['not-an-id'] }), /not a job or sweep id/);
    await assert.rejects(alice.submit('/home/alice/x.py', { p_after: ['00000000-0000-4000-8000-000000000000'] }), /no job or sweep/);
    // Dependencies are fixed at submission: nobody can add one to an existing job.
    const direct = await openAs(db, alice.id);
    await assert.rejects(direct.query('insert into public.job_deps (job_id, after_job_id, user_id) values ($1, $1, $2)', [mine.job_id, alice.id]), /permission denied/);
    await direct.end();
    await alice.call('job_request_cancel', { p_job_id: mine.job_id });
  });

  test('a dependency ending while the dependent is being submitted is seen (no job left waiting forever)', async () => {
    for (let round = 0; round < 5; round++) {
      const dep = await alice.submit('/home/alice/dep.py');
      const [claimed] = await alice.claim();
      assert.equal(claimed!.job_id, dep.job_id);
      await alice.start(dep.job_id);
      // The dependency's end is under way (its row locked, not yet committed) while the dependent is submitted.
      const ender = await openAs(db, alice.id);
      await ender.query('select public.job_finish($1, $2)', [dep.job_id, round % 2]);
      const submitted = alice.submit('/home/alice/next.py', { p_after: [dep.job_id], p_after_any: true });
      await new Promise((r) => setTimeout(r, 50));
      await ender.query('commit');
      await ender.end();
      const next = await submitted;
      assert.equal(next.deps_left, 0, 'the dependency was seen as ended');
      assert.deepEqual(ids(await alice.claim()), [next.job_id]);
      await alice.call('job_release', { p_job_id: next.job_id, p_reason: 'test over', p_max_claims: 1 });
    }
  });
});
