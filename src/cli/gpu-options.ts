// The GPU request options, one spec for every command that asks for GPUs (submit, its sweeps,
// schedule add, jupyter start): --gpus N [--gpu-mem 40G] [--gpu-model A100], parsed by
// src/services/gpu/request.ts.
import { parseGpuRequest, type GpuRequest } from '../services/gpu/request.js';
import type { OptionSpec } from './command.js';
import { UsageError } from './output.js';

export const GPU_OPTIONS = {
  gpus: { type: 'string', help: 'GPUs it needs; it waits until that many are free', whenAbsent: '0' },
  'gpu-mem': { type: 'string', help: 'free memory each GPU must have, e.g. 40G', whenAbsent: 'any' },
  'gpu-model': { type: 'string', help: "GPU model: a part of the name nvidia-smi prints (* and ? as in the shell), e.g. A100", whenAbsent: 'any model' },
} as const satisfies OptionSpec;

export const GPU_USAGE = "[--gpus N [--gpu-mem 40G] [--gpu-model 'A100*']]";

/** The request from the parsed options; a bad value is a usage error (no database call). */
export function gpuOptions(options: Readonly<Record<string, unknown>>): GpuRequest {
  try {
    return parseGpuRequest({ gpus: options.gpus, gpuMem: options['gpu-mem'], gpuModel: options['gpu-model'] });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
