// One pass over this agent's jobs: claim what fits in the free slots, then drive every job this
// agent looks after (claimed, running, or with an email due) one step.
import { isQuiet, jobMachine, JOB_RESTING_STATES, type JobMachineInput } from '../../machines/job-machine.js';
import { gpuSetting, prepareGpuClaim } from '../gpu/agent-gpus.js';
import { isSameProcess } from '../host/process-identity.js';
import type { JobRow } from '../store/types.js';
import type { AgentContext } from './context.js';
import { jobActors } from './job-actors.js';
import { provideOnce, stepMachine } from './machine-runner.js';
import { runQueuePass } from '../queue/queue-pass.js';

export interface JobPassResult {
  claimed: number;
  stepped: number;
  /** Jobs still claimed or running after the pass: the supervisor checks them again soon. */
  active: number;
  pendingLeft: number;
  /** Slots are free and jobs wait: another pass right away would start more. */
  more: boolean;
}

function machineFor(ctx: AgentContext) {
  return provideOnce(ctx, jobMachine, () => jobMachine.provide({ actors: jobActors(ctx) }));
}

function input(ctx: AgentContext, job: JobRow, now: number): JobMachineInput {
  return { job, now, killGraceMs: ctx.config.killGraceS * 1000, heartbeatMs: 5000, defaultTimeoutS: ctx.config.jobTimeoutS };
}

/** A row the claim just moved: its machine starts from the row as it was (pending) and hears CLAIMED. */
function beforeClaim(row: JobRow): JobRow {
  return { ...row, status: 'pending', claimed_at: null, agent_id: null, run_host: null };
}

async function step(ctx: AgentContext, job: JobRow, claimed: boolean): Promise<string> {
  const now = Date.now();
  const events = claimed ? [{ type: 'CLAIMED', job }, { type: 'TICK', now }] : [{ type: 'TICK', now }];
  try {
    return await stepMachine({
      machine: machineFor(ctx), input: input(ctx, claimed ? beforeClaim(job) : job, now), events,
      resting: JOB_RESTING_STATES, kind: 'job', id: job.job_id, log: ctx.log, trace: ctx.trace,
    });
  } catch (err) {
    // One job's trouble never stops the pass: the next tick tries it again.
    ctx.log.error({ job: job.job_id, err: (err as Error).message }, 'job step failed');
    return job.status;
  }
}

// When this process last stepped each running job: tails are read again only a heartbeat later,
// even when they did not change (then the row's heartbeat_at stays as it was).
const lastStep = new WeakMap<AgentContext, Map<string, number>>();

/** Running, its process alive (the local process table), nothing due: no step (no probe, no machine). */
function quiet(ctx: AgentContext, job: JobRow, now: number, stepped: Map<string, number>): boolean {
  const seen = Math.max(Date.parse(job.heartbeat_at ?? '') || 0, stepped.get(job.job_id) ?? 0);
  const asOf = { ...job, heartbeat_at: new Date(seen).toISOString() };
  return isQuiet(input(ctx, asOf, now)) && job.pid !== null && isSameProcess(job.pid, job.pid_start);
}

function stepRunning(ctx: AgentContext, job: JobRow, now: number, stepped: Map<string, number>): Promise<string> | string {
  if (quiet(ctx, job, now, stepped)) return job.status;
  stepped.set(job.job_id, now);
  return step(ctx, job, false);
}

/** The claim, told which GPUs this tick's probe saw free (src/services/gpu/agent-gpus.ts). */
async function claimWithGpus(ctx: AgentContext, limit: number): Promise<JobRow[]> {
  const gpus = await prepareGpuClaim(ctx);
  let claimed: JobRow[] = [];
  try {
    claimed = await ctx.store.claimJobs({
      agentId: ctx.agentId, host: ctx.host, limit, defaultRetries: ctx.config.jobRetries, gpus: gpus.view,
      gpuReserveAfterS: gpuSetting(ctx, 'LAB_GPU_RESERVE_AFTER_S'), gpuLeaseStaleS: gpuSetting(ctx, 'LAB_GPU_LEASE_STALE_S'),
    });
  } finally {
    gpus.settle(claimed);
  }
  return claimed;
}

export async function runJobPass(ctx: AgentContext, opts: { claim: boolean }): Promise<JobPassResult> {
  const work = await ctx.store.agentWork(ctx.host);
  const queued = await runQueuePass(ctx, work); // due schedules make their jobs, sweep emails go
  const free = ctx.config.maxParallel - work.active.length;
  const claimed = opts.claim && free > 0 && work.pending + queued > 0 ? await claimWithGpus(ctx, free) : [];
  const now = Date.now();
  const known = lastStep.get(ctx) ?? new Map<string, number>();
  const stepped = new Map(work.active.flatMap((j) => (known.has(j.job_id) ? [[j.job_id, known.get(j.job_id)!] as const] : [])));
  lastStep.set(ctx, stepped);
  const results = await Promise.all([
    ...claimed.map((job) => step(ctx, job, true)),
    ...work.active.map((job) => stepRunning(ctx, job, now, stepped)),
    ...work.notify_due.map((job) => step(ctx, job, false)),
  ]);
  const active = results.filter((s) => s === 'claimed' || s === 'running').length;
  const pendingLeft = Math.max(0, work.pending - claimed.length);
  // Fewer claimed than there was room for: the rest wait (for GPUs ...); another pass now would not start them.
  const fits = claimed.length >= free;
  return { claimed: claimed.length, stepped: results.length, active, pendingLeft, more: opts.claim && fits && pendingLeft > 0 && active < ctx.config.maxParallel };
}
