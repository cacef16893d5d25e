// The Slurm executor's operations on one job: submit it with sbatch (once, whatever crash comes
// between the submission and its record), find it in the pass's squeue answer, probe it, and stop
// it with scancel. The job machine's Slurm actors (slurm-job-actors.ts) put these together with
// the store; nothing here touches the database.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JobInputError } from '../runner/errors.js';
import { createLogFiles, readExitRecord } from '../runner/launch.js';
import { readTail } from '../runner/tail.js';
import { BATCH_FILE, batchScript, sbatchArgs, slurmJobName, type BatchJob } from './batch-script.js';
import type { SlurmAccounting } from './sacct.js';
import { SlurmCommandError, type SlurmClient } from './slurm-cli.js';
import { needsAccounting, slurmProbe, type SlurmProbe } from './slurm-end.js';
import type { SlurmJobView, SlurmQueue } from './squeue.js';

/** The Slurm job id, written beside the logs the moment sbatch answers. */
export const SLURM_ID_FILE = 'slurm_job_id';
/** Written just before sbatch: a folder with it and no id file may hold a submission nobody recorded. */
const SUBMIT_MARK = 'slurm.submitting';

export interface SlurmParts {
  client: SlurmClient;
  queue: SlurmQueue;
  accounting: SlurmAccounting;
}

const SLURM_ID = /^[0-9]+(_[0-9]+)?$/;

async function readId(logDir: string): Promise<string | null> {
  const text = await readFile(join(logDir, SLURM_ID_FILE), 'utf8').catch(() => '');
  const id = text.trim();
  return SLURM_ID.test(id) ? id : null;
}

async function writeId(logDir: string, id: string): Promise<void> {
  const tmp = join(logDir, `${SLURM_ID_FILE}.tmp`);
  await writeFile(tmp, `${id}\n`, { mode: 0o600 });
  await rename(tmp, join(logDir, SLURM_ID_FILE));
}

export class SlurmJobs {
  constructor(private readonly parts: SlurmParts) {}

  get queue(): SlurmQueue {
    return this.parts.queue;
  }

  /**
   * The Slurm job of an earlier submission into this log folder, if there was one: its id file,
   * else (an agent that died between sbatch's answer and that file) the job squeue lists under
   * this job's name with this folder's batch script.
   */
  async submitted(jobId: string, logDir: string): Promise<string | null> {
    const id = await readId(logDir);
    if (id || !existsSync(join(logDir, SUBMIT_MARK))) return id;
    const script = join(logDir, BATCH_FILE);
    const out = await this.parts.client.run('squeue', ['--noheader', '--states=all', `--name=${slurmJobName(jobId)}`, '--format=%i|%o']);
    const found = out.split('\n').map((l) => l.split('|')).find(([i, command]) => i && command?.trim() === script)?.[0]?.trim() ?? null;
    if (found) await writeId(logDir, found);
    return found;
  }

  /**
   * Submits the job with sbatch and returns its Slurm job id; an earlier submission into the same
   * folder is returned instead (never a second sbatch). `env` is the job's environment: sbatch
   * passes it on (the member's login environment, as a local job gets). A refusal by Slurm (an
   * unknown partition, a limit) is the member's to fix (JobInputError); an unreachable controller
   * is the agent's trouble (a plain error: the job goes back to the queue).
   */
  async submit(job: BatchJob, env: Record<string, string>): Promise<string> {
    const logDir = job.prepared.logDir;
    await mkdir(logDir, { recursive: true, mode: 0o700 });
    await chmod(logDir, 0o700);
    const earlier = await this.submitted(job.jobId, logDir);
    if (earlier) return earlier;
    createLogFiles(logDir);
    const script = join(logDir, BATCH_FILE);
    await writeFile(script, batchScript(job), { mode: 0o700 });
    await writeFile(join(logDir, SUBMIT_MARK), `${new Date().toISOString()}\n`, { mode: 0o600 });
    let out: string;
    try {
      out = await this.parts.client.run('sbatch', [...sbatchArgs(job), script], { env });
    } catch (err) {
      if (err instanceof SlurmCommandError && !err.transient) {
        await rm(join(logDir, SUBMIT_MARK), { force: true });
        throw new JobInputError(`Slurm refused the job: ${err.said.replace(/^sbatch: error: /i, '')}`);
      }
      throw err;
    }
    const id = out.trim().split(';')[0]!.trim(); // --parsable: "<id>" or "<id>;<cluster>"
    if (!SLURM_ID.test(id)) throw new Error(`sbatch answered "${out.trim()}", not a job id`);
    await writeId(logDir, id);
    await rm(join(logDir, SUBMIT_MARK), { force: true });
    return id;
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
    await this.scancel([`--signal=${signal}`, '--full', slurmJobId]);
  }

  /** Cancels it (a pending one never starts). */
  async cancel(slurmJobId: string): Promise<void> {
    await this.scancel([slurmJobId]);
  }

  private async scancel(args: string[]): Promise<void> {
    try {
      await this.parts.client.run('scancel', args);
    } catch (err) {
      if (err instanceof SlurmCommandError && /already (completing|completed)|Invalid job id|Job has already finished/i.test(err.said)) return;
      throw err;
    }
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
