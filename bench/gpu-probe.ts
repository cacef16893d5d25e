// A tick's GPU probe on a host with 8 GPUs, as the probe's own cost: what probeGpus adds to the time
// nvidia-smi itself takes. This machine has no GPU, so nvidia-smi is the stand-in (test/bin/nvidia-smi,
// a Node script): its own time is measured alone in the same run and subtracted.
//   A. probeGpus() through the stand-in                         (spawn x2 + stand-in x2 + parse)
//   B. the stand-in alone: the same two argvs, spawned bare      (spawn x2 + stand-in x2)
//   C. probeGpus() through a fast nvidia-smi (sh printing saved 8-GPU output)
//   D. `true` spawned twice, side by side                        (the cheapest possible two processes)
//   E. buildHostView() alone on the 8-GPU answers                 (parse + view, no process)
//   F. a fresh `node` importing the probe module, minus a bare `node` (what a cron tick pays once)
// Own cost = median of the per-round A - B (method 1) and of C - D (method 2). Rounds alternate.
// Run: npm run build && node --import tsx bench/gpu-probe.ts [--runs 30]
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { probeGpus, runNvidiaSmi } from '../src/services/gpu/probe.js';
import { buildHostView } from '../src/services/gpu/host-view.js';
import { APPS_QUERY_ARGS, GPU_QUERY_ARGS } from '../src/services/gpu/nvidia-smi-output.js';
import { FakeGpus } from '../test/helpers/fake-gpus.js';
import { median, percentile, round } from './lib/stats.js';

const arg = (name: string, dflt: number) => Number(process.argv[process.argv.indexOf(name) + 1] || dflt) || dflt;
const runs = process.argv.includes('--runs') ? arg('--runs', 30) : 30;
const WARMUP = 3;

const fake = new FakeGpus({
  gpus: Array.from({ length: 8 }, (_, i) => ({ name: i < 6 ? 'NVIDIA H100 80GB HBM3' : 'NVIDIA A100-SXM4-80GB', memoryTotalMiB: 81559, utilizationPct: i * 10, temperatureC: 30 + i, migSupported: true })),
  processes: [{ gpu: 0, pid: 1001, usedMiB: 70000, name: 'python train.py' }, { gpu: 3, pid: 1002, usedMiB: 20000, name: 'python' }, { gpu: 3, pid: 1003, usedMiB: 9000, name: 'jupyter' }],
});
const env = { ...fake.env(), LAB_FAKE_GPUS_LOG: '' };

// A fast nvidia-smi: sh printing the stand-in's answers, saved once.
const gpuOut = await runNvidiaSmi(GPU_QUERY_ARGS, { env });
const appsOut = await runNvidiaSmi(APPS_QUERY_ARGS, { env });
if (gpuOut.exitCode !== 0 || gpuOut.stdout.trim().split('\n').length !== 8) throw new Error(`stand-in did not report 8 GPUs: ${JSON.stringify(gpuOut)}`);
const fastDir = mkdtempSync(join(tmpdir(), 'lab-bench-smi-'));
writeFileSync(join(fastDir, 'gpus.csv'), gpuOut.stdout);
writeFileSync(join(fastDir, 'apps.csv'), appsOut.stdout);
const fastSmi = join(fastDir, 'nvidia-smi');
writeFileSync(fastSmi, `#!/bin/sh\ncase "$1" in --query-gpu=*) exec cat '${fastDir}/gpus.csv' ;; *) exec cat '${fastDir}/apps.csv' ;; esac\n`);
chmodSync(fastSmi, 0o755);

function spawnBare(cmd: string, args: string[], spawnEnv: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: spawnEnv, stdio: ['ignore', 'ignore', 'ignore'] });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const A: number[] = [], B: number[] = [], C: number[] = [], D: number[] = [];
for (let i = 0; i < runs + WARMUP; i++) {
  const a = await time(async () => {
    const v = await probeGpus({ env });
    if (v.gpus.length !== 8 || v.problem) throw new Error(`probe saw ${v.gpus.length} GPUs: ${v.problem}`);
  });
  const b = await time(() => Promise.all([spawnBare('nvidia-smi', GPU_QUERY_ARGS, env), spawnBare('nvidia-smi', APPS_QUERY_ARGS, env)]));
  const c = await time(async () => {
    const v = await probeGpus({ command: fastSmi });
    if (v.gpus.length !== 8) throw new Error('fast nvidia-smi: not 8 GPUs');
  });
  const d = await time(() => Promise.all([spawnBare('true', [], process.env), spawnBare('true', [], process.env)]));
  if (i >= WARMUP) {
    A.push(a);
    B.push(b);
    C.push(c);
    D.push(d);
  }
}

const E: number[] = [];
const at = new Date();
for (let i = 0; i < 2000; i++) {
  const t = performance.now();
  buildHostView(gpuOut, appsOut, at, 10_000);
  if (i >= 200) E.push(performance.now() - t);
}

// F: module load in a fresh process (built files, as a tick loads them).
const root = new URL('..', import.meta.url).pathname;
const nodeTime = (code: string) => {
  const t = performance.now();
  execFileSync(process.execPath, ['-e', code], { cwd: root });
  return performance.now() - t;
};
const bare: number[] = [], withProbe: number[] = [], withExeca: number[] = [];
for (let i = 0; i < Math.max(5, Math.round(runs / 3)); i++) {
  bare.push(nodeTime("import('node:child_process')")); // the ESM loader started, nothing of ours loaded
  withProbe.push(nodeTime("import('./dist/services/gpu/probe.js')"));
  withExeca.push(nodeTime("import('execa')"));
}
fake.cleanup();

// Per-round differences (A - B, C - D): each pair ran back to back, so load that drifts over the run
// cancels out better than in a difference of medians.
const paired = (x: number[], y: number[]) => x.map((v, i) => v - y[i]!);
const ms = (v: number[]) => ({ median: round(median(v), 2), p90: round(percentile(v, 90), 2) });
const rows = {
  'A probe via stand-in': ms(A),
  'B stand-in alone': ms(B),
  'C probe via fast sh nvidia-smi': ms(C),
  'D two `true` spawns': ms(D),
  'E buildHostView only': { median: round(median(E), 4), p90: round(percentile(E, 90), 4) },
  'F fresh node + probe module, minus node + a builtin import': { median: round(median(withProbe) - median(bare), 1), p90: NaN },
  'F fresh node + execa, minus node + a builtin import': { median: round(median(withExeca) - median(bare), 1), p90: NaN },
};
console.log(`| measure (${runs} rounds, ${cpus().length} CPUs, Node ${process.version}) | median ms | p90 ms |\n| --- | --- | --- |`);
for (const [k, v] of Object.entries(rows)) console.log(`| ${k} | ${v.median} | ${Number.isNaN(v.p90) ? '' : v.p90} |`);
const m1 = paired(A, B), m2 = paired(C, D);
console.log(`\nprobe's own cost (median of per-round differences, p90): method 1 (A - B) ${round(median(m1), 2)} ms (p90 ${round(percentile(m1, 90), 2)}); ` +
  `method 2 (C - D) ${round(median(m2), 2)} ms (p90 ${round(percentile(m2, 90), 2)}); target <= 50 ms`);
