// One pass of the agent over everything it looks after. `lab-agent tick` runs it once (cron);
// the supervisor runs it whenever woken and on its polling interval.
import type { AgentContext } from './context.js';
import { publishHostIfDue } from '../gpu/publish.js';
import { runJobPass, type JobPassResult } from './job-driver.js';
import { runJupyterPass } from './jupyter-driver.js';

export interface TickResult {
  jobs: JobPassResult;
  /** Something still runs: the supervisor should look again soon. */
  busy: boolean;
  /** Work is waiting for a free slot that a pass right now would fill. */
  more: boolean;
  /** When something falls due by itself: the idle supervisor wakes then, not only on its poll. */
  wake: JobPassResult['wake'];
}

/** The inventory sync in flight, if any: the supervisor waits for it before it closes the store. */
export const syncInFlight = (ctx: AgentContext): Promise<unknown> => ctx.syncing ?? Promise.resolve();

export async function agentTick(ctx: AgentContext, opts: { claim: boolean; backgroundSync?: boolean }): Promise<TickResult> {
  const jobs = await runJobPass(ctx, opts);
  await publishHostIfDue(ctx); // the host's resources, for every member (at most every 30 s)
  const jupyter = await runJupyterPass(ctx, opts); // Jupyter sessions, after the jobs
  // Script inventory, when due (never throws). The supervisor lets a long scan run beside its
  // next ticks instead of holding up jobs; a cron tick waits for it before it exits.
  ctx.syncing ??= import('../inventory/sync-pass.js').then((m) => m.runSyncPass(ctx)).finally(() => (ctx.syncing = null));
  if (!opts.backgroundSync) await ctx.syncing;
  return { jobs, busy: jobs.active > 0 || jupyter.active > 0, more: jobs.more, wake: jobs.wake };
}
