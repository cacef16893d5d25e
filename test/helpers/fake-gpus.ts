// The stand-in nvidia-smi (test/bin/nvidia-smi; this machine has no GPU) on PATH, reporting the GPUs
// and processes of a spec the test writes (and may rewrite between ticks).
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './required.js';

export const fakeNvidiaSmiDir = join(repoRoot, 'test', 'bin');

interface FakeGpu {
  name?: string;
  uuid?: string;
  busId?: string;
  memoryTotalMiB?: number;
  memoryUsedMiB?: number;
  utilizationPct?: number;
  temperatureC?: number;
  mig?: { profile: string; uuid: string }[];
  migSupported?: boolean;
  state?: 'ok' | 'lost' | 'unknown-error' | 'reset-required' | 'error';
}

export interface FakeGpuSpec {
  driver?: 'ok' | 'missing' | 'version-mismatch' | 'no-devices';
  gpus?: FakeGpu[];
  processes?: { gpu: number | string; pid: number; usedMiB?: number | null; name?: string | null }[];
  delayMs?: number;
}

export class FakeGpus {
  readonly dir = mkdtempSync(join(tmpdir(), 'lab-fake-gpus-'));
  readonly specFile = join(this.dir, 'gpus.json');
  readonly logFile = join(this.dir, 'calls.log');

  constructor(spec: FakeGpuSpec) {
    this.set(spec);
  }

  set(spec: FakeGpuSpec): void {
    writeFileSync(this.specFile, JSON.stringify(spec));
  }

  /** An environment with the stand-in first on PATH. */
  env(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return { ...base, PATH: `${fakeNvidiaSmiDir}:${base.PATH ?? '/usr/bin:/bin'}`, LAB_FAKE_GPUS_FILE: this.specFile, LAB_FAKE_GPUS_LOG: this.logFile };
  }

  /** The argument lists of every call so far. */
  calls(): string[][] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
