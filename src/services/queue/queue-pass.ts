// The queue's part of an agent's pass (issue 17), called by the job driver with what
// jobs_for_agent returned: due schedules make their jobs (before the claim, so they can start in
// the same pass), finished sweeps get their one email, and a drain is said once in the log.
// What does the work (cron, the email) is loaded only when something is due: an idle tick skips it.
import type { AgentContext } from '../agent/context.js';
import type { AgentWork } from '../store/types.js';

const drainedSaid = new WeakMap<AgentContext, boolean>();

/** Returns how many schedules fired and how many jobs they made. Never throws: a failure is logged and tried next pass. */
export async function runQueuePass(ctx: AgentContext, work: AgentWork): Promise<{ fired: number; made: number }> {
  if (Boolean(work.drained) !== (drainedSaid.get(ctx) ?? false)) {
    drainedSaid.set(ctx, Boolean(work.drained));
    ctx.log.info({ host: ctx.host }, work.drained ? 'host drained: claiming nothing new, running jobs go on' : 'host resumed: claiming again');
  }
  const made = work.schedules_due?.length ? await (await import('./schedules.js')).fireDueSchedules(ctx.store, ctx.log, work.schedules_due) : { fired: 0, made: 0 };
  const sweeps = work.sweeps_notify_due ?? [];
  if (sweeps.length) {
    const { notifySweep } = await import('./sweep-notify.js');
    for (const sweep of sweeps) {
      await notifySweep(ctx, sweep).catch((err: Error) => ctx.log.error({ sweep: sweep.sweep_id, err: err.message }, 'sweep email step failed'));
    }
  }
  return made;
}
