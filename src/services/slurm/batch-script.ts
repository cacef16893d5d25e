// A claimed job as a Slurm batch job: the script sbatch gets, and sbatch's options. The script runs
// the very wrapper a local job runs (runner/wrapper.ts), with the argv prepareJob made on the
// submit host (same interpreter discovery, argument rules and notebook handling), so the job
// writes the same ~/lab_job_logs/<job_id>/ files and the same exit record on the compute node.
// Homes (and so the log folder) are shared between the login and the compute nodes on a cluster.
import { shq, wrapperArgv, EXIT_FILE, STDERR_FILE, STDOUT_FILE } from '../runner/wrapper.js';
import { JobInputError } from '../runner/errors.js';
import { splitShellWords } from '../runner/args.js';
import type { PreparedJob } from '../runner/prepare.js';

/** The agent's Slurm settings (LAB_SLURM_*). */
interface SlurmSettings {
  partition: string;
  account: string;
  qos: string;
  /** More sbatch options, as written in LAB_SLURM_EXTRA_ARGS. */
  extraArgs: string;
  /** How a GPU count is asked for: --gres=gpu:N (every Slurm) or --gpus=N (select/cons_tres). */
  gpuOption: 'gres' | 'gpus';
}

/** What a member may ask for one job at submit time; each overrides the agent's setting. */
interface SlurmResources {
  partition?: string | null;
  cpus?: number | null;
  memMb?: number | null;
  timeMin?: number | null;
  gpus?: number | null;
}

export interface BatchJob {
  jobId: string;
  prepared: Pick<PreparedJob, 'argv' | 'cwd' | 'logDir' | 'tempDir'>;
  /** The member's umask for what the job writes (octal digits), or null for Slurm's. */
  umask: string | null;
  /** The job's timeout (its own, else LAB_JOB_TIMEOUT); 0 = none. */
  timeoutS: number;
  settings: SlurmSettings;
  resources: SlurmResources;
}

/** The batch script's name in the job's log folder (kept for the member to read). */
export const BATCH_FILE = 'slurm.sh';

/** sbatch options the agent sets itself: LAB_SLURM_EXTRA_ARGS must not change them. */
const RESERVED = new Map<string, string>([
  ['-o', '--output'], ['--output', '--output'], ['-e', '--error'], ['--error', '--error'], ['-D', '--chdir'], ['--chdir', '--chdir'],
  ['-J', '--job-name'], ['--job-name', '--job-name'], ['--parsable', '--parsable'], ['--wrap', '--wrap'], ['--open-mode', '--open-mode'],
  ['-a', '--array'], ['--array', '--array'], ['--requeue', '--requeue'], ['--export', '--export'], ['--uid', '--uid'], ['--gid', '--gid'],
  ['-W', '--wait'], ['--wait', '--wait'], ['-i', '--input'], ['--input', '--input'],
]);

/** LAB_SLURM_EXTRA_ARGS as words, refusing options that would move the logs or change what runs. */
export function parseExtraArgs(text: string): string[] {
  let words: string[];
  try {
    words = splitShellWords(text);
  } catch (err) {
    throw new Error(`LAB_SLURM_EXTRA_ARGS: ${(err as Error).message}`);
  }
  for (const w of words) {
    const name = w.startsWith('--') ? w.split('=')[0]! : w.slice(0, 2);
    const reserved = RESERVED.get(name);
    if (reserved) throw new Error(`LAB_SLURM_EXTRA_ARGS may not set ${reserved}: the agent sets it itself (logs, working folder, job name)`);
  }
  return words;
}

/** Whole minutes, rounded up: Slurm's time limits count minutes. */
const minutesOf = (seconds: number): number => Math.max(1, Math.ceil(seconds / 60));

/** The job's name in squeue: lab-<the first 8 characters of its id>. */
export const slurmJobName = (jobId: string): string => `lab-${jobId.slice(0, 8)}`;

/**
 * sbatch's options for what a batch job asks of the cluster (jobs and Jupyter sessions alike): the
 * agent's extra arguments, partition, account and QOS, then the member's requests, each over the
 * agent's setting. timeoutS: the time limit when the member gave none (0 = the partition's).
 */
