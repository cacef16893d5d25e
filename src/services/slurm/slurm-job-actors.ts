// The Slurm executor: the job machine's start, probe, stop and conclude actors for a job that Slurm
// runs (the rest, email and tails included, are the local executor's). The machine is the same:
// a claimed job's start submits it with sbatch and, while Slurm keeps it waiting, leaves the row
// claimed with Slurm's state and reason (the next pass's start finds the submission and looks
// again); once squeue says it runs, the row becomes running. Every look in one pass reads the same
// squeue answer.
import { jobMachine } from '../../machines/job-machine.js';
import type { JobOutcome, JobProbe } from '../../machines/job-rules.js';
import { step } from '../agent/row-actors.js';
import { provideOnce } from '../agent/machine-runner.js';
import type { AgentContext } from '../agent/context.js';
import { jobActors, logDirOf, prepareLaunch, readLaunchNote, recordOutcome, scriptOf, tails } from '../agent/job-actors.js';
import { memberUmask } from '../process-safety.js';
import { STDERR_FILE, STDOUT_FILE } from '../runner/wrapper.js';
import type { JobRow } from '../store/types.js';
import { join } from 'node:path';
import { SlurmAccounting } from './sacct.js';
import { createSlurmClient, SlurmCommandError } from './slurm-cli.js';
import { slurmOutcome, type SlurmProbe } from './slurm-end.js';
import { SlurmJobs } from './slurm-jobs.js';
import { submittedAt } from './submit.js';
import type { SlurmJobRow } from './slurm-row.js';
import { isWaiting, SlurmQueue } from './squeue.js';

interface Executor {
  jobs?: Promise<SlurmJobs>;
  made?: SlurmJobs;
  /** Resolves when every start that came before has had its turn at sbatch. */
  lastTurn?: Promise<void>;
}
const executors = new WeakMap<AgentContext, Executor>();

function executorOf(ctx: AgentContext): Executor {
  let e = executors.get(ctx);
  if (!e) executors.set(ctx, (e = {}));
  return e;
}

/** The agent's Slurm client, queue view and accounting, made once per agent process. */
export function slurmJobsFor(ctx: AgentContext): Promise<SlurmJobs> {
  const e = executorOf(ctx);
  e.jobs ??= ctx.loginEnv().then((loginEnv) => {
    const client = createSlurmClient({ loginEnv });
    return (e.made = new SlurmJobs({ client, queue: new SlurmQueue(client, ctx.config.values.LAB_USER || undefined, ctx.config.slurm.pollS * 1000), accounting: new SlurmAccounting(client) }));
  });
  return e.jobs;
}

/**
 * A place in line for sbatch, taken when a start begins (the pass starts them in claim order,
 * oldest first): Slurm numbers jobs, and runs equals, in the order sbatch reaches it, so the
 * queue's order survives the starts' concurrent preparation.
 */
function takeTurn(e: Executor): { ready: Promise<void>; done: () => void } {
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const ready = e.lastTurn ?? Promise.resolve();
  e.lastTurn = ready.then(() => mine);
  return { ready, done };
}

/** The job machine with the Slurm actors, provided once per agent process. */
export function slurmJobMachine(ctx: AgentContext) {
  return provideOnce(executorOf(ctx), jobMachine, () => jobMachine.provide({ actors: slurmJobActors(ctx) }));
}

/** A pass begins: its steps share one fresh squeue answer (asked only if one of them needs it). */
export function newSlurmPass(ctx: AgentContext): void {
  executors.get(ctx)?.made?.queue.newPass();
}

/** Rows the Slurm actors drive: those Slurm runs, and with LAB_EXECUTOR=slurm those not started yet. */
export function runsOnSlurm(ctx: AgentContext, job: JobRow): boolean {
  const executor = (job as SlurmJobRow).executor;
  return executor === 'slurm' || (!executor && ctx.config.executor === 'slurm' && (job.status === 'pending' || job.status === 'claimed'));
}

const resourcesOf = (job: SlurmJobRow) => ({
  partition: job.slurm_partition, cpus: job.cpus, memMb: job.mem_mb, timeMin: job.time_limit_min, gpus: job.gpus,
});

/** The submission first (once); then, each pass, Slurm's word: waiting (row stays claimed) or started. */
async function startSlurmJob(ctx: AgentContext, job: SlurmJobRow): Promise<JobRow> {
  const turn = takeTurn(executorOf(ctx));
  try {
    return await startInTurn(ctx, job, turn.ready);
  } finally {
    turn.done();
  }
}

