// Contract tests of the queue (sweeps, schedules, drains), host and Slurm functions through the
// store, as role authenticated: run over the Postgres transport here, and again over supabase-js by
// test/helpers/supabase/contract.ts, so every LabStore function is answered in every mode.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { makeUser, storeAs } from './helpers/db.js';
import { useFreshDatabase } from './helpers/fresh-db.js';
import type { LabStore } from '../src/services/store/lab-store.js';
import type { SlurmJobRow } from '../src/services/slurm/slurm-row.js';

const db = await useFreshDatabase({ beforeDrop: () => store.close() });
let store: LabStore;
const agent = randomUUID();
const host = `h-${randomUUID().slice(0, 8)}`;

before(async () => {
  store = storeAs(db, await makeUser(db, 'quinn'));
});

describe('queue, host and Slurm functions', () => {
  test('a sweep: submitted as one job per cell, read, listed, cancelled, its email leased once', async () => {
    const sweep = await store.submitSweep({
      scriptPath: '/home/quinn/train.py', axes: [{ name: 'lr', values: ['0.1', '0.01'] }],
      cells: [{ args: '["--lr","0.1"]', params: { lr: '0.1' } }, { args: '["--lr","0.01"]', params: { lr: '0.01' } }], maxParallel: 1,
      gpus: 2, gpuModel: 'A100*',
    });
    assert.equal(sweep.jobs.length, 2);
    assert.deepEqual([sweep.sweep.gpus, sweep.sweep.gpu_model], [2, 'A100*']);
    assert.deepEqual((await store.getJob(sweep.jobs[1]!.job_id)).gpus, 2, 'each cell asks for the sweep\'s GPUs');
    assert.deepEqual(sweep.jobs.map((j) => j.status), ['pending', 'pending']);
    assert.equal((await store.getSweep(sweep.sweep.sweep_id)).sweep.sweep_id, sweep.sweep.sweep_id);
    assert.ok((await store.listSweeps({ limit: 5 })).some((s) => s.sweep_id === sweep.sweep.sweep_id));
    const cancelled = await store.cancelSweep(sweep.sweep.sweep_id);
    assert.deepEqual(cancelled.jobs.map((j) => j.status), ['cancelled', 'cancelled']);
    const lease = await store.beginSweepNotify({ sweepId: sweep.sweep.sweep_id, agentId: agent });
    assert.ok(lease, 'an ended sweep has its email due');
    assert.equal(await store.beginSweepNotify({ sweepId: sweep.sweep.sweep_id, agentId: randomUUID() }), null, 'one lease at a time');
    const failed = await store.sweepNotifyFailed({ sweepId: sweep.sweep.sweep_id, error: 'smtp down', retryAt: new Date(Date.now() + 60_000) });
    assert.equal(failed.notified_at, null);
  });

  test('a schedule: added, listed, paused, resumed, fired once per due time, removed; the time zone is set', async () => {
    assert.equal((await store.setTimeZone('Asia/Tokyo')).time_zone, 'Asia/Tokyo');
    const soon = new Date(Date.now() + 3_600_000);
    const s = await store.addSchedule({ cron: '* * * * *', nextDueAt: soon, timeZone: 'Asia/Tokyo', scriptPath: '/home/quinn/eval.py', gpus: 1, gpuMemMiB: 1024 });
    assert.deepEqual([s.gpus, s.gpu_mem_mib], [1, 1024]);
    assert.ok((await store.listSchedules()).some((x) => x.schedule_id === s.schedule_id));
    assert.ok((await store.pauseSchedule(s.schedule_id)).paused_at);
    assert.equal((await store.resumeSchedule({ scheduleId: s.schedule_id, nextDueAt: soon })).paused_at, null);
    // Its due time comes (the clock is not waited for: the row is moved back).
    const due = new Date(Date.now() - 1000);
    await db.admin.query('update public.schedules set next_due_at = $2 where schedule_id = $1', [s.schedule_id, due]);
    const read = (await store.listSchedules()).find((x) => x.schedule_id === s.schedule_id)!;
    const next = new Date(Date.now() + 60_000);
    const fired = await store.fireSchedule({ scheduleId: s.schedule_id, dueAt: read.next_due_at, dueTimes: [due], nextDueAt: next });
    assert.equal(fired.fired, true);
    assert.equal(fired.jobs.length, 1);
    assert.deepEqual([fired.jobs[0]!.gpus, fired.jobs[0]!.gpu_mem_mib], [1, 1024], 'the fired job asks for the schedule\'s GPUs');
    const again = await store.fireSchedule({ scheduleId: s.schedule_id, dueAt: read.next_due_at, dueTimes: [due], nextDueAt: next });
    assert.equal(again.fired, false, 'a second agent firing the same due time makes nothing');
    assert.equal((await store.removeSchedule(s.schedule_id)).schedule_id, s.schedule_id);
    assert.ok(!(await store.listSchedules()).some((x) => x.schedule_id === s.schedule_id));
  });

  test("a job's end with no email: marked notified once, the row says why (issue 15)", async () => {
    const job = await store.submitJob({ scriptPath: '/home/quinn/quiet.py' });
    await store.requestCancel(job.job_id); // a pending job ends at once
    const done = await store.markNotEmailed({ jobId: job.job_id, reason: 'LAB_EMAIL empty' });
    assert.ok(done.notified_at);
    assert.equal(done.no_email_reason, 'LAB_EMAIL empty');
    assert.equal((await store.getJob(job.job_id)).no_email_reason, 'LAB_EMAIL empty');
    await assert.rejects(store.markNotEmailed({ jobId: job.job_id, reason: 'again' }), /already notified/);
  });

  test('a drain: on, listed, and undone', async () => {
    const d = await store.drainHost({ host, note: 'maintenance' });
    assert.equal(d.host, host);
    assert.ok((await store.listDrains()).some((x) => x.host === host));
    assert.equal((await store.resumeHost(host)).resumed, true);
    assert.ok(!(await store.listDrains()).some((x) => x.host === host && !x.lab_wide));
  });

  test("a host's resources: published by its agent, listed for every member", async () => {
    await store.registerAgent({ agentId: agent, host, version: 'test', mode: 'tick', pid: process.pid });
    const gpu = { index: 0, uuid: 'GPU-contract-0', model: 'Stand-in', memory_total_mib: 1000, memory_used_mib: 10, utilization_pct: 5, temperature_c: 30, processes: 0 };
    const row = await store.publishHost({ agentId: agent, host, resources: { gpu_status: 'ok', gpus: [gpu], cpu_count: 2, load_1m: 0.5 } });
    assert.equal(row.host, host);
    const listed = (await store.listHosts({ history: true })).find((h) => h.host === host);
    assert.equal(listed?.gpus[0]?.uuid, 'GPU-contract-0');
    assert.equal(listed?.drain, null);
    await store.drainHost({ host, note: 'disk swap' });
    assert.deepEqual((await store.listHosts()).find((h) => h.host === host)?.drain, { by: 'you', note: 'disk swap', drained_at: (await store.listDrains()).find((d) => d.host === host)!.drained_at });
    await store.resumeHost(host);
    assert.equal((await store.listHosts()).find((h) => h.host === host)?.drain, null);
  });

  test("a Slurm job's id, state and reason on the row", async () => {
    // The other tests' jobs (the schedule's) are not this claim's.
    await db.admin.query("update public.jobs set status = 'cancelled' where status in ('pending', 'claimed')");
    const job = await store.submitJob({ scriptPath: '/home/quinn/slurm.py' });
    const [claimed] = await store.claimJobs({ agentId: agent, host, limit: 1 });
    assert.equal(claimed?.job_id, job.job_id);
    const row = (await store.slurmUpdateJob({ jobId: job.job_id, slurmJobId: '4242', state: 'PENDING', reason: 'Resources' })) as SlurmJobRow;
    assert.equal(row.slurm_job_id, '4242');
    assert.equal(row.slurm_reason, 'Resources');
  });

  test("a Jupyter session's GPU request, its claim by a Slurm agent, and its Slurm job's id, state and node on the row", async () => {
    const s = await store.requestJupyter({ host, gpus: 1, gpuModel: '*A100*' });
    assert.equal(s.gpus, 1);
    const [claimed] = await store.claimJupyter({ agentId: agent, host, limit: 1, executor: 'slurm', gpus: { placement: 'scheduler' } });
    assert.equal(claimed?.session_id, s.session_id);
    assert.equal(claimed?.executor, 'slurm');
    const row = await store.slurmUpdateSession({ sessionId: s.session_id, slurmJobId: '4343', state: 'RUNNING', node: 'node07' });
    assert.equal(row.slurm_job_id, '4343');
    assert.equal(row.slurm_node, 'node07');
    await assert.rejects(store.slurmUpdateSession({ sessionId: s.session_id, slurmJobId: '9999' }), /is Slurm job 4343/);
  });
});
