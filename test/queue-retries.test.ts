// Retries in SQL (issue 17): a failed run with retries left goes back to pending (same job, attempt
// + 1, not before an exponential backoff, its reason on the row); a cancel or bad input is never
// retried; every attempt's outcome is kept; the email is due once, after the last attempt.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDb } from './helpers/db.js';
import { withMembers, type Member, type QueueJob } from './helpers/queue.js';

let db: TestDb;
let alice: Member;

withMembers(['alice'], (x) => ({ db, alice } = x));

/** Moves a waiting retry's time to now, as if its delay had passed. */
const delayPasses = (jobId: string) => db.admin.query('update public.jobs set not_before = now() where job_id = $1', [jobId]);
const notifyDue = async () =>
  (await alice.call<{ notify_due: { job_id: string }[] }>('jobs_for_agent', { p_host: 'gpu1' })).notify_due.map((j) => j.job_id);

describe('retries', () => {
  test('succeeds on the third attempt: two retries with doubling delays, three attempts kept, one email', async () => {
    const job = await alice.submit('/home/alice/flaky.py', { p_retries: 3, p_retry_delay_s: 60 });
    await db.admin.query("update public.users set time_zone = 'Asia/Tokyo' where user_id = $1", [alice.id]);
    let [claimed] = await alice.claim();
    await alice.start(job.job_id);
    let row = await alice.finish(job.job_id, 2);
    assert.equal(row.status, 'pending', 'a retried job is still pending');
    assert.equal(row.attempt, 2);
    assert.equal(row.error, 'exit code 2');
    const wait1 = Date.parse(row.not_before!) - Date.now();
    assert.ok(wait1 > 55_000 && wait1 <= 60_000, `first retry after 60 s (${wait1} ms)`);
    // In the member's zone; the date only when it is not today there.
    const day = (d: Date) => d.toLocaleDateString('sv-SE', { timeZone: 'Asia/Tokyo' });
    const when = new Date(row.not_before!);
    const at = (day(when) === day(new Date()) ? '' : `${day(when)} `) + when.toLocaleTimeString('en-GB', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit' });
    assert.equal(row.pending_reason, `retry 1 of 3 at ${at} after exit code 2`);
    assert.deepEqual(await alice.claim(), [], 'nothing starts before the delay is over');
    assert.deepEqual(await notifyDue(), [], 'no email for an attempt that will be retried');
    const work = await alice.call<{ next_wake_at: string }>('jobs_for_agent', { p_host: 'gpu1' });
    assert.equal(Date.parse(work.next_wake_at), Date.parse(row.not_before!), 'the agent knows when to look again');
    await delayPasses(job.job_id);
    [claimed] = await alice.claim();
    assert.equal(claimed!.job_id, job.job_id);
    assert.equal(claimed!.pending_reason, null);
    await alice.start(job.job_id);
    row = await alice.call('job_fail', { p_job_id: job.job_id, p_error: 'lost: the process is gone', p_retry: true, p_via: 'concluding' });
    assert.equal(row.attempt, 3);
    const wait2 = Date.parse(row.not_before!) - Date.now();
    assert.ok(wait2 > 115_000 && wait2 <= 120_000, `second retry after 120 s (${wait2} ms)`);
    await delayPasses(job.job_id);
    await alice.claim();
    await alice.start(job.job_id);
    row = await alice.finish(job.job_id, 0, { acc: 0.9 });
    assert.equal(row.status, 'finished');
    assert.equal(row.error, null);
    assert.deepEqual(row.result, { acc: 0.9 });
    assert.deepEqual(row.attempts.map((a) => [a.attempt, a.status, a.error ?? null]),
      [[1, 'failed', 'exit code 2'], [2, 'failed', 'lost: the process is gone'], [3, 'finished', null]]);
    assert.deepEqual(await notifyDue(), [job.job_id], 'the email is due once, at the end');
    const path = await db.admin.query('select from_status, to_status, detail from public.lifecycle_events where subject_id = $1 order by event_id', [job.job_id]);
    assert.deepEqual(path.rows.map((e) => `${e.from_status ?? ''}>${e.to_status}`), [
      '>pending', 'pending>claimed', 'claimed>running', 'running>pending',
      'pending>claimed', 'claimed>running', 'running>pending', 'pending>claimed', 'claimed>running', 'running>finished']);
    assert.deepEqual([path.rows[3].detail.retry, path.rows[3].detail.of, path.rows[3].detail.retcode], [1, 3, 2]);
    await alice.call('job_mark_notified', { p_job_id: job.job_id });
  });

  test('the last attempt fails for good; delays never exceed a day', async () => {
    const job = await alice.submit('/home/alice/always-fails.py', { p_retries: 1, p_retry_delay_s: 86_400 });
    await alice.claim();
    await alice.start(job.job_id);
    let row = await alice.finish(job.job_id, 1);
    assert.ok(Date.parse(row.not_before!) - Date.now() <= 86_400_000);
    await delayPasses(job.job_id);
    await alice.claim();
    await alice.start(job.job_id);
    row = await alice.finish(job.job_id, 1);
    assert.equal(row.status, 'failed');
    assert.equal(row.attempt, 2);
    assert.equal(row.attempts.length, 2);
  });

  test('never retried: a cancel, bad input, or a job without retries', async () => {
    const cancelled = await alice.submit('/home/alice/a.py', { p_retries: 5 });
    await alice.claim();
    await alice.start(cancelled.job_id);
    await alice.call('job_request_cancel', { p_job_id: cancelled.job_id });
    assert.equal((await alice.finish(cancelled.job_id, 143)).status, 'cancelled');
    const bad = await alice.submit('/home/alice/b.py', { p_retries: 5 });
    await alice.claim();
    const failed = await alice.call<QueueJob>('job_fail', { p_job_id: bad.job_id, p_error: 'no such script', p_via: 'failing' });
    assert.equal(failed.status, 'failed', 'bad input is not retried');
    const plain = await alice.submit('/home/alice/c.py');
    await alice.claim();
    await alice.start(plain.job_id);
    const ended = await alice.finish(plain.job_id, 1);
    assert.equal(ended.status, 'failed');
    assert.deepEqual(ended.attempts, [], 'a single attempt keeps no attempts list');
  });

  test("the agent's LAB_JOB_RETRIES applies to jobs that did not say; bounds are checked", async () => {
    const job = await alice.submit('/home/alice/d.py');
    assert.equal(job.retries, null);
    const [claimed] = await alice.claim('gpu1', 1, 2);
    assert.equal(claimed!.retries, 2);
    await alice.start(job.job_id);
    assert.equal((await alice.finish(job.job_id, 1)).status, 'pending');
    await alice.call('job_request_cancel', { p_job_id: job.job_id });
    await assert.rejects(alice.submit('/x.py', { p_retries: 101 }), /retries must be between 0 and 100/);
    await assert.rejects(alice.submit('/x.py', { p_retry_delay_s: 0 }), /retry delay must be between/);
  });
});
