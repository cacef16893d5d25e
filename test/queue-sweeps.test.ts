// Sweeps in SQL (issue 17): one submission, one job per cell; at most max_parallel of them claimed
// or running at once, even with agents racing; each cell's result on its row; one email for the
// sweep when its last cell ends; cancel of what has not ended.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { TestDb } from './helpers/db.js';
import { member, withMembers, short, type Member, type QueueJob } from './helpers/queue.js';

let db: TestDb;
let alice: Member;

interface Cell { job_id: string; sweep_index: number; params: Record<string, string>; status: string; retcode: number | null; result: unknown; pending_reason: string | null }
interface SweepView { sweep: { sweep_id: string; finished_at: string | null; notified_at: string | null; counts: Record<string, number> }; jobs: Cell[] }

withMembers(['alice'], (x) => ({ db, alice } = x));

function grid(lrs: string[], seeds: string[]) {
  return lrs.flatMap((lr) => seeds.map((seed) => ({ args: `--lr ${lr} --seed ${seed} --epochs 10`, params: { lr, seed } })));
}

const submitSweep = (extra: Record<string, unknown> = {},
  cells: { args: string; params: Record<string, string> }[] = grid(['0.1', '0.01', '0.001'], ['1', '2', '3'])) =>
  alice.call<SweepView>('sweep_submit', {
    p_script_path: '/home/alice/train.py', p_cells: cells, p_args: '--epochs 10',
    p_axes: [{ name: 'lr', values: ['0.1', '0.01', '0.001'] }, { name: 'seed', values: ['1', '2', '3'] }], ...extra,
  });

// Cells that hold a place of the sweep: claimed or running, or pending and released (not held).
const placesTaken = async (sweepId: string, q: Pick<pg.Pool, 'query'> = db.admin) =>
  Number((await q.query("select count(*) from public.jobs where sweep_id = $1 and (status in ('claimed', 'running') or (status = 'pending' and not held))", [sweepId])).rows[0].count);

