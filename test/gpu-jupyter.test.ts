// GPU requests for Jupyter sessions (issue 16). THIS MACHINE HAS NO GPU: the agent sees the
// stand-in nvidia-smi (test/bin/nvidia-smi, it says so in its header) reporting two A100s.
// - jupyter_claim in SQL, driven the way agents call it: a session's GPUs are leased in the same
//   table as jobs' (a job never gets a session's GPU, nor the other way round), a session that does
//   not fit waits with its reason and does not block the one behind it, the lease ends with the
//   session, a silent agent's lease comes back, and a Slurm agent leases nothing.
// - End to end with a real server (Debian's Notebook 6): `jupyter start --gpus 1` runs the server
//   with CUDA_VISIBLE_DEVICES naming its GPU (read from the server's own /proc environ) and
//   CUDA_DEVICE_ORDER=PCI_BUS_ID; `jupyter stop` gives the GPU back.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { freshDatabase, killLeftoverJupyter, makeUser, storeAs, type TestDb } from './helpers/db.js';
import { AgentEnv, sleep } from './helpers/agent-env.js';
import { FakeGpus, fakeNvidiaSmiDir } from './helpers/fake-gpus.js';
import { hasLegacyJupyter, requirePart } from './helpers/required.js';
import type { LabStore } from '../src/services/store/lab-store.js';
import type { ClaimGpu } from '../src/services/gpu/agent-gpus.js';
import type { SessionRow } from '../src/services/store/types.js';

const uuid = (i: number) => `GPU-1abc0de0-000${i}-4000-8000-00000000000${i}`;
function view(n: number, extra: (i: number) => Partial<ClaimGpu> = () => ({})): { gpus: ClaimGpu[]; problem: null } {
  return {
    gpus: Array.from({ length: n }, (_, i) => ({ uuid: uuid(i), index: i, model: 'NVIDIA A100-SXM4-80GB', memory_free_mib: 81000, busy: false, usable: true, ...extra(i) })),
    problem: null,
  };
}

let db: TestDb;
before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await killLeftoverJupyter(db).catch(() => undefined);
  await db.drop();
});

