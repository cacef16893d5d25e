// The queue's part of an agent's pass (issue 17), called by the job driver with what
// jobs_for_agent returned: due schedules make their jobs (before the claim, so they can start in
// the same pass), finished sweeps get their one email, and a drain is said once in the log.
import { nextNotifyAttempt } from '../notify-backoff.js';
import { messageIdFor, sendRecorded } from '../agent/send-recorded.js';
import type { AgentContext } from '../agent/context.js';
import type { SweepRow } from '../store/queue-types.js';
import type { AgentWork } from '../store/types.js';
import { fireDueSchedules } from './schedules.js';
import { renderSweepEmail } from './sweep-email.js';

const drainedSaid = new WeakMap<AgentContext, boolean>();

/** Returns how many schedules fired and how many jobs they made. Never throws: a failure is logged and tried next pass. */
export async function runQueuePass(ctx: AgentContext, work: AgentWork): Promise<{ fired: number; made: number }> {
  if (Boolean(work.drained) !== (drainedSaid.get(ctx) ?? false)) {
    drainedSaid.set(ctx, Boolean(work.drained));
    ctx.log.info({ host: ctx.host }, work.drained ? 'host drained: claiming nothing new, running jobs go on' : 'host resumed: claiming again');
  }
  const made = work.schedules_due?.length ? await fireDueSchedules(ctx.store, ctx.log, work.schedules_due) : { fired: 0, made: 0 };
  for (const sweep of work.sweeps_notify_due ?? []) {
    await notifySweep(ctx, sweep).catch((err: Error) => ctx.log.error({ sweep: sweep.sweep_id, err: err.message }, 'sweep email step failed'));
  }
  return made;
}

/** The sweep's one email, with the same lease and record-on-send rules as a job's. */
async function notifySweep(ctx: AgentContext, sweep: SweepRow): Promise<void> {
  const view = await ctx.store.beginSweepNotify({ sweepId: sweep.sweep_id, agentId: ctx.agentId });
  if (!view) return; // another agent has it, or it is not due
  const mailer = await ctx.mailer();
  const record = (send: () => Promise<void>) => ctx.store.markSweepNotifiedOnSend({ sweepId: sweep.sweep_id, send });
  if (!mailer) {
    await record(async () => undefined); // LAB_EMAIL empty: nothing to send
    return;
  }
  const message = { to: ctx.config.email, ...renderSweepEmail(view, { host: ctx.host }), messageId: messageIdFor('sweep', sweep.sweep_id) };
  const done = await sendRecorded(mailer, message, record);
  if (done.sent) {
    ctx.log.info({ sweep: sweep.sweep_id }, 'sweep email sent');
    return;
  }
  const attempts = view.sweep.notify_attempts + 1;
  const next = nextNotifyAttempt(attempts, new Date(view.sweep.finished_at ?? Date.now()), new Date());
  const retryAt = 'retryAt' in next ? next.retryAt : null;
  ctx.log.warn({ sweep: sweep.sweep_id, attempts, retryAt, err: done.error.message }, retryAt ? 'sweep email not sent; will retry' : 'sweep email not sent; giving up after a day');
  await ctx.store.sweepNotifyFailed({ sweepId: sweep.sweep_id, error: done.error.message, retryAt });
}
