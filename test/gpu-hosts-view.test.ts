// The hosts view's pieces that need no browser: the sparkline's geometry, the page's RPC allow-list
// for hosts_list and GPU requests, the CLI's hosts table and doctor's GPU line from a stand-in view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sparklinePoints } from '../web/src/sparkline.js';
import { pageRpcArgs } from '../src/services/web/web-rpc.js';
import { hostsTable } from '../src/cli/host-commands.js';
import { gpuCheck } from '../src/services/doctor/checks-gpu.js';
import type { HostRow } from '../src/services/store/types.js';
import type { HostGpuView } from '../src/services/gpu/types.js';

test('sparkline: the last hour left to right, 0 % at the bottom, gaps left out', () => {
  const now = Date.parse('2026-11-30T12:00:00Z');
  const pts = sparklinePoints([['2026-11-30T11:00:00Z', 0], ['2026-11-30T11:30:00Z', 50], ['2026-11-30T11:45:00Z', null], ['2026-11-30T12:00:00Z', 100]], now);
  assert.equal(pts, '0.0,24.0 60.0,12.0 120.0,0.0');
  assert.equal(sparklinePoints([], now), '');
});

test('the page may ask for hosts_list with its history, and nothing else of it', () => {
  assert.deepEqual(pageRpcArgs('hosts_list', { p_history: true }), { p_history: true });
  assert.throws(() => pageRpcArgs('hosts_list', { p_user_id: '00000000-0000-0000-0000-000000000000' }), /takes no argument p_user_id/);
  assert.throws(() => pageRpcArgs('host_publish', {}), /not a function the page may call/);
  // The page's New job form asks for GPUs the way the CLI does.
  assert.deepEqual(pageRpcArgs('job_submit', { p_script_path: '/home/a/t.py', p_gpus: 2, p_gpu_model: 'A100*' }), { p_script_path: '/home/a/t.py', p_gpus: 2, p_gpu_model: 'A100*' });
});

test('lab-agent hosts: free GPUs per host, each GPU\'s state', () => {
  const gpu = (index: number, more: Partial<HostRow['gpus'][number]>) => ({
    index, uuid: `GPU-${index}`, model: 'NVIDIA A100-SXM4-80GB', memory_total_mib: 81920, memory_used_mib: 0, utilization_pct: 0,
    temperature_c: 30, processes: 0, unusable: null, leased: false, free: true, ...more,
  });
  const out = hostsTable([{
    host: 'gpu01', updated_at: '', seconds_since_update: 12, gpu_status: 'ok', gpu_problem: null, cpu_count: 16, load_1m: 1.5,
    mem_total_mib: 131072, mem_free_mib: 65536,
    gpus: [gpu(0, {}), gpu(1, { free: false, leased: true }), gpu(2, { free: false, processes: 2 }), gpu(3, { free: false, unusable: 'in MIG mode' })],
  }]);
  assert.match(out, /1 of 4 GPUs free; load 1.5 \/ 16 CPUs, 64G of 128G memory free/);
  assert.match(out, /\n +1 +NVIDIA A100-SXM4-80GB .* leased/);
  assert.match(out, /busy \(2 proc\)/);
  assert.match(out, /unusable/);
  assert.match(hostsTable([]), /no host has published/);
});

test('doctor: what the probe sees, and a lock folder others could empty fails', () => {
  const view: HostGpuView = {
    probedAt: '', status: 'ok', lost: [], processesKnown: true, problem: null, notes: [],
    gpus: [{ index: 0, uuid: 'GPU-0', model: 'NVIDIA H200', busId: null, memoryTotalMiB: 143771, memoryUsedMiB: 512, memoryFreeMiB: 143259,
      utilizationPct: 3, temperatureC: 31, mig: 'disabled', health: 'ok', processes: [{ pid: 7, usedMemoryMiB: 500, name: 'python' }], unusable: null }],
  };
  const ok = gpuCheck(view, null);
  assert.equal(ok.status, 'ok');
  assert.equal(ok.detail, 'GPU 0 NVIDIA H200, 512/143771 MiB used: busy (1 process)');
  assert.equal(gpuCheck(view, 'the GPU lock folder /x must be owned by root').status, 'fail');
  assert.equal(gpuCheck({ ...view, status: 'no-nvidia-smi', gpus: [], problem: 'nvidia-smi was not found' }, null).status, 'ok');
});