export function resourceArgs(s: SlurmSettings, r: SlurmResources, timeoutS: number): string[] {
  const args = parseExtraArgs(s.extraArgs);
  const partition = r.partition || s.partition;
  if (partition) args.push(`--partition=${partition}`);
  if (s.account) args.push(`--account=${s.account}`);
  if (s.qos) args.push(`--qos=${s.qos}`);
  if (r.cpus) args.push(`--cpus-per-task=${r.cpus}`);
  if (r.memMb) args.push(`--mem=${r.memMb}M`);
  if (r.gpus) args.push(s.gpuOption === 'gpus' ? `--gpus=${r.gpus}` : `--gres=gpu:${r.gpus}`);
  const timeMin = r.timeMin ?? (timeoutS > 0 ? minutesOf(timeoutS) : null);
  if (timeMin) args.push(`--time=${timeMin}`);
  return args;
}

/** The options that place a batch job's output and name it; never requeued. */
export function placementArgs(p: { name: string; cwd: string; stdout: string; stderr: string }): string[] {
  return [
    '--parsable',
    `--job-name=${p.name}`,
    `--chdir=${p.cwd}`,
    `--output=${p.stdout}`,
    `--error=${p.stderr}`,
    '--open-mode=append',
    // A node failure or a preemption ends the job with Slurm's reason rather than running it
    // again into a folder that already holds its first run's records.
    '--no-requeue',
  ];
}

/** sbatch's options for the job, without the script path. */
export function sbatchArgs(job: BatchJob): string[] {
  const { prepared: p } = job;
  return [
    ...resourceArgs(job.settings, job.resources, job.timeoutS),
    ...placementArgs({ name: slurmJobName(job.jobId), cwd: p.cwd, stdout: `${p.logDir}/${STDOUT_FILE}`, stderr: `${p.logDir}/${STDERR_FILE}` }),
  ];
}

/**
 * The batch script. fd 3 (where the wrapper reports a start and an end to a local agent) goes to
 * /dev/null: here the agent learns both from squeue and the exit record. A notebook's private
 * folder for its kernel's sockets is made on the compute node (0700, and refused if someone
 * else's is in the way), and removed after the job. The script ends with the job's own exit code,
 * so Slurm's state (COMPLETED or FAILED) and sacct agree with the exit record.
 */
export function batchScript(job: BatchJob): string {
  const { prepared: p } = job;
  if (job.jobId.includes('\n')) throw new JobInputError('bad job id');
  const wrapper = wrapperArgv(job.jobId, p.logDir, p.argv, job.umask, false).map(shq).join(' ');
  const tmp = p.tempDir ? shq(p.tempDir) : null;
  return [
    '#!/bin/sh',
    `# lab-job-agent: job ${job.jobId}, submitted with sbatch. It runs the agent's job wrapper, which`,
    `# writes ${EXIT_FILE} into the job's log folder when the job ends.`,
    `log=${shq(p.logDir)}`,
    // Like the wrapper, this shell outlives a SIGTERM meant for the job (scancel --signal=TERM
    // --full, a time limit): the wrapper still has to write the exit record.
    'trap : HUP INT TERM',
    ...(tmp
      ? [
          `mkdir -m 700 ${tmp} 2>/dev/null || { [ -d ${tmp} ] && [ ! -h ${tmp} ] && [ -O ${tmp} ]; } || { echo "lab-job-agent: ${p.tempDir} belongs to someone else on $(hostname)" >&2; exit 1; }`,
        ]
      : []),
    `${wrapper} 3>/dev/null`,
    ...(tmp ? [`rm -rf ${tmp}`] : []),
    `rec=; read -r rec < "$log/${EXIT_FILE}" 2>/dev/null`,
    'c=${rec#*\\"code\\":}; c=${c%%,*}; c=${c%%\\}*}',
    'case $c in "" | *[!0-9]*) exit 1 ;; *) exit "$c" ;; esac',
    '',
  ].join('\n');
}
