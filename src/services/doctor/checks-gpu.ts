// Doctor's GPU view: what the agent's probe sees of this host's GPUs (the driver's view, once), and
// in local mode whether the folder of the host's GPU locks is safe to share.
import type { Config } from '../config.js';
import { lockDirProblem } from '../gpu/host-locks.js';
import { probeGpus } from '../gpu/probe.js';
import type { GpuDevice, HostGpuView } from '../gpu/types.js';
import { result, type CheckResult } from './types.js';

function describeGpu(g: GpuDevice): string {
  const mem = g.memoryTotalMiB !== null ? `, ${g.memoryUsedMiB ?? '?'}/${g.memoryTotalMiB} MiB used` : '';
  const use = g.unusable ? `not for jobs: ${g.unusable}` : g.processes.length ? `busy (${g.processes.length} process${g.processes.length > 1 ? 'es' : ''})` : 'free';
  return `GPU ${g.index} ${g.model}${mem}: ${use}`;
}

export function gpuCheck(view: HostGpuView, lockProblem: string | null): CheckResult {
  const data = { view };
  if (view.status === 'no-nvidia-smi' || view.status === 'no-devices') {
    return result('gpus', 'GPUs', 'ok', `none on this host (${view.problem}): jobs asking for GPUs wait for a host that has them`, undefined, data);
  }
  if (view.status !== 'ok') return result('gpus', 'GPUs', 'warn', view.problem ?? view.status, 'ask your admin to check the NVIDIA driver (nvidia-smi)', data);
  const lines = view.gpus.map(describeGpu).join('; ');
  if (lockProblem) return result('gpus', 'GPUs', 'fail', `${lines}; ${lockProblem}`, 'set LAB_GPU_LOCK_DIR to a root-owned sticky folder (e.g. /tmp)', data);
  if (view.problem) return result('gpus', 'GPUs', 'warn', `${lines}; ${view.problem}`, 'ask your admin to check the GPUs named above', data);
  return result('gpus', 'GPUs', 'ok', lines, undefined, data);
}

export async function checkGpus(config: Config): Promise<CheckResult> {
  const view = await probeGpus();
  const lockProblem = config.mode === 'local' && view.gpus.length ? lockDirProblem(config.values.LAB_GPU_LOCK_DIR || '/tmp') : null;
  return gpuCheck(view, lockProblem);
}
