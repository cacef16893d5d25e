// The GPU probe end to end: nvidia-smi run as a command, through the stand-in on PATH
// (test/bin/nvidia-smi: THIS MACHINE HAS NO GPU, the stand-in reports the GPUs the test describes).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeGpus, listGpus } from '../src/services/gpu/probe.js';
import { APPS_QUERY_ARGS, GPU_QUERY_ARGS } from '../src/services/gpu/nvidia-smi-output.js';
import { FakeGpus } from './helpers/fake-gpus.js';
import { repoRoot, requirePart } from './helpers/required.js';
import { which } from './helpers/install-env.js';

const fakes: FakeGpus[] = [];
const fake = (spec: ConstructorParameters<typeof FakeGpus>[0]) => {
  const f = new FakeGpus(spec);
  fakes.push(f);
  return f;
};
after(() => fakes.forEach((f) => f.cleanup()));

test('8 GPUs of two models with foreign processes: one probe, exactly the two documented queries', async () => {
  const gpus = fake({
    gpus: [
      ...Array.from({ length: 6 }, () => ({ name: 'NVIDIA H100 80GB HBM3', memoryTotalMiB: 81559, migSupported: true })),
      ...Array.from({ length: 2 }, () => ({ name: 'NVIDIA A100-SXM4-40GB', memoryTotalMiB: 40960, utilizationPct: 87, temperatureC: 66 })),
    ],
    processes: [
      { gpu: 1, pid: 5150, usedMiB: 30000, name: 'python train.py' },
      { gpu: 7, pid: 6160, usedMiB: 12000, name: 'jupyter-kernel, user x' },
      { gpu: 7, pid: 6161, usedMiB: null, name: null },
    ],
  });
  const view = await probeGpus({ env: gpus.env() });
  assert.equal(view.status, 'ok');
  assert.equal(view.problem, null);
  assert.deepEqual(gpus.calls().sort(), [APPS_QUERY_ARGS, GPU_QUERY_ARGS].sort(), 'two nvidia-smi calls, no more');
  assert.deepEqual(view.gpus.map((g) => g.model), [...Array(6).fill('NVIDIA H100 80GB HBM3'), 'NVIDIA A100-SXM4-40GB', 'NVIDIA A100-SXM4-40GB']);
  assert.ok(view.gpus.every((g) => /^GPU-/.test(g.uuid) && g.unusable === null && g.health === 'ok'));
  assert.deepEqual(new Set(view.gpus.map((g) => g.uuid)).size, 8);
  const g1 = view.gpus[1]!;
  assert.deepEqual([g1.memoryTotalMiB, g1.memoryUsedMiB, g1.memoryFreeMiB, g1.mig], [81559, 30000, 51559, 'disabled']);
  assert.deepEqual(g1.processes, [{ pid: 5150, usedMemoryMiB: 30000, name: 'python train.py' }]);
  assert.deepEqual(view.gpus[7]!.processes, [{ pid: 6160, usedMemoryMiB: 12000, name: 'jupyter-kernel, user x' }, { pid: 6161, usedMemoryMiB: null, name: null }]);
  assert.deepEqual([view.gpus[7]!.utilizationPct, view.gpus[7]!.temperatureC, view.gpus[7]!.mig], [87, 66, 'unsupported']);
  assert.ok(view.gpus.slice(2, 7).every((g) => g.processes.length === 0));
  assert.ok(Date.now() - Date.parse(view.probedAt) < 60_000);
});

test('MIG: the GPU is refused with a clear reason, and -L lists its MIG devices', async () => {
  const gpus = fake({ gpus: [{ name: 'NVIDIA A100-SXM4-80GB', mig: [{ profile: '3g.40gb', uuid: 'MIG-11111111-2222-3333-4444-555555555555' }, { profile: '1g.10gb', uuid: 'MIG-66666666-7777-8888-9999-000000000000' }] }, { name: 'NVIDIA A100-SXM4-80GB', migSupported: true }] });
  const view = await probeGpus({ env: gpus.env() });
  assert.match(view.gpus[0]!.unusable!, /GPU 0 \(NVIDIA A100-SXM4-80GB\) is in MIG mode/);
  assert.equal(view.gpus[0]!.utilizationPct, null);
  assert.equal(view.gpus[1]!.unusable, null);
  const listed = await listGpus({ env: gpus.env() });
  assert.deepEqual(listed.gpus.map((g) => g.mig.map((m) => m.profile)), [['3g.40gb', '1g.10gb'], []]);
  assert.equal(listed.gpus[0]!.mig[1]!.uuid, 'MIG-66666666-7777-8888-9999-000000000000');
});

