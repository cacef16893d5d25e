// --gpus, --gpu-mem, --gpu-model: one option spec and one parser for everything that can ask for
// GPUs (submit, jupyter start), so the words and the checks are the same everywhere.
import { parseGpuRequest, type GpuRequest } from '../services/gpu/request.js';
import { UsageError } from './output.js';

export const GPU_USAGE = "[--gpus N [--gpu-mem 40G] [--gpu-model 'A100*']]";

export const GPU_OPTIONS = {
  gpus: { type: 'string', help: 'GPUs it needs; it waits until that many are free', whenAbsent: '0' },
  'gpu-mem': { type: 'string', help: 'free memory each GPU must have, e.g. 40G', whenAbsent: 'any' },
  'gpu-model': { type: 'string', help: "GPU model pattern, e.g. 'A100*'", whenAbsent: 'any model' },
} as const;

/** The request from the parsed options; a bad value is the member's usage error. */
export function gpuOptions(options: Record<string, unknown>): GpuRequest {
  try {
    return parseGpuRequest({ gpus: options.gpus, gpuMem: options['gpu-mem'], gpuModel: options['gpu-model'] });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
