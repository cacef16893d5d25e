// The Slurm executor's operations on one job: submit it with sbatch (once, whatever crash comes
// between the submission and its record), find it in the pass's squeue answer, probe it, and stop
// it with scancel. The job machine's Slurm actors (slurm-job-actors.ts) put these together with
// the store; nothing here touches the database.
import { execFileSync } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import { createLogFiles, readExitRecord } from '../runner/launch.js';
import { readTail } from '../host/tail.js';
import { BATCH_FILE, batchScript, sbatchArgs, slurmJobName, type BatchJob } from './batch-script.js';
import type { SlurmAccounting } from './sacct.js';
import type { SlurmClient } from './slurm-cli.js';
import { scancel, submitOnce, submittedBefore, type BatchSubmission } from './submit.js';
import { needsAccounting, slurmProbe, type SlurmProbe } from './slurm-end.js';
import type { SlurmJobView, SlurmQueue } from './squeue.js';

export interface SlurmParts {
  client: SlurmClient;
  queue: SlurmQueue;
  accounting: SlurmAccounting;
}

export class SlurmJobs {
  constructor(private readonly parts: SlurmParts) {}

  get queue(): SlurmQueue {
    return this.parts.queue;
  }

  /** The client commands, for what else the agent hands to Slurm (Jupyter sessions). */
  get client(): SlurmClient {
    return this.parts.client;
  }

  /** What sbatch gets for the job: its folder, batch script, options and name. */
  private submission(job: BatchJob, env: Record<string, string>): BatchSubmission {
    return { folder: job.prepared.logDir, file: BATCH_FILE, name: slurmJobName(job.jobId), script: batchScript(job), args: sbatchArgs(job), env };
  }

  /** The Slurm job of an earlier submission into this log folder, if there was one. */
  submitted(jobId: string, logDir: string): Promise<string | null> {
    return submittedBefore(this.parts.client, { folder: logDir, file: BATCH_FILE, name: slurmJobName(jobId) });
  }

  /**
   * Submits the job with sbatch and returns its Slurm job id; an earlier submission into the same
   * folder is returned instead (never a second sbatch). `env` is the job's environment: sbatch
   * passes it on (the member's login environment, as a local job gets).
   */
  async submit(job: BatchJob, env: Record<string, string>): Promise<string> {
    const logDir = job.prepared.logDir;
    await mkdir(logDir, { recursive: true, mode: 0o700 });
    await chmod(logDir, 0o700);
    const earlier = await this.submitted(job.jobId, logDir);
    if (earlier) return earlier;
    createLogFiles(logDir);
    return submitOnce(this.parts.client, this.submission(job, env));
  }

  /** The job in this pass's squeue answer; undefined when squeue does not list it. */
  async look(slurmJobId: string): Promise<SlurmJobView | undefined> {
    return (await this.parts.queue.view()).get(slurmJobId);
  }

  /**
   * What the job machine's probe needs. squeue first, the exit record after: the wrapper writes
   * the record before the batch script ends, so a job squeue calls ended has left its record
   * (unless it was killed with it). sacct only when squeue has forgotten the job and the record is
   * missing.
   */
  async probe(slurmJobId: string, logDir: string, paths: { stdout: string | null; stderr: string | null }): Promise<SlurmProbe> {
    const view = await this.look(slurmJobId);
    const exit = await readExitRecord(logDir);
    const acct = needsAccounting(view, exit) ? (await this.parts.accounting.records([slurmJobId]))?.get(slurmJobId) : undefined;
    const [stdoutTail, stderrTail] = await Promise.all([paths.stdout ? readTail(paths.stdout) : '', paths.stderr ? readTail(paths.stderr) : '']);
    return slurmProbe({ slurmJobId, view, exit, acct, ownUid: process.getuid?.(), userName }, { stdoutTail, stderrTail });
  }

  /**
   * scancel --full --signal: the batch script and everything it started (the wrapper traps TERM
   * and still writes the record). A job that has already ended is not an error.
   */
  async signal(slurmJobId: string, signal: 'TERM' | 'KILL'): Promise<void> {
    await scancel(this.parts.client, [`--signal=${signal}`, '--full', slurmJobId]);
  }

  /** Cancels it (a pending one never starts). */
  async cancel(slurmJobId: string): Promise<void> {
    await scancel(this.parts.client, [slurmJobId]);
  }
}

/** A uid's user name (sacct names who cancelled a job by uid), through NSS: LDAP accounts too. */
function userName(uid: string): string | null {
  try {
    return execFileSync('getent', ['passwd', uid], { encoding: 'utf8', timeout: 2000 }).split(':')[0] || null;
  } catch {
    return null;
  }
}