describe('jupyter_claim places GPU sessions (SQL)', () => {
  let a: LabStore;
  let b: LabStore;
  const agentA = randomUUID();
  const agentB = randomUUID();
  const leases = async () => (await db.admin.query('select gpu_uuid, job_id, session_id from public.gpu_leases order by gpu_uuid')).rows;
  const claimSessions = (s: LabStore, agentId: string, gpus: object | null, executor: 'local' | 'slurm' = 'local') =>
    s.claimJupyter({ agentId, host: 'gpu01', limit: 10, executor, gpus, gpuReserveAfterS: 600, gpuLeaseStaleS: 600 });

  before(async () => {
    a = storeAs(db, await makeUser(db, 'alice'));
    b = storeAs(db, await makeUser(db, 'bob'));
    await a.registerAgent({ agentId: agentA, host: 'gpu01', version: 't', mode: 'supervise', pid: 1 });
    await b.registerAgent({ agentId: agentB, host: 'gpu01', version: 't', mode: 'supervise', pid: 2 });
  });
  beforeEach(async () => {
    await db.admin.query('delete from public.gpu_leases; delete from public.jobs; delete from public.jupyter_sessions');
  });
  after(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  test('a session\'s GPU is leased like a job\'s: no job gets it while the session holds it, and it comes back when the session stops', async () => {
    const s = await a.requestJupyter({ gpus: 1, gpuModel: '*A100*' });
    assert.equal(s.gpus, 1);
    const [got] = await claimSessions(a, agentA, view(2, (i) => ({ busy: i === 0 })));
    assert.equal(got!.status, 'starting');
    assert.equal(got!.executor, 'local');
    assert.deepEqual(got!.gpu_uuids, [uuid(1)]);
    assert.equal(got!.cuda_visible_devices, uuid(1));
    assert.deepEqual((await leases()).map((l) => [l.gpu_uuid, l.session_id]), [[uuid(1), s.session_id]]);
    // Bob's job sees GPU 1 free in the driver's view, but it is leased: it waits.
    const j = await b.submitJob({ scriptPath: '/home/bob/t.py', gpus: 1 });
    assert.deepEqual(await b.claimJobs({ agentId: agentB, host: 'gpu01', limit: 5, gpus: view(2, (i) => ({ busy: i === 0 })) }), []);
    assert.equal((await b.getJob(j.job_id)).pending_reason, 'waiting for 1 free GPU on gpu01: 0 free');
    await a.beginJupyterStop({ sessionId: s.session_id });
    assert.equal((await leases()).length, 1, 'still held while it stops');
    await a.markJupyterStopped({ sessionId: s.session_id, reason: 'test' });
    assert.deepEqual(await leases(), []);
    const [bj] = await b.claimJobs({ agentId: agentB, host: 'gpu01', limit: 5, gpus: view(2, (i) => ({ busy: i === 0 })) });
    assert.deepEqual(bj!.gpu_uuids, [uuid(1)]);
    // …and now a session asking for one waits, with the reason, while a CPU session behind it starts.
    const big = await a.requestJupyter({ gpus: 1 });
    const cpu = await a.requestJupyter({});
    const got2 = await claimSessions(a, agentA, view(2, (i) => ({ busy: i === 0 })));
    assert.deepEqual(got2.map((x) => x.session_id), [cpu.session_id]);
    assert.equal(got2[0]!.cuda_visible_devices, null);
    const waiting = (await a.listSessions({})).find((x) => x.session_id === big.session_id)!;
    assert.equal(waiting.status, 'pending');
    assert.equal(waiting.pending_reason, 'waiting for 1 free GPU on gpu01: 0 free');
  });

  test('a failed session gives its GPUs back; a silent agent\'s lease on an idle GPU is taken back; a Slurm agent leases nothing', async () => {
    const s = await a.requestJupyter({ gpus: 2 });
    await claimSessions(a, agentA, view(2));
    await a.failJupyter({ sessionId: s.session_id, error: 'test' });
    assert.deepEqual(await leases(), []);

    const t = await a.requestJupyter({ gpus: 1 });
    await claimSessions(a, agentA, view(1));
    assert.equal((await leases()).length, 1);
    // Alice's agent and session fall silent for longer than the stale limit (at least 5 minutes).
    await db.admin.query("update public.agents set heartbeat_at = now() - interval '1 hour' where agent_id = $1", [agentA]);
    // (past the trigger that keeps updated_at current)
    await db.admin.query(`begin; set local session_replication_role = replica;
      update public.jupyter_sessions set updated_at = now() - interval '1 hour' where session_id = '${t.session_id}'; commit`);
    const j = await b.submitJob({ scriptPath: '/home/bob/t.py', gpus: 1 });
    const [bj] = await b.claimJobs({ agentId: agentB, host: 'gpu01', limit: 5, gpus: view(1), gpuLeaseStaleS: 300 });
    assert.equal(bj!.job_id, j.job_id, 'the lease of the silent agent\'s session came back');
    await b.failJob({ jobId: j.job_id, error: 'test over' });

    const u = await a.requestJupyter({ gpus: 4 });
    const [onSlurm] = await claimSessions(a, agentA, { placement: 'scheduler' }, 'slurm');
    assert.equal(onSlurm!.session_id, u.session_id);
    assert.equal(onSlurm!.executor, 'slurm');
    assert.equal(onSlurm!.gpu_uuids, null);
    assert.deepEqual((await leases()).filter((l) => l.session_id === u.session_id), []);
  });

  test('the request is checked; a row written directly cannot choose its own GPUs', async () => {
    await assert.rejects(a.requestJupyter({ gpus: 0, gpuMemMiB: 1024 }), /without a GPU count/);
    await assert.rejects(a.requestJupyter({ gpus: 65 }), /between 0 and 64/);
    const { rows } = await db.admin.query(
      "insert into public.jupyter_sessions (user_id, status, gpus, gpu_uuids, cuda_visible_devices) select user_id, 'pending', 1, array['GPU-x'], 'GPU-x' from public.users limit 1 returning gpu_uuids, cuda_visible_devices",
    );
    assert.deepEqual(rows[0], { gpu_uuids: null, cuda_visible_devices: null });
  });
});

const skipServer = requirePart('legacy Notebook 6', hasLegacyJupyter, 'apt-get install jupyter-notebook (Debian/Ubuntu)');

describe('jupyter start --gpus with a real server', { skip: skipServer, timeout: 240_000 }, () => {
  let fake: FakeGpus;
  before(() => {
    fake = new FakeGpus({ gpus: [0, 1].map((i) => ({ name: 'NVIDIA A100-SXM4-80GB', uuid: uuid(i) })) });
  });
  after(() => fake.cleanup());

  test('the server runs with CUDA_VISIBLE_DEVICES naming its GPU; stopping it gives the GPU back', async () => {
    const agent = new AgentEnv(db, `gpuj${randomInt(1e6)}`, {
      PATH: `${fakeNvidiaSmiDir}:${process.env.PATH}`, LAB_FAKE_GPUS_FILE: fake.specFile, LAB_FAKE_GPUS_LOG: '', LAB_HOST: 'gpu01',
      JUPYTER_IP: '127.0.0.1', JUPYTER_BASE_PORT: String(30000 + randomInt(20000)), LAB_JUPYTER_PORT_RANGE: '50',
      LAB_JUPYTER: '/usr/bin/jupyter', LAB_JUPYTER_APP: 'notebook', LAB_JUPYTER_START_TIMEOUT: '90',
    });
    let done = false;
    const starting = agent.cli(['jupyter', 'start', '--gpus', '1', '--gpu-model', 'NVIDIA A100*', '--json', '--wait', '150']).finally(() => (done = true));
    while (!done) {
      const t = await agent.cli(['tick']);
      assert.equal(t.code, 0, t.stderr);
      await sleep(200);
    }
    const r = await starting;
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as SessionRow;
    assert.equal(s.status, 'running');
    assert.equal(s.gpus, 1);
    assert.equal(s.gpu_uuids?.length, 1);
    const environ = readFileSync(`/proc/${s.pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes(`CUDA_VISIBLE_DEVICES=${s.gpu_uuids![0]}`), 'the server (and so its kernels) sees exactly its GPU');
    assert.ok(environ.includes('CUDA_DEVICE_ORDER=PCI_BUS_ID'));
    const held = async () => (await db.admin.query('select count(*)::int as n from public.gpu_leases where session_id = $1', [s.session_id])).rows[0].n;
    assert.equal(await held(), 1);

    let stopped = false;
    const stopping = agent.cli(['jupyter', 'stop', s.session_id]).finally(() => (stopped = true));
    while (!stopped) {
      await agent.cli(['tick']);
      await sleep(200);
    }
    assert.equal((await stopping).code, 0);
    assert.equal(await held(), 0, 'the lease ended with the session');
  });
});
