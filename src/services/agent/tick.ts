// One pass of the agent over everything it looks after. `lab-agent tick` runs it once (cron);
// the supervisor runs it whenever woken and on its polling interval, and between polls, while
// jobs run, a local pass steps the jobs it holds without asking the database (job-driver.ts).
import type { AgentContext } from './context.js';
import { earliest, runJobPass, runLocalJobPass, type JobPassResult } from './job-driver.js';
import { pollWork } from './poll.js';
import { dueAtHere } from '../queue/next-wake.js';

export interface TickResult {
  jobs: JobPassResult;
  /** Something still runs: the supervisor should look again soon. */
  busy: boolean;
  /** Work is waiting for a free slot that a pass right now would fill. */
  more: boolean;
  /** A Jupyter server is starting or stopping: the next look needs the database's rows (a poll). */
  sessionsBusy: boolean;
  /** When something becomes due by itself (a retry's not_before, a schedule), on this host's clock (epoch ms). */
  nextWakeAt: number | null;
}

/** The inventory sync in flight, if any: the supervisor waits for it before it closes the store. */
export const syncInFlight = (ctx: AgentContext): Promise<unknown> => ctx.syncing ?? Promise.resolve();

/** local: only the jobs this process holds, from the local process table (no poll). */
export async function agentTick(ctx: AgentContext, opts: { claim: boolean; backgroundSync?: boolean; local?: boolean }): Promise<TickResult> {
  let result: TickResult;
  if (opts.local) {
    const jobs = await runLocalJobPass(ctx);
    result = { jobs, busy: jobs.active > 0, more: false, sessionsBusy: false, nextWakeAt: jobs.dueAt };
  } else {
    const work = await pollWork(ctx); // the pass's one read: jobs, due email and schedules, sessions
    const answeredAt = Date.now();
    const jobs = await runJobPass(ctx, opts, work);
    const jupyter = await (await import('./jupyter-driver.js')).runJupyterPass(ctx, opts, work.sessions); // Jupyter sessions, after the jobs
    const nextWakeAt = earliest(dueAtHere(work, answeredAt), jobs.dueAt);
    result = { jobs, busy: jobs.active > 0 || jupyter.active > 0, more: jobs.more, sessionsBusy: jupyter.active > 0, nextWakeAt };
  }
  // Script inventory, when due (never throws). The supervisor lets a long scan run beside its
  // next ticks instead of holding up jobs; a cron tick waits for it before it exits.
  ctx.syncing ??= import('../inventory/sync-pass.js').then((m) => m.runSyncPass(ctx)).finally(() => (ctx.syncing = null));
  if (!opts.backgroundSync) await ctx.syncing;
  return result;
}
