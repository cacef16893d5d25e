// The tick's GPU probe: at most two nvidia-smi runs (GPUs, then compute processes, side by side),
// each with a time limit, turned into the host's GPU view. Never throws: what went wrong is in the
// view's `status` and `problem`.
//
// node:child_process rather than execa here: the probe runs in every cron tick, a fresh process,
// and importing execa costs that process about 0.2 s on the lab's 2-CPU VM (see BENCHMARKS.md,
// "GPU probe"), four times the probe's whole budget; execFile does the same job for two fixed argvs.
import { childProcess } from '../host/child-process.js';
import { whichIn } from '../host/executables.js';
import { buildHostView, type SmiRun } from './host-view.js';
import { APPS_QUERY_ARGS, GPU_QUERY_ARGS, parseGpuList, type ListedGpu } from './nvidia-smi-output.js';
import type { HostGpuView } from './types.js';

export interface GpuProbeOptions {
  /** The nvidia-smi to run: a name looked up on PATH, or a path. Default "nvidia-smi". */
  command?: string;
  /** Time limit of each run, in ms. Default 10 000 (a driver without persistence mode can take seconds). */
  timeoutMs?: number;
  /** Environment of the runs; default this process's. */
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_GPU_PROBE_TIMEOUT_MS = 10_000;

/** Runs nvidia-smi once; failures come back in the result, never as an exception. */
export function runNvidiaSmi(args: string[], opts: GpuProbeOptions = {}): Promise<SmiRun> {
  const timeout = opts.timeoutMs ?? DEFAULT_GPU_PROBE_TIMEOUT_MS;
  const command = opts.command ?? 'nvidia-smi';
  const env = opts.env ?? process.env;
  // A host without the driver (most of them): say so without forking the agent to find out. A
  // fork costs an idle cron tick more than the rest of its work (BENCHMARKS.md, issue 12).
  if (!command.includes('/') && !whichIn(command, env.PATH)) return Promise.resolve({ stdout: '', stderr: '', exitCode: null, spawnError: 'not-found' });
  return new Promise((resolve) => {
    childProcess().execFile(command, args, { timeout, killSignal: 'SIGKILL', encoding: 'utf8', env, maxBuffer: 4 << 20 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
        if (!e) return resolve({ stdout, stderr, exitCode: 0 });
        if (e.code === 'ENOENT') return resolve({ stdout, stderr, exitCode: null, spawnError: 'not-found' });
        if (e.killed) return resolve({ stdout, stderr, exitCode: null, spawnError: 'timeout' });
        if (typeof e.code === 'number') return resolve({ stdout, stderr, exitCode: e.code });
        resolve({ stdout, stderr, exitCode: null, spawnError: String(e.code ?? e.message) });
      });
  });
}

/** What the driver says of this host's GPUs now: call once per tick, never per job. */
export async function probeGpus(opts: GpuProbeOptions = {}): Promise<HostGpuView> {
  const probedAt = new Date();
  const [gpuRun, appsRun] = await Promise.all([runNvidiaSmi(GPU_QUERY_ARGS, opts), runNvidiaSmi(APPS_QUERY_ARGS, opts)]);
  return buildHostView(gpuRun, appsRun, probedAt, opts.timeoutMs ?? DEFAULT_GPU_PROBE_TIMEOUT_MS);
}

/** `nvidia-smi -L`: the GPUs with their MIG devices, for `doctor` and people (not for the tick). */
export async function listGpus(opts: GpuProbeOptions = {}): Promise<{ gpus: ListedGpu[]; run: SmiRun }> {
  const run = await runNvidiaSmi(['-L'], opts);
  return { gpus: parseGpuList(`${run.stdout}\n${run.stderr}`).rows, run };
}
