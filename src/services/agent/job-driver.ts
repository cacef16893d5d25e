// One pass over this agent's jobs: claim what fits in the free slots, then drive every job this
// agent looks after (claimed, running, or with an email due) one step.
import { jobMachine } from '../../machines/job-machine.js';
import { isQuiet, type JobMachineInput } from '../../machines/job-rules.js';
import { JOB_RESTING_STATES } from '../../machines/job-states.js';
import { gpuSetting, prepareGpuClaim } from '../gpu/agent-gpus.js';
import { isSameProcess } from '../host/process-identity.js';
import type { JobRow } from '../store/types.js';
import type { AgentContext } from './context.js';
import { jobActors } from './job-actors.js';
import { provideOnce, stepRow, type Lifecycle } from './machine-runner.js';
import { runQueuePass } from '../queue/queue-pass.js';
import { wakePlan, type WakePlan } from '../queue/next-wake.js';
import { newSlurmPass, runsOnSlurm, slurmJobMachine } from '../slurm/slurm-job-actors.js';

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

/** The same machine with the actors of the executor that runs the row (LAB_EXECUTOR=slurm: slurm/). */
function machineFor(ctx: AgentContext, job: JobRow) {
  if (runsOnSlurm(ctx, job)) return slurmJobMachine(ctx);
  return provideOnce(ctx, jobMachine, () => jobMachine.provide({ actors: jobActors(ctx) }));
}

function input(ctx: AgentContext, row: JobRow, now: number): JobMachineInput {
  return { row, now, killGraceMs: ctx.config.killGraceS * 1000, heartbeatMs: 5000, defaultTimeoutS: ctx.config.jobTimeoutS };
}

/** Jobs for the generic step: a claimed row starts its machine in `claimed`, as the database has it. */
const jobs: Lifecycle<JobRow, JobMachineInput> = {
  kind: 'job',
  machine: machineFor,
  idOf: (row) => row.job_id,
  input,
  resting: JOB_RESTING_STATES,
};

const step = (ctx: AgentContext, job: JobRow) => stepRow(ctx, jobs, job);

/** Running, its process alive (the local process table), nothing due: no step (no probe, no machine). */
function quiet(ctx: AgentContext, job: JobRow, now: number, stepped: Map<string, number>): boolean {
  const seen = Math.max(Date.parse(job.heartbeat_at ?? '') || 0, stepped.get(job.job_id) ?? 0);
  const asOf = { ...job, heartbeat_at: new Date(seen).toISOString() };
  return isQuiet(input(ctx, asOf, now)) && job.pid !== null && isSameProcess(job.pid, job.pid_start);
}

function stepRunning(ctx: AgentContext, job: JobRow, now: number, stepped: Map<string, number>): Promise<string> | string {
  if (quiet(ctx, job, now, stepped)) return job.status;
  stepped.set(job.job_id, now);
  return step(ctx, job);
}

/** The claim, told which GPUs this tick's probe saw free (src/services/gpu/agent-gpus.ts). */
async function claimWithGpus(ctx: AgentContext, limit: number): Promise<JobRow[]> {
  // On a Slurm agent the cluster places GPU jobs (--gres): the claim leases nothing on this host.
  const gpus = ctx.config.executor === 'slurm' ? { view: { placement: 'scheduler' }, settle: () => undefined } : await prepareGpuClaim(ctx);
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
  newSlurmPass(ctx);
  const work = await ctx.store.agentWork(ctx.host);
  const answeredAt = Date.now();
  const queued = await runQueuePass(ctx, work); // due schedules make their jobs, sweep emails go
  const free = ctx.config.maxParallel - work.active.length;
  const claimed = opts.claim && free > 0 && work.pending + queued.made > 0 ? await claimWithGpus(ctx, free) : [];
  const now = Date.now();
  // Only the jobs still running are remembered (ctx.lastStepped: a heartbeat between reads of the tails).
  const known = ctx.lastStepped;
  const stepped = new Map(work.active.flatMap((j) => (known.has(j.job_id) ? [[j.job_id, known.get(j.job_id)!] as const] : [])));
  ctx.lastStepped = stepped;
  const results = await Promise.all([
    ...claimed.map((job) => step(ctx, job)),
    ...work.active.map((job) => stepRunning(ctx, job, now, stepped)),
    ...work.notify_due.map((job) => step(ctx, job)),
  ]);
  const active = results.filter((s) => s === 'claimed' || s === 'running').length;
  // A claimed or running job now pending went back to the queue (a retry, a release): its not_before is newer than the read.
  const requeued = results.slice(0, claimed.length + work.active.length).filter((s) => s === 'pending').length;
  const pendingLeft = Math.max(0, work.pending - claimed.length);
  // Fewer claimed than there was room for: the rest wait (for GPUs ...); another pass now would not start them.
  const fits = claimed.length >= free;
  return {
    claimed: claimed.length, stepped: results.length, active, pendingLeft, more: opts.claim && fits && pendingLeft > 0 && active < ctx.config.maxParallel,
    wake: { ...wakePlan(work, { requeued, fired: queued.fired }), answeredAt },
  };
}
