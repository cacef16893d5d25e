// From the two nvidia-smi answers of one tick to the host's GPU view: which GPUs there are, what
// runs on them, which ones no job may get and why, and one line saying what is wrong, if anything.
import { parseComputeApps, parseGpuQuery, type GpuRow } from './nvidia-smi-output.js';
import type { GpuDevice, GpuProbeStatus, HostGpuView, LostGpu } from './types.js';

/** One nvidia-smi run as the probe saw it. */
export interface SmiRun {
  stdout: string;
  stderr: string;
  /** null when it did not exit by itself (not started, killed on timeout). */
  exitCode: number | null;
  /** 'not-found': no such command; 'timeout': killed after the probe's time limit. */
  spawnError?: 'not-found' | 'timeout' | string;
}

const firstLine = (run: SmiRun) => `${run.stdout}\n${run.stderr}`.split('\n').map((l) => l.trim()).find(Boolean) ?? '';

/** Why a GPU that the driver reports must not be given to a job, or null. */
function unusableReason(row: GpuRow): string | null {
  const name = `GPU ${row.index} (${row.model})`;
  if (row.health === 'reset-required') return `${name} needs a reset: the driver reports ${row.healthDetail}`;
  if (row.health === 'error') return `${name} reports an error (${row.healthDetail}): it may have fallen off the bus`;
  if (row.mig === 'enabled') {
    // MIG instances need their own leases and MIG UUIDs in CUDA_VISIBLE_DEVICES (one instance per
    // process), and the query mode gives no per-instance memory or utilisation: not scheduled yet.
    return `${name} is in MIG mode: lab-agent does not place jobs on MIG instances; ` +
      `an administrator can turn MIG off (nvidia-smi -i ${row.index} -mig 0) to use the whole GPU`;
  }
  return null;
}

function describeLost(g: LostGpu): string {
  const where = [g.index !== null ? `GPU ${g.index}` : 'a GPU', g.busId ? `at ${g.busId}` : ''].filter(Boolean).join(' ');
  return `${where} is lost (${g.reason}): it needs a reset or a reboot`;
}

function failedView(probedAt: string, status: GpuProbeStatus, problem: string, notes: string[] = []): HostGpuView {
  return { probedAt, status, gpus: [], lost: [], processesKnown: false, problem, notes };
}

/** Failures of the whole command: nothing about any GPU can be known. */
function commandFailure(run: SmiRun, probedAt: string, timeoutMs: number): HostGpuView | null {
  if (run.spawnError === 'not-found') {
    return failedView(probedAt, 'no-nvidia-smi', 'nvidia-smi was not found: no NVIDIA driver on this host (or not on PATH)');
  }
  if (run.spawnError === 'timeout') {
    return failedView(probedAt, 'timeout', `nvidia-smi did not answer within ${timeoutMs / 1000} s: a GPU or the driver may be hung`);
  }
  if (run.spawnError) return failedView(probedAt, 'failed', `nvidia-smi could not be run: ${run.spawnError}`);
  return null;
}

/** The host's GPUs from the answers to GPU_QUERY_ARGS and APPS_QUERY_ARGS. */
export function buildHostView(gpuRun: SmiRun, appsRun: SmiRun, probedAt: Date, timeoutMs: number): HostGpuView {
  const at = probedAt.toISOString();
  const early = commandFailure(gpuRun, at, timeoutMs);
  if (early) return early;
  const parsed = parseGpuQuery(`${gpuRun.stdout}\n${gpuRun.stderr}`);
  if (parsed.rows.length === 0 && parsed.lost.length === 0) {
    if (parsed.failure?.kind === 'driver-error') {
      return failedView(at, 'driver-error', `the NVIDIA driver does not answer: ${parsed.failure.message}`, parsed.notes);
    }
    if (parsed.failure?.kind === 'no-devices' || gpuRun.exitCode === 0) {
      return failedView(at, 'no-devices', 'nvidia-smi found no GPU', parsed.notes);
    }
    return failedView(at, 'failed', `nvidia-smi failed (exit ${gpuRun.exitCode}): ${firstLine(gpuRun)}`, parsed.notes);
  }

  const apps = parseComputeApps(`${appsRun.stdout}\n${appsRun.stderr}`);
  const appsFailed = Boolean(appsRun.spawnError) || (appsRun.exitCode !== 0 && apps.rows.length === 0 && apps.lost.length === 0);
  const gpus: GpuDevice[] = parsed.rows
    .sort((a, b) => a.index - b.index)
    .map((row) => {
      const { healthDetail: _shownInUnusable, ...device } = row;
      const processes = apps.rows.filter((p) => p.gpuUuid === row.uuid).map(({ pid, usedMemoryMiB, name }) => ({ pid, usedMemoryMiB, name }));
      return { ...device, processes, unusable: unusableReason(row) };
    });

  const problems = [
    ...parsed.lost.map(describeLost),
    ...gpus.filter((g) => g.health !== 'ok').map((g) => g.unusable!),
    ...(appsFailed ? [`the compute processes could not be read (${appsRun.spawnError ?? `exit ${appsRun.exitCode}`}: ${firstLine(appsRun)}), so no GPU counts as free`] : []),
  ];
  return {
    probedAt: at,
    status: 'ok',
    gpus,
    lost: parsed.lost,
    processesKnown: !appsFailed,
    problem: problems.length ? problems.join('; ') : null,
    notes: [...parsed.notes, ...apps.notes],
  };
}