test('a lost GPU, one with an unknown error and one that needs a reset: the rest are still usable', async () => {
  const gpus = fake({
    gpus: [{}, { state: 'lost' }, { state: 'unknown-error' }, { state: 'reset-required' }, { state: 'error' }, {}],
    processes: [{ gpu: 5, pid: 777, usedMiB: 100, name: 'python' }],
  });
  const view = await probeGpus({ env: gpus.env() });
  assert.equal(view.status, 'ok');
  assert.deepEqual(view.gpus.map((g) => [g.index, g.health]), [[0, 'ok'], [3, 'reset-required'], [4, 'error'], [5, 'ok']]);
  assert.deepEqual(view.gpus.filter((g) => !g.unusable).map((g) => g.index), [0, 5]);
  assert.deepEqual(view.lost, [
    { index: null, busId: '0000:11:00.0', reason: 'GPU is lost.  Reboot the system to recover this GPU' },
    { index: 2, busId: '0000:12:00.0', reason: 'Unknown Error' },
  ]);
  assert.match(view.problem!, /a GPU at 0000:11:00\.0 is lost .*GPU 2 at 0000:12:00\.0 is lost .*GPU 3 \(.*\) needs a reset.*GPU 4 \(.*\) reports an error/);
  assert.deepEqual(view.gpus[3]!.processes.map((p) => p.pid), [777]);
});

test('a missing driver and a driver/library mismatch are problems, with no GPUs', async () => {
  const missing = await probeGpus({ env: fake({ driver: 'missing' }).env() });
  assert.deepEqual([missing.status, missing.gpus.length], ['driver-error', 0]);
  assert.match(missing.problem!, /couldn't communicate with the NVIDIA driver/);
  const mismatch = await probeGpus({ env: fake({ driver: 'version-mismatch' }).env() });
  assert.match(mismatch.problem!, /Driver\/library version mismatch/);
  const none = await probeGpus({ env: fake({ driver: 'no-devices' }).env() });
  assert.equal(none.status, 'no-devices');
});

test('no nvidia-smi at all (a CPU-only host): not-found, never an exception', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'lab-no-smi-'));
  const view = await probeGpus({ env: { ...process.env, PATH: empty } });
  assert.deepEqual([view.status, view.gpus, view.processesKnown], ['no-nvidia-smi', [], false]);
  assert.match(view.problem!, /nvidia-smi was not found/);
  const byPath = await probeGpus({ command: join(empty, 'nvidia-smi') });
  assert.equal(byPath.status, 'no-nvidia-smi');
});

test('a hung nvidia-smi is killed at the time limit and reported', async () => {
  const gpus = fake({ gpus: [{}], delayMs: 30_000 });
  const started = Date.now();
  const view = await probeGpus({ env: gpus.env(), timeoutMs: 1500 });
  assert.ok(Date.now() - started < 10_000, 'the probe returned at its time limit');
  assert.deepEqual([view.status, view.gpus.length], ['timeout', 0]);
  assert.match(view.problem!, /did not answer within 1\.5 s/);
});

const deviceScript = join(repoRoot, 'bench', 'gpu-device.sh');

test('bench/gpu-device.sh passes shellcheck', { skip: requirePart('shellcheck', which('shellcheck'), 'apt-get install shellcheck') }, () => {
  execFileSync('shellcheck', [deviceScript], { stdio: 'pipe' });
});

test('bench/gpu-device.sh on a machine without a GPU stops at once with exit 2 and says why', () => {
  try {
    execFileSync('bash', [deviceScript], { env: { ...process.env, NVIDIA_SMI: '/nonexistent/nvidia-smi' }, encoding: 'utf8', stdio: 'pipe', timeout: 30_000 });
    assert.fail('it ran without a GPU');
  } catch (err) {
    const e = err as { status: number; stderr: string };
    assert.equal(e.status, 2);
    assert.match(e.stderr, /^gpu-device: no nvidia-smi on this machine \(PATH=.*\): it has no NVIDIA GPU or driver; run this on a GPU machine\n$/);
  }
});
