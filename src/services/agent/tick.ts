// One pass of the agent over everything it looks after. `lab-agent tick` runs it once (cron);
// the supervisor runs it whenever woken and on its polling interval.
import type { AgentContext } from './context.js';
import { runJobPass, type JobPassResult } from './job-driver.js';

export interface TickResult {
  jobs: JobPassResult;
  /** Something still runs: the supervisor should look again soon. */
  busy: boolean;
  /** Work is waiting for a free slot that a pass right now would fill. */
  more: boolean;
}

export async function agentTick(ctx: AgentContext, opts: { claim: boolean }): Promise<TickResult> {
  const jobs = await runJobPass(ctx, opts);
  await (await import('../inventory/sync-pass.js')).runSyncPass(ctx); // script inventory, when due (never throws)
  return { jobs, busy: jobs.active > 0, more: jobs.more };
}
