// The nvidia-smi parsers and the host view on every fixture in test/fixtures/nvidia-smi (formats from
// NVIDIA's documentation; this machine has no GPU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './helpers/required.js';
import { parseComputeApps, parseDeviceHandleError, parseGpuList, parseGpuQuery } from '../src/services/gpu/nvidia-smi-output.js';
import { buildHostView, type SmiRun } from '../src/services/gpu/host-view.js';

const dir = join(repoRoot, 'test', 'fixtures', 'nvidia-smi');
const fixture = (name: string) => readFileSync(join(dir, name), 'utf8');
const ok = (stdout: string, exitCode = 0): SmiRun => ({ stdout, stderr: '', exitCode });
const noApps = ok('');
const view = (gpu: SmiRun, apps: SmiRun = noApps) => buildHostView(gpu, apps, new Date('2026-01-01T00:00:00Z'), 10_000);
const used = new Set<string>();
const read = (name: string) => (used.add(name), fixture(name));

test('8 GPUs of one model, with processes on three, one of them named with ", "', () => {
  const v = view(ok(read('query-gpu-8x-h100.txt')), ok(read('query-apps-8x-h100.txt')));
  assert.equal(v.status, 'ok');
  assert.equal(v.problem, null);
  assert.equal(v.gpus.length, 8);
  assert.deepEqual(v.gpus.map((g) => g.index), [0, 1, 2, 3, 4, 5, 6, 7]);
  const g0 = v.gpus[0]!;
  assert.deepEqual(
    { uuid: g0.uuid, model: g0.model, busId: g0.busId, total: g0.memoryTotalMiB, used: g0.memoryUsedMiB, free: g0.memoryFreeMiB, util: g0.utilizationPct, temp: g0.temperatureC, mig: g0.mig, health: g0.health, unusable: g0.unusable },
    { uuid: 'GPU-2c8f7a3e-5b1d-4e6f-9a0b-1c2d3e4f5a60', model: 'NVIDIA H100 80GB HBM3', busId: '00000000:18:00.0', total: 81559, used: 74213, free: 6775, util: 97, temp: 64, mig: 'disabled', health: 'ok', unusable: null },
  );
  assert.deepEqual(g0.processes, [{ pid: 184221, usedMemoryMiB: 74200, name: '/home/sato/.venv/bin/python' }]);
  assert.deepEqual(v.gpus[4]!.processes.map((p) => [p.pid, p.name]), [[99102, 'python3'], [99417, '/opt/conda/bin/python, the second worker']]);
  assert.deepEqual(v.gpus.filter((g) => g.processes.length === 0).map((g) => g.index), [2, 3, 5, 6, 7]);
  assert.equal(v.processesKnown, true);
});

test('several models on one host keep their own names and sizes; "[N/A]" MIG mode means no MIG', () => {
  const v = view(ok(read('query-gpu-mixed-models.txt')));
  assert.deepEqual(v.gpus.map((g) => [g.model, g.memoryTotalMiB, g.mig]), [
    ['NVIDIA A100-SXM4-80GB', 81920, 'disabled'],
    ['NVIDIA A100-SXM4-40GB', 40960, 'disabled'],
    ['NVIDIA GeForce RTX 4090', 24564, 'unsupported'],
    ['Tesla V100-SXM2-32GB', 32768, 'unsupported'],
  ]);
  assert.ok(v.gpus.every((g) => g.unusable === null && g.health === 'ok'));
});

test('"[Not Supported]" and "[N/A]" values are null, not zero, and the GPU stays usable', () => {
  const v = view(ok(read('query-gpu-not-supported.txt')));
  const [old, vgpu] = v.gpus;
  assert.equal(old!.utilizationPct, null);
  assert.equal(old!.temperatureC, 45);
  assert.equal(old!.mig, 'unsupported');
  assert.deepEqual([vgpu!.memoryTotalMiB, vgpu!.memoryUsedMiB, vgpu!.memoryFreeMiB, vgpu!.utilizationPct, vgpu!.temperatureC], [24576, 0, 23592, null, null]);
  assert.ok(v.gpus.every((g) => g.health === 'ok' && g.unusable === null));
  assert.equal(v.problem, null);
});

test('a GPU in MIG mode is refused with a reason that says what to do; the other GPU stays usable', () => {
  const v = view(ok(read('query-gpu-mig.txt')));
  const [mig, plain] = v.gpus;
  assert.equal(mig!.mig, 'enabled');
  assert.equal(mig!.utilizationPct, null);
  assert.match(mig!.unusable!, /GPU 0 \(NVIDIA A100-SXM4-40GB\) is in MIG mode: lab-agent does not place jobs on MIG instances; .*nvidia-smi -i 0 -mig 0/);
  assert.equal(plain!.unusable, null);
  assert.equal(v.problem, null, 'MIG mode is a choice of the administrator, not a fault');
});

