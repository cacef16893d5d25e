// A job's one step through its machine: loaded by the job driver (job-driver.ts) only when a row
// needs a step, so that an idle tick never loads XState, the machines or the executors' actors.
import { jobMachine } from '../../machines/job-machine.js';
import type { JobMachineInput } from '../../machines/job-rules.js';
import { JOB_RESTING_STATES } from '../../machines/job-states.js';
import type { JobRow } from '../store/types.js';
import type { AgentContext } from './context.js';
import { jobActors } from './job-actors.js';
import { provideOnce, stepRowTo, type Lifecycle } from './machine-runner.js';
import { newSlurmPass, runsOnSlurm, slurmJobMachine } from '../slurm/slurm-job-actors.js';

/** The same machine with the actors of the executor that runs the row (LAB_EXECUTOR=slurm: slurm/). */
function machineFor(ctx: AgentContext, job: JobRow) {
  if (runsOnSlurm(ctx, job)) return slurmJobMachine(ctx);
  return provideOnce(ctx, jobMachine, () => jobMachine.provide({ actors: jobActors(ctx) }));
}

/** Jobs for the generic step: a claimed row starts its machine in `claimed`, as the database has it. */
const jobs = (input: Lifecycle<JobRow, JobMachineInput>['input']): Lifecycle<JobRow, JobMachineInput> => ({
  kind: 'job',
  machine: machineFor,
  idOf: (row) => row.job_id,
  input,
  resting: JOB_RESTING_STATES,
});

/**
 * The steps of one pass, given the rows that need one: a new pass for the Slurm executor first
 * (its steps share one fresh squeue answer), then every row's step. Returns each row as its step left it.
 */
export function stepJobs(ctx: AgentContext, rows: JobRow[], input: Lifecycle<JobRow, JobMachineInput>['input']): Promise<JobRow>[] {
  newSlurmPass(ctx);
  const lifecycle = jobs(input);
  return rows.map((row) => stepRowTo(ctx, lifecycle, row));
}
