// When the supervisor should poll again by itself (issue 17): a retry's not_before or a schedule's
// next due time may come long before the next poll. agent_poll names the earliest such moment
// and the database's clock when it answered; the moment is moved onto this host's clock by that
// difference, so a host whose clock is off still wakes on time. Pure.
import type { QueueWork } from '../store/queue-types.js';

/** A little after the due time: the database compares with its transaction's start. */
const AFTER_DUE_MS = 50;

/**
 * The poll's next due moment on this host's clock (epoch ms), given when its answer came here
 * (answeredAt); null: nothing falls due by itself.
 */
export function dueAtHere(work: Partial<Pick<QueueWork, 'next_wake_at' | 'db_now'>>, answeredAt: number): number | null {
  const at = work.next_wake_at ? Date.parse(work.next_wake_at) : NaN;
  if (Number.isNaN(at)) return null;
  const now = work.db_now ? Date.parse(work.db_now) : NaN;
  return answeredAt + Math.max(0, at - (Number.isNaN(now) ? answeredAt : now)) + AFTER_DUE_MS;
}

/**
 * How long an idle supervisor sleeps: until its next poll (lastPoll + idleMs), or until the next
 * due moment when that comes first. A due moment already past (a schedule that could not fire)
 * waits for the poll: no tight loop.
 */
export function idleWaitMs(nextWakeAt: number | null, lastPoll: number, idleMs: number, now: number): number {
  const wake = nextWakeAt !== null && nextWakeAt > now ? nextWakeAt : Infinity;
  return Math.max(0, Math.min(lastPoll + idleMs, wake) - now);
}
