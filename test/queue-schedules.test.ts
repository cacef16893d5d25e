// Schedules in SQL (issue 17): each due time makes one job, even with agents racing to fire it;
// after downtime over several due times the missed ones are made up as configured (one by default);
// pause, resume and remove; bad cron lines and time zones are refused.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDb } from './helpers/db.js';
import { member, withMembers, type Member, type QueueJob } from './helpers/queue.js';

let db: TestDb;
let alice: Member;

interface Schedule { schedule_id: string; next_due_at: string; paused_at: string | null; runs: number; skipped: number; time_zone: string }
interface Fired { fired: boolean; jobs: QueueJob[]; skipped?: number; reason?: string; next_due_at: string }

withMembers(['alice'], (x) => ({ db, alice } = x));

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const hourly = (extra: Record<string, unknown> = {}) => alice.call<Schedule>('schedule_add', {
  p_cron: '0 * * * *', p_script_path: '/home/alice/eval.py', p_args: '--ckpt latest', p_time_zone: 'Asia/Tokyo',
  p_next_due_at: iso(Date.now() + HOUR), ...extra,
});
/**
 * The agents were away: the schedule's next due time is `hoursAgo` hours before the current hour
 * began (so the latest of `hoursAgo` due times is an hour old, never within the on-time grace).
 */
async function dueSince(s: Schedule, hoursAgo: number): Promise<number> {
  const due = Math.floor(Date.now() / HOUR) * HOUR - hoursAgo * HOUR;
  await db.admin.query('update public.schedules set next_due_at = $2 where schedule_id = $1', [s.schedule_id, iso(due)]);
  return due;
}
const fire = (s: Schedule, due: number, times: number[], next = Math.floor(Date.now() / HOUR) * HOUR + HOUR) =>
  alice.call<Fired>('schedule_fire', { p_schedule_id: s.schedule_id, p_due_at: iso(due), p_due_times: times.map(iso), p_next_due_at: iso(next) });