describe('sweeps', () => {
  test('a 3×3 sweep with max-parallel 2: nine jobs in grid order, two at a time, one email at the end', async () => {
    const { sweep, jobs } = await submitSweep({ p_max_parallel: 2 });
    assert.equal(jobs.length, 9);
    assert.deepEqual(jobs.map((j) => j.sweep_index), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(jobs[4]!.params, { lr: '0.01', seed: '2' });
    assert.equal((await alice.get(jobs[4]!.job_id)).args, '--lr 0.01 --seed 2 --epochs 10');
    assert.equal(jobs[2]!.pending_reason, `sweep ${short(sweep.sweep_id)} at its limit of 2 running`);
    assert.equal(jobs[0]!.pending_reason, null);
    const seen: string[] = [];
    let running: QueueJob[] = await alice.claim('gpu1', 10);
    assert.equal(running.length, 2, 'the claim takes two, however many slots the agent has');
    let i = 0;
    while (running.length > 0) {
      assert.ok(await placesTaken(sweep.sweep_id) <= 2);
      const job = running.shift()!;
      seen.push(job.job_id);
      await alice.start(job.job_id);
      const done = await alice.finish(job.job_id, i % 4 === 3 ? 1 : 0, { acc: i / 10 });
      assert.ok(done.notified_at, 'a cell is covered by the sweep\'s email, not its own');
      i++;
      running = [...running, ...(await alice.claim('gpu1', 10))];
    }
    assert.deepEqual(seen, jobs.map((j) => j.job_id), 'cells run in grid order');
    const view = await alice.call<SweepView>('sweep_get', { p_sweep_id: sweep.sweep_id });
    assert.ok(view.sweep.finished_at, 'the sweep finished with its last cell');
    assert.deepEqual(view.sweep.counts, { finished: 7, failed: 2 });
    assert.deepEqual(view.jobs.map((c) => c.result), seen.map((_, k) => ({ acc: k / 10 })));
    assert.deepEqual(view.jobs.map((c) => c.retcode), [0, 0, 0, 1, 0, 0, 0, 1, 0]);
    const work = await alice.call<{ notify_due: unknown[]; sweeps_notify_due: { sweep_id: string }[] }>('jobs_for_agent', { p_host: 'gpu1' });
    assert.deepEqual(work.notify_due, [], 'no email per cell');
    assert.deepEqual(work.sweeps_notify_due.map((s) => s.sweep_id), [sweep.sweep_id]);
    const agentA = randomUUID();
    const lease = await alice.call<SweepView | null>('sweep_notify_begin', { p_sweep_id: sweep.sweep_id, p_agent_id: agentA });
    assert.equal(lease!.jobs.length, 9, 'the lease hands over the grid for the email');
    assert.equal(await alice.call('sweep_notify_begin', { p_sweep_id: sweep.sweep_id, p_agent_id: randomUUID() }), null, 'a second agent does not send it too');
    await alice.call('sweep_mark_notified', { p_sweep_id: sweep.sweep_id });
    await assert.rejects(alice.call('sweep_mark_notified', { p_sweep_id: sweep.sweep_id }), /already notified/);
    const after = await alice.call<{ sweeps_notify_due: unknown[] }>('jobs_for_agent', { p_host: 'gpu1' });
    assert.deepEqual(after.sweeps_notify_due, []);
  });

  test('per-cell emails when asked for; a failed send is retried later', async () => {
    const { sweep, jobs } = await submitSweep({ p_notify_each: true }, grid(['1'], ['1']));
    const [job] = await alice.claim();
    await alice.start(job!.job_id);
    const done = await alice.finish(jobs[0]!.job_id, 0);
    assert.equal(done.notified_at, null);
    const work = await alice.call<{ notify_due: { job_id: string }[] }>('jobs_for_agent', { p_host: 'gpu1' });
    assert.deepEqual(work.notify_due.map((j) => j.job_id), [job!.job_id]);
    await alice.call('job_mark_notified', { p_job_id: job!.job_id });
    assert.ok(await alice.call('sweep_notify_begin', { p_sweep_id: sweep.sweep_id, p_agent_id: randomUUID() }));
    const failed = await alice.call<{ notify_attempts: number }>('sweep_notify_failed', { p_sweep_id: sweep.sweep_id, p_error: 'smtp down', p_retry_at: new Date(Date.now() + 3600_000).toISOString() });
    assert.equal(failed.notify_attempts, 1);
    assert.equal(await alice.call('sweep_notify_begin', { p_sweep_id: sweep.sweep_id, p_agent_id: randomUUID() }), null, 'not due before the retry time');
  });

  test('cancel <sweep>: running cells are asked to stop, pending ones end, and jobs after the sweep are cancelled', async () => {
    const { sweep, jobs } = await submitSweep({ p_max_parallel: 3 });
    const follow = await alice.submit('/home/alice/report.py', { p_after: [sweep.sweep_id] });
    const claimed = await alice.claim('gpu1', 10);
    assert.equal(claimed.length, 3);
    await alice.start(claimed[0]!.job_id);
    const view = await alice.call<SweepView>('sweep_request_cancel', { p_sweep_id: sweep.sweep_id });
    const byId = new Map(view.jobs.map((c) => [c.job_id, c]));
    assert.equal(byId.get(claimed[0]!.job_id)!.status, 'running');
    assert.ok((await alice.get(claimed[0]!.job_id)).cancel_requested_at);
    assert.equal(view.jobs.filter((c) => c.status === 'cancelled').length, 6);
    assert.equal((await alice.get(follow.job_id)).status, 'cancelled');
    // The agent stops the running one and gives the claimed ones up.
    await alice.call('job_mark_cancelled', { p_job_id: claimed[0]!.job_id, p_signal: 'SIGTERM' });
    for (const c of claimed.slice(1)) await alice.call('job_mark_cancelled', { p_job_id: c.job_id });
    const end = await alice.call<SweepView>('sweep_get', { p_sweep_id: sweep.sweep_id });
    assert.deepEqual(end.sweep.counts, { cancelled: 9 });
    assert.ok(end.sweep.finished_at);
    assert.equal(jobs.length, 9);
  });

  test('agents racing on a sweep never run more than max-parallel of it at once', async () => {
    const cells = Array.from({ length: 40 }, (_, k) => ({ args: String(k), params: { k: String(k) } }));
    const { sweep } = await submitSweep({ p_max_parallel: 3 }, cells);
    const agents = Array.from({ length: 4 }, () => member(db, alice.id));
    const watcher = new pg.Pool({ ...db.connection, max: 4 });
    let peak = 0;
    let done = 0;
    await Promise.all(agents.map(async (m, n) => {
      for (let idle = 0; idle < 200 && done < 40; idle++) {
        const got = await m.claim(`gpu${n}`, 2);
        peak = Math.max(peak, await placesTaken(sweep.sweep_id, watcher));
        for (const j of got) {
          await m.start(j.job_id);
          await m.finish(j.job_id, 0);
          done++;
        }
        if (got.length === 0) await new Promise((r) => setTimeout(r, 5));
      }
    }));
    await Promise.all(agents.map((m) => m.close()));
    await watcher.end();
    assert.equal(done, 40);
    assert.ok(peak <= 3, `at most 3 at once (saw ${peak})`);
    const over = await db.admin.query(
      "select count(*) from public.lifecycle_events e where e.to_status = 'claimed' and e.subject_id in (select job_id from public.jobs where sweep_id = $1)", [sweep.sweep_id]);
    assert.equal(over.rows[0].count, '40', 'each cell claimed once');
  });

  test('bad sweeps are refused with the reason', async () => {
    await assert.rejects(submitSweep({}, []), /at least one cell/);
    await assert.rejects(submitSweep({ p_max_parallel: 0 }), /max-parallel must be at least 1/);
    await assert.rejects(submitSweep({}, [{ args: 5, params: {} }] as never), /must be \{"args": text/);
    await assert.rejects(submitSweep({ p_retries: 500 }), /retries must be between 0 and 100/);
    const big = Array.from({ length: 10_001 }, () => ({ args: null, params: {} }));
    await assert.rejects(submitSweep({}, big as never), /at most 10000 cells/);
    await assert.rejects(alice.call('sweep_get', { p_sweep_id: randomUUID() }), /no sweep/);
    assert.equal((await db.admin.query('select count(*) from public.sweeps where cells > 9 and cells <> 40')).rows[0].count, '0', 'nothing was left of a refused sweep');
  });
});