test('nvidia-smi -L lists MIG devices under their GPU, in both naming schemes', () => {
  const list = parseGpuList(read('list-gpus-mig.txt'));
  assert.deepEqual(list.notes, []);
  assert.deepEqual(list.rows.map((g) => [g.index, g.model, g.uuid, g.mig.map((m) => `${m.profile}#${m.device}=${m.uuid}`)]), [
    [0, 'NVIDIA A100-SXM4-40GB', 'GPU-838f60d9-651f-9166-ea42-f9da674a6947', [
      '3g.20gb#0=MIG-ffda444c-c706-57c6-98c9-67c441a0b109',
      '2g.10gb#1=MIG-fe9bc608-60f5-5479-8cc4-1827021d27a9',
      '1g.5gb#2=MIG-90075af8-1349-5b67-83b7-e31b0590b922',
    ]],
    [1, 'NVIDIA A100-SXM4-40GB', 'GPU-e109d8d9-923e-7235-0429-96b7fdbcbd30', []],
  ]);
  const old = parseGpuList(read('list-gpus-mig-r460.txt'));
  assert.deepEqual(old.rows[0]!.mig.map((m) => m.uuid), ['MIG-GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b/7/0', 'MIG-GPU-63feeb45-94c6-b9cb-78ea-98e9b7a5be6b/8/0']);
});

test('GPUs fallen off the bus are listed as lost with their bus id, the others still reported', () => {
  const v = view(ok(read('query-gpu-lost.txt'), 15));
  assert.equal(v.status, 'ok');
  assert.deepEqual(v.gpus.map((g) => g.index), [0, 3]);
  assert.deepEqual(v.lost, [
    { index: null, busId: '0000:3B:00.0', reason: 'Unknown Error' },
    { index: null, busId: '0000:5E:00.0', reason: 'GPU is lost.  Reboot the system to recover this GPU' },
  ]);
  assert.equal(v.problem, 'a GPU at 0000:3B:00.0 is lost (Unknown Error): it needs a reset or a reboot; ' +
    'a GPU at 0000:5E:00.0 is lost (GPU is lost.  Reboot the system to recover this GPU): it needs a reset or a reboot');

  const newer = view(ok(read('query-gpu-lost-r550.txt'), 15));
  assert.deepEqual(newer.lost, [{ index: 1, busId: '0000:34:00.0', reason: 'Unknown Error' }]);
  assert.match(newer.problem!, /^GPU 1 at 0000:34:00\.0 is lost \(Unknown Error\)/);
  assert.deepEqual(newer.gpus.map((g) => g.model), ['NVIDIA L40S']);
});

test('the device-handle line in each wording drivers have used', () => {
  assert.deepEqual(parseDeviceHandleError('Unable to determine the device handle for GPU0: 0000:01:00.0: Unknown Error'), { index: 0, busId: '0000:01:00.0', reason: 'Unknown Error' });
  assert.deepEqual(parseDeviceHandleError('Unable to determine the device handle for GPU 000:BA:80.0: Unknown Error'), { index: null, busId: '000:BA:80.0', reason: 'Unknown Error' });
  assert.deepEqual(parseDeviceHandleError('Unable to determine the device handle for GPU1'), { index: 1, busId: null, reason: 'Unknown Error' });
  assert.equal(parseDeviceHandleError('0, GPU-x, name, 00000000:01:00.0, 1, 1, 0, 0, 30, [N/A]'), null);
});

test('"[GPU requires reset]" and "[Unknown Error]" fields make a GPU unusable and a problem', () => {
  const v = view(ok(read('query-gpu-reset-required.txt')));
  assert.deepEqual(v.gpus.map((g) => g.health), ['ok', 'reset-required', 'error']);
  assert.equal(v.gpus[0]!.unusable, null);
  assert.equal(v.gpus[1]!.unusable, 'GPU 1 (NVIDIA H100 PCIe) needs a reset: the driver reports [GPU requires reset]');
  assert.match(v.gpus[2]!.unusable!, /GPU 2 \(NVIDIA H100 PCIe\) reports an error \(\[Unknown Error\]\)/);
  assert.equal(v.gpus[2]!.memoryUsedMiB, null);
  assert.equal(v.problem, `${v.gpus[1]!.unusable}; ${v.gpus[2]!.unusable}`);
  // The table view's "ERR!" counts as an error as well, should a driver print it in a query.
  const err = view(ok('0, GPU-aa, NVIDIA T4, 00000000:01:00.0, 15360, 0, 14913, ERR!, ERR!, [N/A]'));
  assert.equal(err.gpus[0]!.health, 'error');
});

