// When the supervisor should look again by itself (issue 17): a retry's not_before or a schedule's
// next due time may come long before the next poll. jobs_for_agent names the earliest such moment
// and the database's clock when it answered; the wait is measured on the database's clock, so a
// host whose clock is off still wakes on time. A pass that put a job back in the queue (a retry) or
// fired a schedule changed what is due after the read: the supervisor reads again soon. Pure.
import type { QueueWork } from '../store/queue-types.js';

/** A little after the due time: the database compares with its transaction's start. */
const AFTER_DUE_MS = 50;

export interface WakePlan {
  /** Milliseconds from when the answer came until the next due moment; null: nothing is due by itself. */
  dueInMs: number | null;
  /** This pass changed what is due after the read (a retry queued, a schedule fired): read again soon. */
  stale: boolean;
}

export function wakePlan(work: Partial<Pick<QueueWork, 'next_wake_at' | 'db_now'>>, pass: { requeued: number; fired: number }): WakePlan {
  const at = work.next_wake_at ? Date.parse(work.next_wake_at) : NaN;
  const now = work.db_now ? Date.parse(work.db_now) : NaN;
  const dueInMs = Number.isNaN(at) ? null : Math.max(0, at - (Number.isNaN(now) ? Date.now() : now)) + AFTER_DUE_MS;
  return { dueInMs, stale: pass.requeued > 0 || pass.fired > 0 };
}

/**
 * How long an idle supervisor sleeps: its poll interval, or less when something falls due first
 * (plan.answeredAt: when the read's answer came, on this host's clock, as `now`).
 */
export function idleWaitMs(plan: (WakePlan & { answeredAt: number }) | undefined, idleMs: number, soonMs: number, now: number): number {
  if (!plan) return idleMs;
  if (plan.stale) return Math.min(idleMs, soonMs);
  if (plan.dueInMs === null) return idleMs;
  return Math.min(idleMs, Math.max(0, plan.dueInMs - (now - plan.answeredAt)));
}
