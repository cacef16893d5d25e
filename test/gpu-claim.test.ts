// The claim's GPU placement in SQL (supabase/migrations/20261201000610_lab_gpu_claim.sql), driven
// the way agents call it: the probe's view of the host's GPUs passed in, leases in the database.
// (No GPU here: the views are written by hand; gpu-scheduling.test.ts runs real agents.)
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { freshDatabase, makeUser, storeAs, type TestDb } from './helpers/db.js';
import type { LabStore } from '../src/services/store/lab-store.js';
import type { ClaimGpu } from '../src/services/gpu/agent-gpus.js';

let db: TestDb;
let alice: string;
let bob: string;
let a: LabStore;
let b: LabStore;
const agentA = randomUUID();
const agentB = randomUUID();

const uuid = (i: number) => `GPU-0000000${i}-0000-4000-8000-00000000000${i}`;
function host(n = 4, extra: (i: number) => Partial<ClaimGpu> = () => ({})): { gpus: ClaimGpu[]; problem: null } {
  return {
    gpus: Array.from({ length: n }, (_, i) => ({ uuid: uuid(i), index: i, model: 'NVIDIA A100-SXM4-80GB', memory_free_mib: 81000, busy: false, usable: true, ...extra(i) })),
    problem: null,
  };
}
const claim = (s: LabStore, agentId: string, gpus: object | null, more: { limit?: number; reserve?: number; stale?: number } = {}) =>
  s.claimJobs({ agentId, host: 'gpu01', limit: more.limit ?? 10, gpus, gpuReserveAfterS: more.reserve ?? 600, gpuLeaseStaleS: more.stale ?? 600 });
const leases = async () => (await db.admin.query('select gpu_uuid, job_id from public.gpu_leases order by gpu_uuid')).rows;

before(async () => {
  db = await freshDatabase();
  alice = await makeUser(db, 'alice');
  bob = await makeUser(db, 'bob');
  a = storeAs(db, alice);
  b = storeAs(db, bob);
  await a.registerAgent({ agentId: agentA, host: 'gpu01', version: 't', mode: 'supervise', pid: 1 });
  await b.registerAgent({ agentId: agentB, host: 'gpu01', version: 't', mode: 'supervise', pid: 2 });
});
beforeEach(async () => {
  await db.admin.query('delete from public.jobs');
});
after(async () => {
  await Promise.all([a.close(), b.close()]);
  await db.drop();
});

test('a GPU job gets free GPUs, leased, named in CUDA_VISIBLE_DEVICES; busy, unusable and leased ones are never given', async () => {
  const j = await a.submitJob({ scriptPath: '/home/alice/t.py', gpus: 2 });
  assert.equal(j.gpus, 2);
  const view = host(4, (i) => ({ busy: i === 0, usable: i !== 1 })); // 0: a foreign process, 1: MIG or lost
  const [got] = await claim(a, agentA, view);
  assert.deepEqual(got!.gpu_uuids, [uuid(2), uuid(3)]);
  assert.equal(got!.cuda_visible_devices, `${uuid(2)},${uuid(3)}`);
  assert.deepEqual((await leases()).map((l) => l.gpu_uuid), [uuid(2), uuid(3)]);
  // The same view again: nothing left for bob's 1-GPU job, which waits with a reason.
  const w = await b.submitJob({ scriptPath: '/home/bob/t.py', gpus: 1 });
  assert.deepEqual(await claim(b, agentB, view), []);
  assert.equal((await b.getJob(w.job_id)).pending_reason, 'waiting for 1 free GPU on gpu01: 0 free');
  // The job ends: its leases go with it, and bob's job gets a GPU.
  await a.failJob({ jobId: j.job_id, error: 'test over' });
  assert.deepEqual(await leases(), []);
  const [bj] = await claim(b, agentB, view);
  assert.deepEqual(bj!.gpu_uuids, [uuid(2)]);
  assert.equal((await b.getJob(w.job_id)).pending_reason, null);
});

test('no head-of-line blocking: a 2-GPU job that does not fit lets a CPU job and a 1-GPU job behind it start', async () => {
  const big = await a.submitJob({ scriptPath: '/home/alice/big.py', gpus: 2 });
  const cpu = await a.submitJob({ scriptPath: '/home/alice/cpu.py' });
  const small = await a.submitJob({ scriptPath: '/home/alice/small.py', gpus: 1 });
  const got = await claim(a, agentA, host(2, (i) => ({ busy: i === 0 })));
  assert.deepEqual(got.map((j) => j.job_id), [cpu.job_id, small.job_id]);
  assert.equal(got[0]!.cuda_visible_devices, null, 'a CPU job gets no GPU');
  const waiting = await a.getJob(big.job_id);
  assert.equal(waiting.status, 'pending');
  assert.equal(waiting.pending_reason, 'waiting for 2 free GPUs on gpu01: 1 free');
});

