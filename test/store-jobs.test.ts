// Contract tests of the job functions through the Postgres transport, as role authenticated.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { makeUser, storeAs } from './helpers/db.js';
import { jobRow, useFreshDatabase } from './helpers/fresh-db.js';
import type { LabStore } from '../src/services/store/lab-store.js';
import { StoreError } from '../src/services/store/types.js';

const db = await useFreshDatabase({ beforeDrop: () => store.close() });
let store: LabStore;
let userId: string;
const agent = randomUUID();

before(async () => {
  userId = await makeUser(db, 'alice');
  store = storeAs(db, userId);
});
/** The call must raise `wrong state` and leave the row exactly as it was. */
async function rejectsUnchanged(jobId: string, call: () => Promise<unknown>, pattern: RegExp) {
  const before = await jobRow(db, jobId);
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected a StoreError, got ${err}`);
    assert.match(err.message, pattern);
    return true;
  });
  assert.deepEqual(await jobRow(db, jobId), before);
}

async function drain() {
  // Other tests' leftovers must not be claimed by the next test.
  await db.admin.query("update public.jobs set status = 'cancelled' where status in ('pending', 'claimed')");
}

describe('job lifecycle functions', () => {
  test('submit creates a pending job owned by the caller, with a created event', async () => {
    const job = await store.submitJob({ scriptPath: '/home/alice/train.py', args: '--n 3', timeoutS: 60 });
    assert.equal(job.status, 'pending');
    assert.equal(job.user_id, userId);
    assert.equal(job.args, '--n 3');
    assert.equal(job.timeout_s, 60);
    const events = await store.history(job.job_id);
    assert.deepEqual(events.map((e) => [e.from_status, e.to_status]), [[null, 'pending']]);
    await drain();
  });

  test('submit without a script is refused', async () => {
    await assert.rejects(store.submitJob({}), /needs a script path or a script id/);
  });

  test('claim is FIFO, honours the limit and the target host', async () => {
    const a = await store.submitJob({ scriptPath: '/h/a.py' });
    const b = await store.submitJob({ scriptPath: '/h/b.py', host: 'gpu2' });
    const c = await store.submitJob({ scriptPath: '/h/c.py', host: 'gpu1' });
    const first = await store.claimJobs({ agentId: agent, host: 'gpu1', limit: 1 });
    assert.deepEqual(first.map((j) => j.job_id), [a.job_id]);
    assert.equal(first[0]!.status, 'claimed');
    assert.equal(first[0]!.run_host, 'gpu1');
    assert.equal(first[0]!.claim_count, 1);
    const rest = await store.claimJobs({ agentId: agent, host: 'gpu1', limit: 10 });
    assert.deepEqual(rest.map((j) => j.job_id), [c.job_id], 'the job aimed at gpu2 stays for gpu2');
    assert.deepEqual((await store.claimJobs({ agentId: agent, host: 'gpu2', limit: 10 })).map((j) => j.job_id), [b.job_id]);
    assert.deepEqual(await store.claimJobs({ agentId: agent, host: 'gpu1', limit: 10 }), []);
    await drain();
  });

  test('start, heartbeat and finish with exit 0', async () => {
    const job = await store.submitJob({ scriptPath: '/h/ok.py' });
    await rejectsUnchanged(job.job_id, () => store.startJob(startArgs(job.job_id)), /cannot start job .* it is pending, expected claimed/);
    await store.claimJobs({ agentId: agent, host: 'gpu1', limit: 1 });
    const running = await store.startJob(startArgs(job.job_id));
    assert.equal(running.status, 'running');
    assert.equal(running.pid, 4242);
    assert.deepEqual(running.command, ['python3', '/h/ok.py']);
    assert.ok(running.started_at);
    const hb = await store.heartbeatJob({ jobId: job.job_id, stdoutTail: 'epoch 1\n' });
    assert.equal(hb.stdout_tail, 'epoch 1\n');
    const hb2 = await store.heartbeatJob({ jobId: job.job_id, stderrTail: 'warn\n' });
    assert.equal(hb2.stdout_tail, 'epoch 1\n', 'a tail not sent is kept');
    const done = await store.finishJob({ jobId: job.job_id, retcode: 0, signal: null, stdoutTail: 'done\n' });
    assert.equal(done.status, 'finished');
    assert.equal(done.retcode, 0);
    assert.equal(done.error, null);
    assert.ok(done.finished_at);
    await rejectsUnchanged(job.job_id, () => store.finishJob({ jobId: job.job_id, retcode: 0, signal: null }), /cannot finish job .* it is finished/);
    await rejectsUnchanged(job.job_id, () => store.heartbeatJob({ jobId: job.job_id }), /cannot heartbeat job/);
    const events = await store.history(job.job_id);
    assert.deepEqual(events.map((e) => e.to_status), ['pending', 'claimed', 'running', 'finished']);
    assert.equal(events[2]!.detail.pid, 4242);
  });

  test('a non-zero exit or a signal fails the job with the reason', async () => {
    const a = await runningJob('/h/bad.py');
    const failed = await store.finishJob({ jobId: a, retcode: 3, signal: null, stderrTail: 'Traceback' });
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error, 'exit code 3');
    const b = await runningJob('/h/killed.py');
    const killed = await store.finishJob({ jobId: b, retcode: null, signal: 'SIGKILL' });
    assert.equal(killed.status, 'failed');
    assert.equal(killed.error, 'killed by SIGKILL');
  });

  test('fail works from pending, claimed and running, and needs a reason', async () => {
    const p = await store.submitJob({ scriptPath: '/h/missing.py' });
    await rejectsUnchanged(p.job_id, () => store.failJob({ jobId: p.job_id, error: '' }), /needs a reason/);
    const f = await store.failJob({ jobId: p.job_id, error: 'script not found: /h/missing.py', stderrTail: 'script not found: /h/missing.py' });
    assert.equal(f.status, 'failed');
    assert.equal(f.stderr_tail, 'script not found: /h/missing.py');
    await rejectsUnchanged(p.job_id, () => store.failJob({ jobId: p.job_id, error: 'again' }), /cannot fail job .* it is failed/);
    const r = await runningJob('/h/r.py');
    assert.equal((await store.failJob({ jobId: r, error: 'timeout after 5s', retcode: null, signal: 'SIGTERM' })).error, 'timeout after 5s');
  });

  test('cancel: pending at once; running on request, ended by the agent', async () => {
    const p = await store.submitJob({ scriptPath: '/h/p.py' });
    const c = await store.requestCancel(p.job_id);
    assert.equal(c.status, 'cancelled');
    await rejectsUnchanged(p.job_id, () => store.requestCancel(p.job_id), /cannot cancel job .* it is cancelled/);
    const r = await runningJob('/h/long.py');
    const req = await store.requestCancel(r);
    assert.equal(req.status, 'running');
    assert.ok(req.cancel_requested_at);
    const again = await store.requestCancel(r);
    assert.equal(again.cancel_requested_at, req.cancel_requested_at, 'a second request changes nothing');
    const ended = await store.finishJob({ jobId: r, retcode: null, signal: 'SIGTERM' });
    assert.equal(ended.status, 'cancelled');
    const r2 = await runningJob('/h/long2.py');
    await store.requestCancel(r2);
    assert.equal((await store.markCancelled({ jobId: r2, retcode: null, signal: 'SIGKILL' })).status, 'cancelled');
    const events = await store.history(r2);
    assert.ok(events.some((e) => e.detail.action === 'cancel_requested_at'), 'the request is in the history');
  });

  test('release returns a claim to the queue, and fails it after the last try', async () => {
    const p = await store.submitJob({ scriptPath: '/h/flaky.py' });
    for (let i = 1; i <= 2; i++) {
      await store.claimJobs({ agentId: agent, host: 'gpu1', limit: 1 });
      const back = await store.releaseJob({ jobId: p.job_id, reason: 'agent died before start', maxClaims: 3 });
      assert.equal(back.status, 'pending');
      assert.equal(back.agent_id, null);
    }
    await store.claimJobs({ agentId: agent, host: 'gpu1', limit: 1 });
    const gaveUp = await store.releaseJob({ jobId: p.job_id, reason: 'agent died before start', maxClaims: 3 });
    assert.equal(gaveUp.status, 'failed');
    assert.match(gaveUp.error!, /could not be started after 3 tries: agent died before start/);
    await rejectsUnchanged(p.job_id, () => store.releaseJob({ jobId: p.job_id, reason: 'x', maxClaims: 3 }), /cannot release job/);
  });

  test('notification: one lease at a time, marked once, retries scheduled', async () => {
    const r = await runningJob('/h/n.py');
    assert.equal(await store.beginNotify({ jobId: r, agentId: agent }), null, 'a running job is not due');
    await store.finishJob({ jobId: r, retcode: 0, signal: null });
    const lease = await store.beginNotify({ jobId: r, agentId: agent, leaseS: 60 });
    assert.ok(lease);
    assert.equal(await store.beginNotify({ jobId: r, agentId: randomUUID(), leaseS: 60 }), null, 'a second agent gets no lease');
    const failed = await store.notifyFailed({ jobId: r, error: 'connect ECONNREFUSED', retryAt: new Date(Date.now() + 60_000) });
    assert.equal(failed.notify_attempts, 1);
    assert.equal(await store.beginNotify({ jobId: r, agentId: agent }), null, 'not due before its retry time');
    await db.admin.query("update public.jobs set notify_next_at = now() - interval '1 second' where job_id = $1", [r]);
    assert.ok(await store.beginNotify({ jobId: r, agentId: agent }));
    const done = await store.markNotified(r);
    assert.ok(done.notified_at);
    assert.equal(done.no_email_reason, null, 'an email went');
    await rejectsUnchanged(r, () => store.markNotified(r), /already notified/);
    await rejectsUnchanged(r, () => store.markNotEmailed({ jobId: r, reason: 'LAB_EMAIL empty' }), /already notified/);
    assert.equal(await store.beginNotify({ jobId: r, agentId: agent }), null);
    const events = await store.history(r);
    assert.equal(events.at(-1)!.to_status, 'notified');
  });

  test('agent work lists my active jobs on this host and due notifications', async () => {
    await drain();
    const r = await runningJob('/h/w.py');
    const work = await store.agentWork('gpu1');
    assert.ok(work.active.some((j) => j.job_id === r));
    assert.equal((await store.agentWork('gpu9')).active.length, 0);
    await store.finishJob({ jobId: r, retcode: 0, signal: null });
    assert.ok((await store.agentWork('gpu1')).notify_due.some((j) => j.job_id === r));
    await store.submitJob({ scriptPath: '/h/q.py' });
    assert.equal((await store.agentWork('gpu1')).pending, 1);
  });

  test('reads: get, list newest first, unknown ids', async () => {
    const j = await store.submitJob({ scriptPath: '/h/read.py' });
    assert.equal((await store.getJob(j.job_id)).job_id, j.job_id);
    const list = await store.listJobs({ limit: 3 });
    assert.equal(list[0]!.job_id, j.job_id);
    assert.ok(list.length <= 3);
    await assert.rejects(store.getJob(randomUUID()), (e: unknown) => e instanceof StoreError && e.isNotFound);
    assert.deepEqual(await store.history(randomUUID()), []);
  });
});

function startArgs(jobId: string) {
  return {
    jobId, agentId: agent, pid: 4242, pidStart: '123456', interpreter: 'python3', command: ['python3', '/h/ok.py'],
    logDir: `/home/alice/lab_job_logs/${jobId}`, stdoutPath: 'stdout.log', stderrPath: 'stderr.log',
  };
}

async function runningJob(path: string): Promise<string> {
  await drain();
  const job = await store.submitJob({ scriptPath: path });
  const [claimed] = await store.claimJobs({ agentId: agent, host: 'gpu1', limit: 1 });
  assert.equal(claimed!.job_id, job.job_id);
  await store.startJob(startArgs(job.job_id));
  return job.job_id;
}
