// A GPU request as a member writes it on the command line: --gpus 2 --gpu-mem 40G --gpu-model 'A100*'.
// The database checks the same limits again (lab_private.check_gpu_request) for rows written otherwise.

export interface GpuRequest {
  gpus: number;
  gpuMemMiB: number | null;
  gpuModel: string | null;
}

const UNITS: Record<string, number> = { '': 1, m: 1, mb: 1, mib: 1, g: 1024, gb: 1024, gib: 1024, t: 1024 * 1024, tb: 1024 * 1024, tib: 1024 * 1024 };

/** "40G", "40GiB", "512M", "81920" (MiB) to MiB; throws a member-readable Error otherwise. */
function parseGpuMemory(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`--gpu-mem takes a size such as 40G, 512M or 81920 (MiB), not "${text}"`);
  const mib = Math.ceil(Number(m[1]) * unit);
  if (mib < 1 || mib > 16 * 1024 * 1024) throw new Error(`--gpu-mem must be between 1M and 16T (got ${text})`);
  return mib;
}

/** From the CLI's options (each undefined when not given). */
export function parseGpuRequest(o: { gpus?: unknown; gpuMem?: unknown; gpuModel?: unknown }): GpuRequest {
  const gpus = o.gpus === undefined ? 0 : Number(o.gpus);
  if (!Number.isInteger(gpus) || gpus < 0 || gpus > 64) throw new Error(`--gpus takes a whole number from 0 to 64, not "${String(o.gpus)}"`);
  const gpuMemMiB = o.gpuMem === undefined ? null : parseGpuMemory(String(o.gpuMem));
  const gpuModel = o.gpuModel === undefined ? null : String(o.gpuModel);
  if (gpuModel !== null && (gpuModel.length < 1 || gpuModel.length > 100)) throw new Error('--gpu-model takes a pattern of 1 to 100 characters, e.g. \'A100*\'');
  if (gpus === 0 && (gpuMemMiB !== null || gpuModel !== null)) throw new Error('--gpu-mem and --gpu-model need --gpus N');
  return { gpus, gpuMemMiB, gpuModel };
}
