// The user's job commands: submit, ls, status, logs, cancel, wait. They work in every mode.
import { open, realpath, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dashboardLink } from '../services/dashboard-link.js';
import { readNotebookKernel } from '../services/scanner/kernel.js';
import type { LabStore } from '../services/store/lab-store.js';
import type { SweepView } from '../services/store/queue-types.js';
import type { JobRow, SubmitJob } from '../services/store/types.js';
import { defineCommand, type Command } from './command.js';
import { jobDetail, jobOutcome, jobsTable } from './job-format.js';
import { GPU_OPTIONS, GPU_USAGE, gpuOptions } from './gpu-options.js';
import { CliFailure, positiveInt, UsageError } from './output.js';
import { findJob, idArg, isEnded, jobArg, jobExitCode, withUserStore } from './user-store.js';
import { findJobOrSweep, findSweep, JOB_HOST_OPTION, JOB_TIMEOUT_OPTION, QUEUE_SUBMIT_OPTIONS, QUEUE_SUBMIT_USAGE, queueOptions, resolveAfter, sweepOptions } from './queue-options.js';
import { sweepDetail, sweepsTable, sweepSubmitted } from './sweep-format.js';
import { nearest } from './suggest.js';
import { JOB_STATUSES } from '../machines/job-states.js';


/** The script must be a .py/.ipynb file under home; it joins the inventory if it is not there. */
export async function checkScript(path: string, home: string): Promise<{ path: string; type: 'py' | 'ipynb'; size: number; mtime: string; kernel: string | null }> {
  const abs = resolve(path);
  const type = extname(abs) === '.py' ? 'py' : extname(abs) === '.ipynb' ? 'ipynb' : null;
  if (!type) throw new UsageError(`${path} is not a .py or .ipynb file`);
  let real: string;
  try {
    real = await realpath(abs);
  } catch {
    throw new CliFailure(`${abs} does not exist`);
  }
  const realHome = await realpath(home).catch(() => home);
  if (!real.startsWith(realHome + sep)) throw new CliFailure(`${abs} is outside your home (${home}); the agent runs only your own scripts under it`);
  const s = await stat(real);
  if (!s.isFile()) throw new CliFailure(`${abs} is not a file`);
  // The kernel as the inventory sync records it, so the sync sees this row as up to date.
  const kernel = type === 'ipynb' ? ((await readNotebookKernel(real, s.size)) ?? null) : null;
  return { path: abs, type, size: s.size, mtime: s.mtime.toISOString(), kernel };
}

async function waitForEnd(store: LabStore, job: JobRow, everyMs = 300): Promise<JobRow> {
  let j = job;
  while (!isEnded(j)) {
    await sleep(everyMs);
    j = await store.getJob(j.job_id);
  }
  return j;
}

