// When to retry a notification email that failed to send. Pure: the caller passes the clock.
//
// Schedule: after the n-th failed attempt wait 1 min · 2^(n−1), capped at 1 h
// (1, 2, 4, 8, 16, 32, 60, 60 … min). Retries run for up to 24 h after the first failure: the
// last retry is placed at exactly that deadline, and a failure at or after it gives up.

const NOTIFY_BASE_DELAY_MS = 60_000;
const NOTIFY_MAX_DELAY_MS = 60 * 60_000;
export const NOTIFY_GIVE_UP_AFTER_MS = 24 * 60 * 60_000;

export type NotifyDecision = { retryAt: Date } | { giveUp: true };

/** Delay after `attempts` failed attempts (attempts < 1 reads as 1). */
export function notifyDelayMs(attempts: number): number {
  const n = Number.isFinite(attempts) ? Math.max(1, Math.floor(attempts)) : 1;
  // 2^6 min already exceeds the cap; stop doubling there so huge counts never overflow
  return Math.min(NOTIFY_BASE_DELAY_MS * 2 ** Math.min(n - 1, 6), NOTIFY_MAX_DELAY_MS);
}

/**
 * @param attempts failed attempts so far, counting the one that just failed (1 after the first)
 * @param firstFailedAt when the first attempt failed
 * @param now the current time
 */
export function nextNotifyAttempt(attempts: number, firstFailedAt: Date, now: Date): NotifyDecision {
  // an unreadable first-failure time counts from now rather than retrying forever or never
  const first = Number.isNaN(firstFailedAt.getTime()) ? now.getTime() : firstFailedAt.getTime();
  const deadline = first + NOTIFY_GIVE_UP_AFTER_MS;
  if (now.getTime() >= deadline) return { giveUp: true };
  const at = Math.min(now.getTime() + notifyDelayMs(attempts), deadline);
  return { retryAt: new Date(at) };
}
