// Pure backoff schedule for failed notification emails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextNotifyAttempt, notifyDelayMs, NOTIFY_GIVE_UP_AFTER_MS } from '../src/services/notify-backoff.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const first = new Date('2025-06-01T00:00:00Z');
const at = (ms: number) => new Date(first.getTime() + ms);

function retryAt(d: ReturnType<typeof nextNotifyAttempt>): Date {
  assert.ok('retryAt' in d, `expected a retry, got ${JSON.stringify(d)}`);
  return d.retryAt;
}

test('delay doubles from 1 min and caps at 1 h', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 50, 10_000].map((n) => notifyDelayMs(n) / MIN),
    [1, 2, 4, 8, 16, 32, 60, 60, 60, 60],
  );
  assert.equal(notifyDelayMs(0), MIN);
  assert.equal(notifyDelayMs(-3), MIN);
  assert.equal(notifyDelayMs(Number.NaN), MIN);
});

test('retryAt is now + delay', () => {
  assert.deepEqual(retryAt(nextNotifyAttempt(1, first, first)), at(MIN));
  const now = at(10 * MIN);
  assert.deepEqual(retryAt(nextNotifyAttempt(4, first, now)), at(18 * MIN));
  assert.deepEqual(retryAt(nextNotifyAttempt(12, first, at(5 * HOUR))), at(6 * HOUR));
});

test('a whole schedule: retries until 24 h after the first failure, the last one at the deadline, then gives up', () => {
  let now = first;
  const times: number[] = [];
  for (let attempts = 1; attempts < 100; attempts++) {
    const d = nextNotifyAttempt(attempts, first, now);
    if ('giveUp' in d) break;
    assert.ok(d.retryAt > now);
    now = d.retryAt; // the retry runs on time and fails again
    times.push(now.getTime() - first.getTime());
  }
  // 1+2+4+8+16+32 = 63 min, then hourly (22 more, up to 23h03m); the last one lands on the 24 h deadline
  assert.deepEqual(times.slice(0, 7).map((t) => t / MIN), [1, 3, 7, 15, 31, 63, 123]);
  assert.equal(times.at(-1), NOTIFY_GIVE_UP_AFTER_MS);
  assert.equal(times.length, 6 + 22 + 1);
  assert.equal(times.at(-2), 63 * MIN + 22 * HOUR);
  assert.deepEqual(nextNotifyAttempt(times.length + 1, first, now), { giveUp: true });
});

test('give up at or after 24 h; just before, the retry is clamped to the deadline', () => {
  assert.deepEqual(nextNotifyAttempt(3, first, at(24 * HOUR)), { giveUp: true });
  assert.deepEqual(nextNotifyAttempt(3, first, at(30 * HOUR)), { giveUp: true });
  assert.deepEqual(retryAt(nextNotifyAttempt(10, first, at(24 * HOUR - 5 * MIN))), at(24 * HOUR));
});

test('an invalid first-failure time counts from now', () => {
  assert.deepEqual(retryAt(nextNotifyAttempt(1, new Date(Number.NaN), first)), at(MIN));
});
