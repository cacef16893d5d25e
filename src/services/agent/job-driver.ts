// One pass over this agent's jobs: claim what fits in the free slots, then drive every job this
// agent looks after (claimed, running, or with an email due) one step. The machines and actors
// (job-step.ts) are loaded only when a row needs a step: an idle cron tick stops before them.
import { isQuiet, type JobMachineInput } from '../../machines/job-rules.js';
import { claimWithGpus } from '../gpu/agent-gpus.js';
import { isSameProcess } from '../host/process-identity.js';
import type { JobRow } from '../store/types.js';
import type { AgentContext } from './context.js';
import { runQueuePass } from '../queue/queue-pass.js';
import { wakePlan, type WakePlan } from '../queue/next-wake.js';

export interface JobPassResult {
  claimed: number;
  stepped: number;
  /** Jobs still claimed or running after the pass: the supervisor checks them again soon. */
  active: number;
  pendingLeft: number;
  /** Slots are free and jobs wait: another pass right away would start more. */
  more: boolean;
  /** When something falls due by itself (a retry, a schedule), as read at answeredAt (this host's clock). */
  wake: WakePlan & { answeredAt: number };
}

function input(ctx: AgentContext, row: JobRow, now: number): JobMachineInput {
  return { row, now, killGraceMs: ctx.config.killGraceS * 1000, heartbeatMs: 5000, defaultTimeoutS: ctx.config.jobTimeoutS };
}

/** Running, its process alive (the local process table), nothing due: no step (no probe, no machine). */
function quiet(ctx: AgentContext, job: JobRow, now: number, stepped: Map<string, number>): boolean {
  const seen = Math.max(Date.parse(job.heartbeat_at ?? '') || 0, stepped.get(job.job_id) ?? 0);
  const asOf = { ...job, heartbeat_at: new Date(seen).toISOString() };
  return isQuiet(input(ctx, asOf, now)) && job.pid !== null && isSameProcess(job.pid, job.pid_start);
}

/** The running jobs that need a step now (the others are quiet: their status stands). */
function dueRunning(ctx: AgentContext, active: JobRow[], now: number, stepped: Map<string, number>): JobRow[] {
  return active.filter((job) => {
    if (quiet(ctx, job, now, stepped)) return false;
    stepped.set(job.job_id, now);
    return true;
  });
}

/** Each row's step (where it rests afterwards), the machines loaded only if there is one. */
async function stepAll(ctx: AgentContext, rows: JobRow[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const { stepJobs } = await import('./job-step.js');
  return Promise.all(stepJobs(ctx, rows, input));
}

export async function runJobPass(ctx: AgentContext, opts: { claim: boolean }): Promise<JobPassResult> {
  const work = await ctx.store.agentWork(ctx.host);
  const answeredAt = Date.now();
  const queued = await runQueuePass(ctx, work); // due schedules make their jobs, sweep emails go
  const free = ctx.config.maxParallel - work.active.length;
  const claimed = opts.claim && free > 0 && work.pending + queued.made > 0 ? await claimWithGpus(ctx, (gpus) => ctx.store.claimJobs({ agentId: ctx.agentId, host: ctx.host, limit: free, defaultRetries: ctx.config.jobRetries, ...gpus })) : [];
  const now = Date.now();
  // Only the jobs still running are remembered (ctx.lastStepped: a heartbeat between reads of the tails).
  const known = ctx.lastStepped;
  const stepped = new Map(work.active.flatMap((j) => (known.has(j.job_id) ? [[j.job_id, known.get(j.job_id)!] as const] : [])));
  ctx.lastStepped = stepped;
  const running = dueRunning(ctx, work.active, now, stepped);
  const quietOnes = work.active.filter((job) => !running.includes(job)).map((job) => job.status);
  const steps = await stepAll(ctx, [...claimed, ...running, ...work.notify_due]);
  const results = [...steps, ...quietOnes];
  const active = results.filter((s) => s === 'claimed' || s === 'running').length;
  // A claimed or running job now pending went back to the queue (a retry, a release): its not_before is newer than the read.
  const requeued = steps.slice(0, claimed.length + running.length).filter((s) => s === 'pending').length;
  const pendingLeft = Math.max(0, work.pending - claimed.length);
  // Fewer claimed than there was room for: the rest wait (for GPUs ...); another pass now would not start them.
  const fits = claimed.length >= free;
  return {
    claimed: claimed.length, stepped: results.length, active, pendingLeft, more: opts.claim && fits && pendingLeft > 0 && active < ctx.config.maxParallel,
    wake: { ...wakePlan(work, { requeued, fired: queued.fired }), answeredAt },
  };
}
