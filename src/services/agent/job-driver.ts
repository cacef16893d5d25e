// One pass over this agent's jobs: claim what fits in the free slots, then drive every job this
// agent looks after (claimed, running, or with an email due) one step.
import { jobMachine } from '../../machines/job-machine.js';
import { isQuiet, type JobMachineInput } from '../../machines/job-rules.js';
import { JOB_RESTING_STATES } from '../../machines/job-states.js';
import { gpuSetting, prepareGpuClaim } from '../gpu/agent-gpus.js';
import { isSameProcess } from '../host/process-identity.js';
import type { AgentWork, JobRow } from '../store/types.js';
import type { AgentContext } from './context.js';
import { jobActors } from './job-actors.js';
import { provideOnce, stepRowTo, type Lifecycle } from './machine-runner.js';
import { pollWork } from './poll.js';
import { runQueuePass } from '../queue/queue-pass.js';
import { newSlurmPass, runsOnSlurm, slurmJobMachine } from '../slurm/slurm-job-actors.js';

export interface JobPassResult {
  claimed: number;
  stepped: number;
  /** Jobs still claimed or running after the pass: the supervisor checks them again soon. */
  active: number;
  pendingLeft: number;
  /** Slots are free and jobs wait: another pass right away would start more. */
  more: boolean;
  /** A job this pass sent back to the queue until later (a retry's not_before, epoch ms): the next look is due then. */
  retryAt: number | null;
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

const step = (ctx: AgentContext, job: JobRow) => stepRowTo(ctx, jobs, job);

/** Running, its process alive (the local process table), nothing due: no step (no probe, no machine). */
function quiet(ctx: AgentContext, job: JobRow, now: number, stepped: Map<string, number>): boolean {
  const seen = Math.max(Date.parse(job.heartbeat_at ?? '') || 0, stepped.get(job.job_id) ?? 0);
  const asOf = { ...job, heartbeat_at: new Date(seen).toISOString() };
  return isQuiet(input(ctx, asOf, now)) && job.pid !== null && isSameProcess(job.pid, job.pid_start);
}

function stepRunning(ctx: AgentContext, job: JobRow, now: number, stepped: Map<string, number>): Promise<JobRow> | JobRow {
  if (quiet(ctx, job, now, stepped)) return job;
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

/**
 * A pass with the database's view: `work` is what this pass's poll answered (agent_poll; polled
 * here when not given). Claims what fits, steps every job the agent looks after.
 */
export async function runJobPass(ctx: AgentContext, opts: { claim: boolean }, work: AgentWork | null = null): Promise<JobPassResult> {
  newSlurmPass(ctx);
  work ??= await pollWork(ctx);
  const queued = await runQueuePass(ctx, work); // due schedules make their jobs, sweep emails go
  const free = ctx.config.maxParallel - work.active.length;
  const claimed = opts.claim && free > 0 && work.pending + queued > 0 ? await claimWithGpus(ctx, free) : [];
  const now = Date.now();
  const rows = await stepAll(ctx, [...claimed, ...work.active], work.notify_due, now);
  const active = rows.filter(isActive).length;
  const pendingLeft = Math.max(0, work.pending - claimed.length);
  // Fewer claimed than there was room for: the rest wait (for GPUs ...); another pass now would not start them.
  const fits = claimed.length >= free;
  return {
    claimed: claimed.length, stepped: rows.length, active, pendingLeft, more: opts.claim && fits && pendingLeft > 0 && active < ctx.config.maxParallel,
    retryAt: retryAt(rows),
  };
}

/**
 * A pass without the database (the supervisor between polls, while jobs run): the rows this
 * process holds from its last steps, each checked against the local process table; a step
 * writes only when it has something to say (tails, the end, the email).
 */
export async function runLocalJobPass(ctx: AgentContext): Promise<JobPassResult> {
  newSlurmPass(ctx);
  const rows = await stepAll(ctx, [...ctx.heldJobs.values()], [], Date.now());
  const active = rows.filter(isActive).length;
  return { claimed: 0, stepped: rows.length, active, pendingLeft: 0, more: false, retryAt: retryAt(rows) };
}

/** The earliest not_before among rows a step sent back to the queue (null: none). */
function retryAt(rows: JobRow[]): number | null {
  const times = rows.filter((j) => j.status === 'pending').map((j) => Date.parse(j.not_before ?? '')).filter((t) => t > 0);
  return times.length ? Math.min(...times) : null;
}

const isActive = (j: JobRow) => j.status === 'claimed' || j.status === 'running';

/** Steps the active jobs (quiet running ones skipped) and those with an email due; keeps what the next local pass needs. */
async function stepAll(ctx: AgentContext, active: JobRow[], notifyDue: JobRow[], now: number): Promise<JobRow[]> {
  // Only the jobs still running are remembered (ctx.lastStepped: a heartbeat between reads of the tails).
  const known = ctx.lastStepped;
  const stepped = new Map(active.flatMap((j) => (known.has(j.job_id) ? [[j.job_id, known.get(j.job_id)!] as const] : [])));
  ctx.lastStepped = stepped;
  const rows = await Promise.all([
    ...active.map((job) => (job.status === 'claimed' ? step(ctx, job) : stepRunning(ctx, job, now, stepped))),
    ...notifyDue.map((job) => step(ctx, job)),
  ]);
  // Held for the local passes: what still runs here. A job that ended has had its email tried in
  // the same step (ended → notifying); one still due (another agent's lease, a retry) comes with a poll.
  ctx.heldJobs = new Map(rows.filter(isActive).map((j) => [j.job_id, j]));
  return rows;
}