/** Prints a log file from `from` on; returns where it stopped. Reads in chunks, never all at once. */
async function printFrom(path: string, from: number): Promise<number> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return from;
  }
  try {
    const buf = Buffer.alloc(1 << 16);
    let pos = from;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return pos;
      process.stdout.write(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** --partition, --cpus, --mem (MB), --time (minutes): what the job asks Slurm for (LAB_EXECUTOR=slurm; --gpus is the job's own). */
function slurmRequest(options: Record<string, unknown>): SubmitJob['slurm'] {
  const count = (name: string, hint: string): number | null => {
    const v = options[name];
    if (v === undefined) return null;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} takes a whole number, e.g. --${name} ${hint}`);
    return n;
  };
  const partition = (options.partition as string | undefined) ?? null;
  if (partition !== null && !/^[A-Za-z0-9_.-]{1,64}$/.test(partition)) throw new UsageError('--partition takes a Slurm partition name (letters, digits, _ . -)');
  return { partition, cpus: count('cpus', '4'), memMb: count('mem', '16000'), timeMin: count('time', '120') };
}

export const jobCommands: Command[] = [
  defineCommand({
    name: 'submit',
    summary: 'queue a run of one of your scripts; prints the job id',
    usage: `lab-agent submit <script.py|notebook.ipynb> [--host H] [--timeout S] ${QUEUE_SUBMIT_USAGE} ${GPU_USAGE} [--partition P] [--cpus N] [--mem MB] [--time MIN] [--json] [-- args…]`,
    json: true,
    scriptArgsAfter: 1,
    options: {
      host: JOB_HOST_OPTION, timeout: JOB_TIMEOUT_OPTION, ...QUEUE_SUBMIT_OPTIONS, ...GPU_OPTIONS,
      partition: { type: 'string', help: 'Slurm partition (LAB_EXECUTOR=slurm)', whenAbsent: "Slurm's default" }, cpus: { type: 'string', help: 'CPUs to ask Slurm for', whenAbsent: "Slurm's default" },
      mem: { type: 'string', help: 'memory in MB to ask Slurm for', whenAbsent: "Slurm's default" }, time: { type: 'string', help: 'time limit in minutes to ask Slurm for', whenAbsent: "the partition's" },
    },
    async run({ args, rest, options, env, out }) {
      if (args.length !== 1) throw new UsageError('give exactly one script; put its arguments after --');
      const timeout = options.timeout === undefined ? null : Number(options.timeout);
      if (timeout !== null && (!Number.isInteger(timeout) || timeout <= 0)) throw new UsageError('--timeout takes whole seconds, e.g. --timeout 3600');
      const { afterRefs, ...queue } = queueOptions(options);
      const sweep = sweepOptions(options, rest);
      const gpu = gpuOptions(options);
      const slurm = slurmRequest(options);
      if (sweep && Object.values(slurm ?? {}).some((v) => v !== null)) throw new UsageError('--partition, --cpus, --mem and --time do not go with --sweep yet: submit the cells one by one, or leave them to the agent\'s LAB_SLURM_* settings');
      const { job, page } = await withUserStore(env, async (store, config) => {
        const script = await checkScript(args[0]!, config.home);
        await store.syncScripts({ upserts: [script], deletes: [] }); // no-op when the inventory already has it unchanged
        // argv as a JSON array: exactly these words reach the script, whatever quoting they hold.
        const spec = {
          scriptPath: script.path, args: rest.length ? JSON.stringify(rest) : null, host: options.host ?? null, timeoutS: timeout,
          slurm, ...queue, after: await resolveAfter(store, afterRefs), ...gpu,
        };
        if (sweep) return { job: await store.submitSweep({ ...spec, ...sweep }), page: null };
        const job = await store.submitJob(spec);
        return { job, page: dashboardLink(config.values.LAB_DASHBOARD_URL, 'job', job.job_id) };
      });
      if ('sweep' in job) return out.data(job, sweepSubmitted);
      out.data(job, (j: JobRow) => j.job_id);
      if (job.status === 'cancelled' && !out.json) process.stderr.write(`${job.error}\n`);
      // stdout stays the bare id (scripts read it); the page's link goes beside it.
      if (page && !out.json) process.stderr.write(`on your dashboard: ${page}\n`);
    },
  }),
  defineCommand({
    name: 'ls',
    summary: 'your jobs, newest first',
    usage: 'lab-agent ls [--limit N] [--status S] [--sweep <sweep>] [--sweeps] [--json]',
    json: true,
    options: {
      limit: { type: 'string', help: 'how many jobs to show', whenAbsent: '20' }, status: { type: 'string', help: 'only jobs in this state: pending, claimed, running, finished, failed, cancelled', whenAbsent: 'all' },
      sweep: { type: 'string', help: "one sweep's grid of jobs", whenAbsent: 'none' }, sweeps: { type: 'boolean', help: 'list your sweeps instead of jobs', whenAbsent: 'off' },
    },
    async run({ options, env, out }) {
      const limit = positiveInt(options.limit, '--limit', 20);
      if (options.sweeps) return out.data(await withUserStore(env, (store) => store.listSweeps({ limit })), sweepsTable);
      if (options.sweep) return out.data(await withUserStore(env, (store) => findSweep(store, idArg([options.sweep!], 'sweep', 'lab-agent ls --sweeps'))), sweepDetail);
      const status = options.status ?? null;
      if (status !== null && !(JOB_STATUSES as readonly string[]).includes(status)) {
        const guess = nearest(status, [...JOB_STATUSES]);
        throw new UsageError(`unknown status "${status}"${guess ? ` (did you mean ${guess}?)` : ''}; --status takes one of ${JOB_STATUSES.join(', ')}`);
      }
      const jobs = await withUserStore(env, (store) => store.listJobs({ limit, status }));
      out.data(jobs, jobsTable);
    },
  }),
  defineCommand({
    name: 'status',
    summary: 'one job in full: state, exit code, error, log tails (a sweep: its grid)',
    usage: 'lab-agent status <job|sweep> [--json]',
    json: true,
    async run({ args, env, out }) {
      const id = jobArg(args);
      const found = await withUserStore(env, async (store, config) => {
        const hit = await findJobOrSweep(store, id);
        return 'sweep' in hit ? hit : { job: hit.job, page: dashboardLink(config.values.LAB_DASHBOARD_URL, 'job', hit.job.job_id) };
      });
      if ('sweep' in found) return out.data(found.sweep, sweepDetail);
      const { job, page } = found;
      out.data(job, (j: JobRow) => `${jobDetail(j)}${page ? `\n\n${'dashboard'.padEnd(16)} ${page}` : ''}`);
    },
  }),
  defineCommand({
    name: 'logs',
    summary: "a job's output (stdout, or --stderr); -f follows it until the job ends",
    usage: 'lab-agent logs <job> [--stderr] [-f]',
    options: { stderr: { type: 'boolean', help: 'show stderr instead of stdout', whenAbsent: 'off' }, follow: { type: 'boolean', short: 'f', help: 'keep printing until the job ends', whenAbsent: 'off' } },
    async run({ args, options, env }) {
      const id = jobArg(args);
      await withUserStore(env, async (store) => {
        let job = await findJob(store, id);
        const pick = (j: JobRow) => (options.stderr ? j.stderr_path : j.stdout_path);
        const tail = (j: JobRow) => (options.stderr ? j.stderr_tail : j.stdout_tail);
        if (!options.follow) {
          const path = pick(job);
          const end = path ? await printFrom(path, 0) : 0;
          if (end === 0 && tail(job)) process.stdout.write(tail(job)!); // log on another host: the tail we have
          return;
        }
        let pos = 0;
        for (;;) {
          const path = pick(job);
          if (path) pos = await printFrom(path, pos);
          if (isEnded(job)) {
            if (path) await printFrom(path, pos); // what was written just before the end
            return;
          }
          await sleep(250);
          job = await store.getJob(job.job_id);
        }
      });
    },
  }),
  defineCommand({
    name: 'cancel',
    summary: 'cancel a job: at once if pending, SIGTERM then SIGKILL if running (a sweep: all of it that has not ended)',
    usage: 'lab-agent cancel <job|sweep> [--json]',
    json: true,
    async run({ args, env, out }) {
      const id = jobArg(args);
      const found = await withUserStore(env, async (store): Promise<{ sweep: SweepView } | { job: JobRow }> => {
        const hit = await findJobOrSweep(store, id);
        return 'sweep' in hit ? { sweep: await store.cancelSweep(hit.sweep.sweep.sweep_id) } : { job: await store.requestCancel(hit.job.job_id) };
      });
      if ('sweep' in found) return out.data(found.sweep, sweepDetail);
      const { job } = found;
      out.data(job, (j: JobRow) => (j.status === 'cancelled' ? `${j.job_id} cancelled` : `${j.job_id}: cancel requested; the agent stops it (SIGTERM, then SIGKILL after the grace)`));
    },
  }),
  defineCommand({
    name: 'wait',
    summary: 'wait for a job to end; the exit code is the job\'s (0 finished, its code if failed, 130 cancelled)',
    usage: 'lab-agent wait <job> [--json]',
    json: true,
    async run({ args, env, out }) {
      const id = jobArg(args);
      const job = await withUserStore(env, async (store) => waitForEnd(store, await findJob(store, id)));
      out.data(job, jobOutcome);
      return jobExitCode(job);
    },
  }),
];
