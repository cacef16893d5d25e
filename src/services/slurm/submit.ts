// One sbatch per request, whatever crash comes between sbatch's answer and its record: the batch
// script and a "submitting" mark are written into the request's folder first, the Slurm job id
// right after sbatch answers. A folder with the mark and no id is looked up in squeue by the job's
// name and batch script before anything is submitted again.
import { existsSync } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JobInputError } from '../runner/errors.js';
import { SlurmCommandError, type SlurmClient } from './slurm-cli.js';

/** The Slurm job id, written beside the batch script the moment sbatch answers. */
const SLURM_ID_FILE = 'slurm_job_id';
/** Written just before sbatch: a folder with it and no id file may hold a submission nobody recorded. */
const SUBMIT_MARK = 'slurm.submitting';

const SLURM_ID = /^[0-9]+(_[0-9]+)?$/;

export interface BatchSubmission {
  /** Where the batch script, the mark and the id go (private to the member). */
  folder: string;
  /** The batch script's file name in the folder. */
  file: string;
  /** The job's name in squeue (--job-name is among `args`). */
  name: string;
  script: string;
  /** sbatch's options (the script path is added). */
  args: string[];
  /** sbatch's environment, which it passes on to the job. */
  env: Record<string, string>;
}

async function readId(folder: string): Promise<string | null> {
  const id = (await readFile(join(folder, SLURM_ID_FILE), 'utf8').catch(() => '')).trim();
  return SLURM_ID.test(id) ? id : null;
}

async function writeId(folder: string, id: string): Promise<void> {
  const tmp = join(folder, `${SLURM_ID_FILE}.tmp`);
  await writeFile(tmp, `${id}\n`, { mode: 0o600 });
  await rename(tmp, join(folder, SLURM_ID_FILE));
}

/** When sbatch answered for this folder (epoch ms; its id file's time), or 0. */
export async function submittedAt(folder: string): Promise<number> {
  return (await stat(join(folder, SLURM_ID_FILE)).catch(() => null))?.mtimeMs ?? 0;
}

/** The Slurm job of an earlier submission from this folder, if any. */
export async function submittedBefore(client: SlurmClient, s: Pick<BatchSubmission, 'folder' | 'file' | 'name'>): Promise<string | null> {
  const id = await readId(s.folder);
  if (id || !existsSync(join(s.folder, SUBMIT_MARK))) return id;
  const script = join(s.folder, s.file);
  const out = await client.run('squeue', ['--noheader', '--states=all', `--name=${s.name}`, '--format=%i|%o']);
  const found = out.split('\n').map((l) => l.split('|')).find(([i, command]) => i && command?.trim() === script)?.[0]?.trim() ?? null;
  if (found) await writeId(s.folder, found);
  return found;
}

/**
 * sbatch, once: an earlier submission from the folder is returned instead. A refusal by Slurm (an
 * unknown partition, a limit) is the member's to fix (JobInputError); an unreachable controller is
 * the agent's trouble (SlurmCommandError, transient).
 */
export async function submitOnce(client: SlurmClient, s: BatchSubmission): Promise<string> {
  const earlier = await submittedBefore(client, s);
  if (earlier) return earlier;
  const script = join(s.folder, s.file);
  await writeFile(script, s.script, { mode: 0o700 });
  await writeFile(join(s.folder, SUBMIT_MARK), `${new Date().toISOString()}\n`, { mode: 0o600 });
  let out: string;
  try {
    out = await client.run('sbatch', [...s.args, script], { env: s.env });
  } catch (err) {
    if (err instanceof SlurmCommandError && !err.transient) {
      await rm(join(s.folder, SUBMIT_MARK), { force: true });
      throw new JobInputError(`Slurm refused the job: ${err.said.replace(/^sbatch: error: /i, '')}`);
    }
    throw err;
  }
  const id = out.trim().split(';')[0]!.trim(); // --parsable: "<id>" or "<id>;<cluster>"
  if (!SLURM_ID.test(id)) throw new Error(`sbatch answered "${out.trim()}", not a job id`);
  await writeId(s.folder, id);
  await rm(join(s.folder, SUBMIT_MARK), { force: true });
  return id;
}

/** scancel; a job that has already ended (or that Slurm forgot) is not an error. */
export async function scancel(client: SlurmClient, args: string[]): Promise<void> {
  try {
    await client.run('scancel', args);
  } catch (err) {
    if (err instanceof SlurmCommandError && /already (completing|completed)|Invalid job id|Job has already finished/i.test(err.said)) return;
    throw err;
  }
}
