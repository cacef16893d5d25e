// A finished sweep's one email (issue 17), loaded by the queue pass (queue-pass.ts) only when one is due.
import { nextNotifyAttempt } from '../notify-backoff.js';
import { messageIdFor, sendRecorded } from '../agent/send-recorded.js';
import type { AgentContext } from '../agent/context.js';
import type { SweepRow } from '../store/queue-types.js';
import { renderSweepEmail } from './sweep-email.js';

/** The sweep's one email, with the same lease and record-on-send rules as a job's. */
export async function notifySweep(ctx: AgentContext, sweep: SweepRow): Promise<void> {
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