test('a row whose UUID cannot be read is a lost GPU, not a GPU to lease', () => {
  const v = view(ok('0, [Unknown Error], NVIDIA T4, 00000000:01:00.0, 15360, 0, 14913, 0, 30, [N/A]\n1, GPU-bb, NVIDIA T4, 00000000:02:00.0, 15360, 0, 14913, 0, 30, [N/A]'));
  assert.deepEqual(v.gpus.map((g) => g.uuid), ['GPU-bb']);
  assert.deepEqual(v.lost, [{ index: 0, busId: '00000000:01:00.0', reason: '[Unknown Error]' }]);
});

test('hidden process names and absent memory figures are null; no processes is an empty list', () => {
  const apps = parseComputeApps(read('query-apps-permissions.txt'));
  assert.deepEqual(apps.rows, [
    { gpuUuid: 'GPU-7d0e9b41-3a6c-2f58-b1e4-8c9d0a1b2c31', pid: 31337, usedMemoryMiB: 38190, name: null },
    { gpuUuid: 'GPU-838f60d9-651f-9166-ea42-f9da674a6947', pid: 2201, usedMemoryMiB: null, name: 'python' },
  ]);
  const v = view(ok(fixture('query-gpu-mixed-models.txt')), ok(read('query-apps-none.txt')));
  assert.ok(v.gpus.every((g) => g.processes.length === 0));
  assert.equal(v.processesKnown, true);
});

test('a missing driver, a driver/library mismatch and no GPU each say so, with no GPUs', () => {
  const missing = view(ok(read('driver-missing.txt'), 9), ok(fixture('driver-missing.txt'), 9));
  assert.equal(missing.status, 'driver-error');
  assert.deepEqual(missing.gpus, []);
  assert.match(missing.problem!, /^the NVIDIA driver does not answer: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/);
  const mismatch = view({ stdout: '', stderr: read('driver-version-mismatch.txt'), exitCode: 18 });
  assert.equal(mismatch.status, 'driver-error');
  assert.match(mismatch.problem!, /Driver\/library version mismatch/);
  assert.deepEqual(mismatch.notes, ['NVML library version: 535.161']);
  const none = view(ok(read('no-devices.txt'), 6));
  assert.deepEqual([none.status, none.problem], ['no-devices', 'nvidia-smi found no GPU']);
});

test('no nvidia-smi, a timeout and an unknown failure', () => {
  assert.deepEqual([view({ stdout: '', stderr: '', exitCode: null, spawnError: 'not-found' })].map((v) => [v.status, v.problem]),
    [['no-nvidia-smi', 'nvidia-smi was not found: no NVIDIA driver on this host (or not on PATH)']]);
  assert.match(view({ stdout: '', stderr: '', exitCode: null, spawnError: 'timeout' }).problem!, /did not answer within 10 s/);
  const odd = view({ stdout: '', stderr: 'Segmentation fault', exitCode: 139 });
  assert.deepEqual([odd.status, odd.problem], ['failed', 'nvidia-smi failed (exit 139): Segmentation fault']);
});

test('when the process list cannot be read, no GPU may count as free', () => {
  const v = view(ok(fixture('query-gpu-mixed-models.txt')), { stdout: '', stderr: '', exitCode: null, spawnError: 'timeout' });
  assert.equal(v.status, 'ok');
  assert.equal(v.processesKnown, false);
  assert.match(v.problem!, /the compute processes could not be read \(timeout/);
});

test('unknown lines are kept as notes, never taken for GPUs', () => {
  const v = view(ok(`WARNING: infoROM is corrupted at gpu 0000:01:00.0\n${fixture('query-gpu-mixed-models.txt')}`));
  assert.equal(v.gpus.length, 4);
  assert.deepEqual(v.notes, ['WARNING: infoROM is corrupted at gpu 0000:01:00.0']);
  assert.deepEqual(parseGpuQuery('0, GPU-aa, too, few').rows, []);
});

test('every fixture is used by a test above', () => {
  const files = readdirSync(dir).filter((f) => f !== 'README.md');
  assert.deepEqual(files.filter((f) => !used.has(f)), []);
  const readme = fixture('README.md');
  for (const f of files) assert.ok(readme.includes(`\`${f}\``), `README.md says where ${f} comes from`);
});