async function startInTurn(ctx: AgentContext, job: SlurmJobRow, myTurn: Promise<void>): Promise<JobRow> {
  const slurm = await slurmJobsFor(ctx);
  const logDir = logDirOf(ctx, job);
  const id = job.slurm_job_id ?? (await slurm.submitted(job.job_id, logDir));
  if (!id) {
    const prepared = await prepareLaunch(ctx, job, scriptOf(job));
    // executor = 'slurm' is on the row before sbatch: an agent restarted with LAB_EXECUTOR=local never runs it here too.
    await ctx.store.slurmUpdateJob({ jobId: job.job_id, state: 'SUBMITTING' });
    await myTurn;
    const submitted = await slurm.submit(
      { jobId: job.job_id, prepared, umask: memberUmask(), timeoutS: job.timeout_s ?? ctx.config.jobTimeoutS, settings: ctx.config.slurm, resources: resourcesOf(job) },
      prepared.env,
    );
    ctx.log.info({ job: job.job_id, slurmJobId: submitted }, 'job submitted to Slurm');
    return ctx.store.slurmUpdateJob({ jobId: job.job_id, slurmJobId: submitted, state: 'PENDING', reason: 'submitted' });
  }
  let view;
  try {
    view = await slurm.look(id);
  } catch (err) {
    // The controller is away: the job is Slurm's all the same; look again next pass (never release it).
    if (!(err instanceof SlurmCommandError)) throw err;
    ctx.log.warn({ job: job.job_id, slurmJobId: id, err: err.message }, 'squeue failed; the job stays as it was');
    return job;
  }
  if (view && isWaiting(view)) return ctx.store.slurmUpdateJob({ jobId: job.job_id, slurmJobId: id, state: view.state, reason: view.reason });
  // An answer older than the submission cannot list it: wait for a newer one.
  if (!view && slurm.queue.askedAt < (await submittedAt(logDir))) return job;
  // Running, or already ended (or forgotten): it started. The probe reads how it ended.
  await ctx.store.slurmUpdateJob({ jobId: job.job_id, slurmJobId: id, state: view?.state ?? null, reason: view?.reason ?? null, node: view?.nodes ?? null });
  const note = await readLaunchNote(logDir);
  ctx.log.info({ job: job.job_id, slurmJobId: id, node: view?.nodes }, 'Slurm started the job');
  return ctx.store.startJob({
    jobId: job.job_id, agentId: ctx.agentId, pid: null, pidStart: null, interpreter: note?.interpreter ?? 'unknown', command: note?.argv ?? [],
    logDir, stdoutPath: join(logDir, STDOUT_FILE), stderrPath: join(logDir, STDERR_FILE),
  });
}

async function probeSlurmJob(ctx: AgentContext, job: SlurmJobRow): Promise<JobProbe> {
  const slurm = await slurmJobsFor(ctx);
  if (!job.slurm_job_id) throw new Error(`job ${job.job_id} runs on Slurm but has no Slurm job id`);
  return slurm.probe(job.slurm_job_id, logDirOf(ctx, job), { stdout: job.stdout_path, stderr: job.stderr_path });
}

/** scancel --signal: TERM first (the row says why before it goes), KILL after the grace. */
async function signalSlurmJob(ctx: AgentContext, job: SlurmJobRow, signal: 'TERM' | 'KILL'): Promise<void> {
  if (!job.slurm_job_id) return;
  await (await slurmJobsFor(ctx)).signal(job.slurm_job_id, signal);
  ctx.log.info({ job: job.job_id, slurmJobId: job.slurm_job_id, signal }, 'Slurm job signalled');
}

async function concludeSlurmJob(ctx: AgentContext, job: SlurmJobRow, outcome: JobOutcome, probe: JobProbe | null, via: string): Promise<JobRow> {
  const slurm = await slurmJobsFor(ctx);
  const id = job.slurm_job_id ?? (await slurm.submitted(job.job_id, logDirOf(ctx, job)));
  // A cancelled claim may be waiting in Slurm; a stopped job may have left something behind.
  if (id && (job.status === 'claimed' || job.kill_sent_at)) await slurm.cancel(id);
  const end = (probe as SlurmProbe | null)?.slurm;
  if (id && end?.state) await ctx.store.slurmUpdateJob({ jobId: job.job_id, slurmJobId: id, state: end.state, reason: job.slurm_reason ?? null });
  return recordOutcome(ctx, job, slurmOutcome(job, outcome, probe), probe ?? (await tails(job)), { via, probe });
}

/** Implementations for jobMachine.provide({ actors }) when Slurm runs the job. */
function slurmJobActors(ctx: AgentContext): ReturnType<typeof jobActors> {
  const jobStep = <O, I>(run: Parameters<typeof step<O, I>>[1]) => step('job', run);
  return {
    ...jobActors(ctx),
    startJob: jobStep(({ row }) => startSlurmJob(ctx, row)),
    probeJob: jobStep(({ row }) => probeSlurmJob(ctx, row)),
    signalStop: jobStep(async ({ row: job, reason }) => {
      const row = await ctx.store.markStopping({ jobId: job.job_id, reason });
      await signalSlurmJob(ctx, row, 'TERM');
      return row;
    }),
    killJob: jobStep(({ row }) => signalSlurmJob(ctx, row, 'KILL')),
    concludeJob: jobStep(({ row, outcome, probe }, { via }) => concludeSlurmJob(ctx, row, outcome, probe, via)),
  };
}
