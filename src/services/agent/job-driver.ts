// One pass over this agent's jobs: claim what fits in the free slots, then drive every job this
// agent looks after (claimed, running, or with an email due) one step. The machines and actors
// (job-step.ts) are loaded only when a row needs a step: an idle cron tick stops before them.
// Between polls the supervisor runs a local pass (runLocalJobPass): the jobs this process holds,
// checked against the local process table, with no request to the database.
import { isQuiet, type JobMachineInput } from '../../machines/job-rules.js';
import { claimWithGpus } from '../gpu/agent-gpus.js';
import { isSameProcess } from '../host/process-identity.js';
import type { AgentWork, JobRow } from '../store/types.js';
import type { AgentContext } from './context.js';
import { pollWork } from './poll.js';
import { runQueuePass } from '../queue/queue-pass.js';

export interface JobPassResult {
  claimed: number;
  stepped: number;
  /** Jobs still claimed or running after the pass: the supervisor checks them again soon. */
  active: number;
  pendingLeft: number;
  /** Slots are free and jobs wait: another pass right away would start more. */
  more: boolean;
  /**
   * This pass changed what falls due after the poll's answer (a retry's not_before, a schedule
   * fired): look again then (epoch ms, this host's clock); null: nothing new.
   */
  dueAt: number | null;
}

/** A schedule that fired made its next due time newer than the poll's answer: poll again this soon. */
const AFTER_FIRE_MS = 500;

function input(ctx: AgentContext, row: JobRow, now: number): JobMachineInput {
  return { row, now, killGraceMs: ctx.config.killGraceS * 1000, heartbeatMs: 5000, defaultTimeoutS: ctx.config.jobTimeoutS };
}

/** Running, its process alive (the local process table), nothing due: no step (no probe, no machine). */
function quiet(ctx: AgentContext, job: JobRow, now: number, stepped: Map<string, number>): boolean {
  const seen = Math.max(Date.parse(job.heartbeat_at ?? '') || 0, stepped.get(job.job_id) ?? 0);
  const asOf = { ...job, heartbeat_at: new Date(seen).toISOString() };
  return isQuiet(input(ctx, asOf, now)) && job.pid !== null && isSameProcess(job.pid, job.pid_start);
}

/**
 * A pass with the database's view: `work` is what this pass's poll answered (agent_poll; polled
 * here when not given). Claims what fits, steps every job the agent looks after.
 */
export async function runJobPass(ctx: AgentContext, opts: { claim: boolean }, work: AgentWork | null = null): Promise<JobPassResult> {
  work ??= await pollWork(ctx);
  const queued = await runQueuePass(ctx, work); // due schedules make their jobs, sweep emails go
  const free = ctx.config.maxParallel - work.active.length;
  const claimed = opts.claim && free > 0 && work.pending + queued.made > 0
    ? await claimWithGpus(ctx, (gpus) => ctx.store.claimJobs({ agentId: ctx.agentId, host: ctx.host, limit: free, defaultRetries: ctx.config.jobRetries, ...gpus }))
    : [];
  const rows = await stepAll(ctx, [...claimed, ...work.active], work.notify_due, Date.now());
  const active = rows.filter(isActive).length;
  const pendingLeft = Math.max(0, work.pending - claimed.length);
  // Fewer claimed than there was room for: the rest wait (for GPUs ...); another pass now would not start them.
  const fits = claimed.length >= free;
  const firedAt = queued.fired > 0 ? Date.now() + AFTER_FIRE_MS : null;
  return {
    claimed: claimed.length, stepped: rows.length, active, pendingLeft, more: opts.claim && fits && pendingLeft > 0 && active < ctx.config.maxParallel,
    dueAt: earliest(retryAt(rows), firedAt),
  };
}

/**
 * A pass without the database (the supervisor between polls, while jobs run): the rows this
 * process holds from its last steps, each checked against the local process table; a step
 * writes only when it has something to say (tails, the end, the email).
 */
export async function runLocalJobPass(ctx: AgentContext): Promise<JobPassResult> {
  const rows = await stepAll(ctx, [...ctx.heldJobs.values()], [], Date.now());
  const active = rows.filter(isActive).length;
  return { claimed: 0, stepped: rows.length, active, pendingLeft: 0, more: false, dueAt: retryAt(rows) };
}

export const earliest = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));

/** The earliest not_before among rows a step sent back to the queue (none: claimable now); null: none went back. */
function retryAt(rows: JobRow[]): number | null {
  const times = rows.filter((j) => j.status === 'pending').map((j) => Date.parse(j.not_before ?? '') || Date.now());
  return times.length ? Math.min(...times) : null;
}

const isActive = (j: JobRow) => j.status === 'claimed' || j.status === 'running';

/**
 * Steps the active jobs (quiet running ones skipped) and those with an email due, the machines
 * loaded only if a row needs a step; keeps what the next local pass needs. Returns every row as
 * its step left it (a quiet one as it was).
 */
async function stepAll(ctx: AgentContext, active: JobRow[], notifyDue: JobRow[], now: number): Promise<JobRow[]> {
  // Only the jobs still running are remembered (ctx.lastStepped: a heartbeat between reads of the tails).
  const known = ctx.lastStepped;
  const stepped = new Map(active.flatMap((j) => (known.has(j.job_id) ? [[j.job_id, known.get(j.job_id)!] as const] : [])));
  ctx.lastStepped = stepped;
  const due = (job: JobRow) => {
    if (job.status !== 'claimed' && quiet(ctx, job, now, stepped)) return false;
    if (job.status !== 'claimed') stepped.set(job.job_id, now);
    return true;
  };
  const toStep = [...active.filter(due), ...notifyDue];
  const quietOnes = active.filter((job) => !toStep.includes(job));
  const steps = toStep.length ? await Promise.all((await import('./job-step.js')).stepJobs(ctx, toStep, input)) : [];
  const rows = [...steps, ...quietOnes];
  // Held for the local passes: what still runs here. A job that ended has had its email tried in
  // the same step (ended → notifying); one still due (another agent's lease, a retry) comes with a poll.
  ctx.heldJobs = new Map(rows.filter(isActive).map((j) => [j.job_id, j]));
  return rows;
}