test('model and memory: only matching GPUs; a request no GPU of the host can meet says so and reserves nothing', async () => {
  const view = { gpus: [...host(2).gpus, { uuid: uuid(7), index: 2, model: 'NVIDIA H200', memory_free_mib: 140000, busy: false, usable: true }], problem: null };
  const h = await a.submitJob({ scriptPath: '/home/alice/h.py', gpus: 1, gpuModel: '*H200*', gpuMemMiB: 100_000 });
  const never = await a.submitJob({ scriptPath: '/home/alice/n.py', gpus: 3, gpuModel: 'NVIDIA A100*' });
  const got = await claim(a, agentA, view, { reserve: 0 });
  assert.deepEqual(got.map((j) => [j.job_id, j.gpu_uuids]), [[h.job_id, [uuid(7)]]]);
  const n = (await db.admin.query('select pending_reason, gpu_wait_since from public.jobs where job_id = $1', [never.job_id])).rows[0];
  assert.equal(n.pending_reason, 'waiting for 3 free GPUs matching NVIDIA A100*: gpu01 has only 2 usable GPUs that fit (another host may)');
  assert.equal(n.gpu_wait_since, null, 'a job that can never start here does not hold the host');
  // No GPU information at all: GPU jobs wait and say why.
  const x = await a.submitJob({ scriptPath: '/home/alice/x.py', gpus: 1 });
  await claim(a, agentA, { gpus: [], problem: 'nvidia-smi was not found' });
  assert.match((await a.getJob(x.job_id)).pending_reason!, /the agent there sees no GPU \(nvidia-smi was not found\)/);
});

test('a model pattern matches a part of the name nvidia-smi prints: A100, A100*, SXM4-80GB; H100 does not', async () => {
  for (const pattern of ['A100', 'A100*', 'SXM4-80GB', '*A100*']) {
    const j = await a.submitJob({ scriptPath: '/home/alice/m.py', gpus: 1, gpuModel: pattern });
    const got = await claim(a, agentA, host(1));
    assert.deepEqual(got.map((r) => r.job_id), [j.job_id], pattern);
    await a.failJob({ jobId: j.job_id, error: 'test over' });
  }
  const h = await a.submitJob({ scriptPath: '/home/alice/h.py', gpus: 1, gpuModel: 'H100' });
  assert.deepEqual(await claim(a, agentA, host(1), { reserve: 0 }), [], 'an A100 is not an H100');
  await a.failJob({ jobId: h.job_id, error: 'test over' });
});

test('no starvation: a GPU job that has waited long enough reserves the host against every member\'s GPU jobs, not CPU jobs', async () => {
  const big = await a.submitJob({ scriptPath: '/home/alice/big.py', gpus: 2 });
  const oneBusy = host(2, (i) => ({ busy: i === 0 }));
  assert.deepEqual(await claim(a, agentA, oneBusy, { reserve: 0 }), []); // waits from now on: reserved at once (reserve 0)
  const bobSmall = await b.submitJob({ scriptPath: '/home/bob/s.py', gpus: 1 });
  const bobCpu = await b.submitJob({ scriptPath: '/home/bob/c.py' });
  const got = await claim(b, agentB, oneBusy, { reserve: 0 });
  assert.deepEqual(got.map((j) => j.job_id), [bobCpu.job_id], 'the free GPU is kept for the waiting 2-GPU job');
  assert.match((await b.getJob(bobSmall.job_id)).pending_reason!, /^waiting for 1 free GPU on gpu01: 1 free, held for a GPU job waiting since /);
  // The busy GPU frees up: the big job gets both.
  const [bj] = await claim(a, agentA, host(2), { reserve: 0 });
  assert.equal(bj!.job_id, big.job_id);
  assert.deepEqual(bj!.gpu_uuids, [uuid(0), uuid(1)]);
  // Before the wait is long enough, the small job would have gone first (backfill): see the test above.
});

test('a lease whose agent and process are gone is taken back; one whose GPU still shows a process is not', async () => {
  const j = await a.submitJob({ scriptPath: '/home/alice/t.py', gpus: 1 });
  await claim(a, agentA, host(1));
  await db.admin.query(`update public.jobs set claimed_at = now() - interval '1 hour' where job_id = $1`, [j.job_id]);
  await db.admin.query(`update public.agents set heartbeat_at = now() - interval '1 hour' where agent_id = $1`, [agentA]);
  const w = await b.submitJob({ scriptPath: '/home/bob/t.py', gpus: 1 });
  assert.deepEqual(await claim(b, agentB, host(1, () => ({ busy: true })), { stale: 300 }), [], 'a process on the GPU: the lease stands');
  const [got] = await claim(b, agentB, host(1), { stale: 300 });
  assert.equal(got!.job_id, w.job_id);
  assert.deepEqual((await leases()).map((l) => l.job_id), [w.job_id]);
  await db.admin.query(`update public.agents set heartbeat_at = now() where agent_id = $1`, [agentA]);
});