describe('schedules', () => {
  test('a due time makes exactly one job, however many agents fire it at once', async () => {
    const s = await hourly();
    const due = await dueSince(s, 1);
    const agents = Array.from({ length: 6 }, () => member(db, alice.id));
    const results = await Promise.all(agents.map((m) => m.call<Fired>('schedule_fire', {
      p_schedule_id: s.schedule_id, p_due_at: iso(due), p_due_times: [iso(due)], p_next_due_at: iso(Math.floor(Date.now() / HOUR) * HOUR + HOUR),
    })));
    await Promise.all(agents.map((m) => m.close()));
    assert.equal(results.filter((r) => r.fired).length, 1);
    assert.deepEqual([...new Set(results.filter((r) => !r.fired).map((r) => r.reason))], ['fired by another agent']);
    const jobs = await db.admin.query('select script_path, args, scheduled_for, status from public.jobs where schedule_id = $1', [s.schedule_id]);
    assert.deepEqual(jobs.rows, [{ script_path: '/home/alice/eval.py', args: '--ckpt latest', scheduled_for: new Date(due), status: 'pending' }]);
    const again = await fire(s, due, [due]);
    assert.equal(again.fired, false, 'the old due time cannot fire twice');
    const created = await db.admin.query("select detail from public.lifecycle_events where subject_id = $1 and to_status = 'pending'", [results.find((r) => r.fired)!.jobs[0]!.job_id]);
    assert.equal(created.rows[0].detail.schedule_id, s.schedule_id);
  });

  test('after the agents were down over three due times: one catch-up run by default', async () => {
    const s = await hourly();
    const due = await dueSince(s, 3);
    const fired = await fire(s, due, [due, due + HOUR, due + 2 * HOUR]);
    assert.equal(fired.jobs.length, 1);
    assert.equal(Date.parse(fired.jobs[0]!.scheduled_for!), due + 2 * HOUR, 'the latest missed due time runs');
    assert.equal(fired.skipped, 2);
    const row = (await alice.call<Schedule[]>('schedules_list')).find((x) => x.schedule_id === s.schedule_id)!;
    assert.deepEqual([row.runs, row.skipped], [1, 2]);
    assert.ok(Date.parse(row.next_due_at) > Date.now());
  });

  test('catch-up is configurable: none, or up to N of the missed runs; an on-time one always runs', async () => {
    const none = await hourly({ p_catch_up: 0 });
    let due = await dueSince(none, 3);
    assert.equal((await fire(none, due, [due, due + HOUR, due + 2 * HOUR])).jobs.length, 0);
    const three = await hourly({ p_catch_up: 3 });
    due = await dueSince(three, 3);
    assert.deepEqual((await fire(three, due, [due, due + HOUR, due + 2 * HOUR])).jobs.map((j) => Date.parse(j.scheduled_for!)), [due, due + HOUR, due + 2 * HOUR]);
    const onTime = await hourly({ p_catch_up: 0 });
    const now = Date.now() - 60_000;
    await db.admin.query('update public.schedules set next_due_at = $2 where schedule_id = $1', [onTime.schedule_id, iso(now)]);
    assert.equal((await fire(onTime, now, [now])).jobs.length, 1, 'a due time a minute old is on time');
  });

  test('pause, resume, remove; a paused schedule does not fire', async () => {
    const s = await hourly();
    await alice.call('schedule_pause', { p_schedule_id: s.schedule_id });
    const due = await dueSince(s, 1);
    const paused = await fire(s, due, [due]);
    assert.deepEqual([paused.fired, paused.reason], [false, 'paused']);
    const work = await alice.call<{ schedules_due: { schedule_id: string }[] }>('jobs_for_agent', { p_host: 'gpu1' });
    assert.ok(!work.schedules_due.some((x) => x.schedule_id === s.schedule_id));
    await assert.rejects(alice.call('schedule_resume', { p_schedule_id: s.schedule_id, p_next_due_at: iso(Date.now() - 1000) }), /must be in the future/);
    const resumed = await alice.call<Schedule>('schedule_resume', { p_schedule_id: s.schedule_id, p_next_due_at: iso(Date.now() + HOUR) });
    assert.equal(resumed.paused_at, null);
    await dueSince(s, 1);
    const due2 = await alice.call<{ schedules_due: { schedule_id: string }[]; next_wake_at: string }>('jobs_for_agent', { p_host: 'gpu1' });
    assert.ok(due2.schedules_due.some((x) => x.schedule_id === s.schedule_id), 'a due schedule is in the agent\'s work');
    const fired = await fire(s, Date.parse((await alice.call<Schedule[]>('schedules_list')).find((x) => x.schedule_id === s.schedule_id)!.next_due_at), [Math.floor(Date.now() / HOUR) * HOUR]);
    const jobId = fired.jobs[0]!.job_id;
    await alice.call('schedule_remove', { p_schedule_id: s.schedule_id });
    assert.equal((await alice.get(jobId)).schedule_id, null, 'its jobs stay');
    await assert.rejects(alice.call('schedule_pause', { p_schedule_id: s.schedule_id }), /no schedule/);
  });

  test('bad input is refused with the reason', async () => {
    await assert.rejects(hourly({ p_cron: 'every day' }), /not a cron line/);
    await assert.rejects(hourly({ p_cron: '0 3 * *' }), /not a cron line/);
    await assert.rejects(hourly({ p_time_zone: 'Mars/Olympus' }), /not a time zone name/);
    await assert.rejects(hourly({ p_next_due_at: iso(Date.now() - 1000) }), /must be in the future/);
    await assert.rejects(hourly({ p_catch_up: 101 }), /catch-up must be between 0 and 100/);
    await assert.rejects(hourly({ p_time_zone: null }), /not a time zone name/, 'no zone given and none set for the member');
    await alice.call('user_set_time_zone', { p_time_zone: 'Europe/Berlin' });
    assert.equal((await hourly({ p_time_zone: null })).time_zone, 'Europe/Berlin', 'the member\'s zone is the default');
    assert.equal((await hourly({ p_cron: '@daily' })).time_zone, 'Asia/Tokyo');
    const s = await hourly();
    const due = await dueSince(s, 2);
    await assert.rejects(fire(s, due, [due - HOUR]), /between the schedule's next due time/);
    await assert.rejects(fire(s, due, [due], Date.now() - 1), /next due time must be in the future/);
  });
});