test('attacks: another member can neither end a live lease nor call the helpers behind the claim', async () => {
  const j = await a.submitJob({ scriptPath: '/home/alice/t.py', gpus: 1 });
  await claim(a, agentA, host(1));
  // Bob's agent lies: the GPU looks idle, and any lease counts as stale at once.
  await b.submitJob({ scriptPath: '/home/bob/t.py', gpus: 1 });
  assert.deepEqual(await claim(b, agentB, host(1), { stale: 0 }), []);
  await db.admin.query(`update public.agents set heartbeat_at = now() - interval '2 minutes' where agent_id = $1`, [agentA]);
  await db.admin.query(`update public.jobs set claimed_at = now() - interval '2 minutes' where job_id = $1`, [j.job_id]);
  assert.deepEqual(await claim(b, agentB, host(1), { stale: 0 }), [], 'an agent between two cron ticks keeps its lease');
  await db.admin.query('begin');
  try {
    await db.admin.query(`set local role authenticated`);
    await db.admin.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify({ sub: bob, role: 'authenticated' })]);
    await assert.rejects(db.admin.query(`select lab_private.free_gpus('gpu01', $1, 0)`, [JSON.stringify(host(1))]), /permission denied/);
  } finally {
    await db.admin.query('rollback');
  }
  assert.deepEqual((await leases()).map((l) => l.job_id), [j.job_id]);
  await db.admin.query(`update public.agents set heartbeat_at = now() where agent_id = $1`, [agentA]);
});

test('two members\' agents claiming at the same moment never lease one GPU twice', async () => {
  for (let i = 0; i < 6; i++) {
    await a.submitJob({ scriptPath: `/home/alice/${i}.py`, gpus: 1 });
    await b.submitJob({ scriptPath: `/home/bob/${i}.py`, gpus: 1 });
  }
  const [ga, gb] = await Promise.all([claim(a, agentA, host(4)), claim(b, agentB, host(4))]);
  const all = [...ga, ...gb].flatMap((j) => j.gpu_uuids ?? []);
  assert.equal(all.length, 4);
  assert.equal(new Set(all).size, 4, `no GPU twice: ${all}`);
});

test('bad requests are refused with the member\'s words, by the function and for direct rows', async () => {
  await assert.rejects(a.submitJob({ scriptPath: '/home/alice/t.py', gpus: 65 }), /gpus must be between 0 and 64/);
  await assert.rejects(a.submitJob({ scriptPath: '/home/alice/t.py', gpuModel: 'A100*' }), /without a GPU count/);
  await assert.rejects(
    db.admin.query(`insert into public.jobs (user_id, script_path, gpus, gpu_mem_mib) values ($1, 'x.py', 1, 0)`, [alice]),
    /GPU memory must be between/,
  );
  // A row written directly cannot pick its own GPUs.
  const { rows } = await db.admin.query(`insert into public.jobs (user_id, script_path, gpus, gpu_uuids, cuda_visible_devices)
    values ($1, 'x.py', 1, '{GPU-x}', 'GPU-x') returning gpu_uuids, cuda_visible_devices`, [alice]);
  assert.deepEqual(rows[0], { gpu_uuids: null, cuda_visible_devices: null });
});

test('host resources: every member reads every host; only an agent registered on a host publishes it; leases stay private', async () => {
  await a.publishHost({ agentId: agentA, host: 'gpu01', resources: { gpu_status: 'ok', gpus: host(2).gpus.map((g) => ({ ...g, processes: 0, unusable: null, utilization_pct: 5 })), cpu_count: 8 } });
  const seen = await b.listHosts({ history: true });
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.gpus.length, 2);
  assert.equal(seen[0]!.gpus.filter((g) => g.free).length, 2);
  assert.equal(seen[0]!.gpus[0]!.history!.length, 1, 'one utilisation sample');
  await assert.rejects(b.publishHost({ agentId: agentB, host: 'gpu02', resources: { gpus: [] } }), /no agent .* registered on gpu02/);
  await assert.rejects(b.publishHost({ agentId: agentA, host: 'gpu01', resources: { gpus: [] } }), /no agent .* registered on gpu01/);
  // A member's own database role sees no lease (whose jobs hold which GPU is not theirs to read).
  await db.admin.query('begin');
  try {
    await db.admin.query(`set local role authenticated`);
    await db.admin.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify({ sub: bob, role: 'authenticated' })]);
    assert.equal((await db.admin.query('select count(*)::int as n from public.host_resources')).rows[0].n, 1);
    await assert.rejects(db.admin.query('select * from public.gpu_leases'), /permission denied/);
  } finally {
    await db.admin.query('rollback');
  }
});
