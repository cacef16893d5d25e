// GPU scheduling end to end: two real Linux users, each with a supervising agent on one host that
// shares a PostgreSQL database, 20 jobs each of 1-2 GPUs on 4 GPUs. THIS MACHINE HAS NO GPU: the
// agents see the stand-in nvidia-smi (test/bin/nvidia-smi, it says so in its header) on their PATH,
// reporting 4 A100s and, for the first part, a foreign process on GPU 3.
// Checked from what each job itself wrote: its CUDA_VISIBLE_DEVICES (no two jobs that ran at the
// same time share a GPU), CUDA_DEVICE_ORDER, the 2-GPU job not starved, the foreign process's GPU
// left alone, and a killed agent's leases coming back to the other member.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { cliPath, eventually, sleep } from './helpers/agent-env.js';
import { FakeGpus, fakeNvidiaSmiDir } from './helpers/fake-gpus.js';
import { addLinuxUser, deleteLinuxUser, killUserProcesses, type LinuxUser } from './helpers/linux-users.js';
import { requirePart, requireRoot } from './helpers/required.js';

const which = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const skip = requireRoot('creates two Linux users whose agents share the GPUs') || requirePart('useradd and runuser', which('useradd') && which('runuser'), 'apt-get install passwd util-linux');

const uuid = (i: number) => `GPU-5ca1ab1e-000${i}-4000-8000-00000000000${i}`;
const gpus = [0, 1, 2, 3].map((i) => ({ name: 'NVIDIA A100-SXM4-80GB', uuid: uuid(i) }));
const foreign = { gpu: 3, pid: 424242, usedMiB: 2048, name: 'python' };

interface Run {
  job: string;
  user: string;
  cvd: string;
  order: string;
  start: number;
  end: number;
}

// The job: what it saw of its GPUs, when it held them (start/end), one JSON line in a shared ledger.
const JOB = `import json, os, sys, time
start = time.time()
time.sleep(float(sys.argv[1]))
line = json.dumps({"job": os.environ["LAB_JOB_ID"], "user": os.environ.get("USER", ""),
  "cvd": os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"), "order": os.environ.get("CUDA_DEVICE_ORDER", "<unset>"),
  "start": start, "end": time.time()})
with open(sys.argv[2], "a") as f:
    f.write(line + "\\n")
`;

/** The test database's Unix socket is private to root: the members' agents reach it through TCP on loopback. */
function socketProxy(db: TestDb): Promise<{ server: Server; url: string }> {
  const c = db.connection;
  const socket = join(String(c.host), `.s.PGSQL.${c.port ?? 5432}`);
  const server = createServer((client) => {
    const upstream = connect(socket);
    client.pipe(upstream).pipe(client);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('error', end);
    upstream.on('error', end);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const port = (server.address() as { port: number }).port;
    resolve({ server, url: `postgres://${c.user}@127.0.0.1:${port}/${c.database}` });
  }));
}

describe('two members, 4 GPUs, 40 jobs', { skip, timeout: 300_000 }, () => {
  let db: TestDb;
  let proxy: { server: Server; url: string };
  let fake: FakeGpus;
  let shared: string;
  const members: { user: LinuxUser; id: string; agent: ChildProcess | null; log: string }[] = [];

  function memberEnv(m: (typeof members)[number]): string[] {
    return Object.entries({
      HOME: m.user.home, USER: m.user.name, PATH: `${fakeNvidiaSmiDir}:/usr/local/bin:/usr/bin:/bin`,
      LAB_DATABASE_URL: proxy.url, LAB_USER_ID: m.id, LAB_HOST: 'gpu01', LAB_MAX_PARALLEL: '4', LAB_POLL_INTERVAL_S: '1',
      LAB_PYTHON: '/usr/bin/python3', LAB_EMAIL: '', LAB_GPU_RESERVE_AFTER_S: '2', LAB_KILL_GRACE_S: '1',
      LAB_FAKE_GPUS_FILE: fake.specFile, LAB_FAKE_GPUS_LOG: '', SYNC_INTERVAL_MIN: '10080',
    }).map(([k, v]) => `${k}=${v}`);
  }
  const asMember = (m: (typeof members)[number], args: string[]) =>
    spawn('runuser', ['-u', m.user.name, '--', 'env', '-i', ...memberEnv(m), process.execPath, cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  async function cliAs(m: (typeof members)[number], args: string[]): Promise<{ code: number | null; out: string; err: string }> {
    const child = asMember(m, args);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    return { code, out, err };
  }
  function startAgent(m: (typeof members)[number]): void {
    m.agent = asMember(m, ['supervise']);
    m.agent.stdout!.on('data', (d) => (m.log += d));
    m.agent.stderr!.on('data', (d) => (m.log += d));
  }
  const ledger = () => join(shared, 'ledger.jsonl');
  const runs = (): Run[] => {
    try {
      return readFileSync(ledger(), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Run);
    } catch {
      return [];
    }
  };

  before(async () => {
    db = await freshDatabase();
    proxy = await socketProxy(db);
    fake = new FakeGpus({ gpus, processes: [foreign] });
    chmodSync(fake.dir, 0o755);
    chmodSync(fake.specFile, 0o644);
    shared = mkdtempSync(join(tmpdir(), 'lab-gpu-e2e-'));
    chmodSync(shared, 0o1777);
    writeFileSync(ledger(), '');
    chmodSync(ledger(), 0o666); // every member's jobs append to it
    for (const tag of ['a', 'b']) {
      const user = addLinuxUser('labg', tag);
      const id = (await db.admin.query(
        `with u as (insert into auth.users (id, email) values (gen_random_uuid(), $2) returning id)
         insert into public.users (user_id, linux_user, email) select id, $1, $2 from u returning user_id`, [user.name, `${user.name}@lab.example`])).rows[0].user_id;
      const script = join(user.home, 'gpu_job.py');
      writeFileSync(script, JOB);
      chownSync(script, user.uid, user.uid);
      members.push({ user, id, agent: null, log: '' });
    }
  });
  after(async () => {
    for (const m of members) {
      killUserProcesses(m.user.name);
      await sleep(200);
      deleteLinuxUser(m.user.name);
    }
    proxy?.server.close();
    fake?.cleanup();
    if (shared) rmSync(shared, { recursive: true, force: true });
    await db?.drop();
  });

  test('no two jobs share a GPU, the 2-GPU job is not starved, a foreign process keeps its GPU, a killed agent\'s leases come back', async () => {
    // 20 jobs each, queued in turn: alice's first asks for 2 GPUs (through the CLI), then every 4th
    // job asks for 2 and the rest for 1, so 1-GPU jobs keep coming behind the 2-GPU ones.
    const [alice, bob] = members as [(typeof members)[number], (typeof members)[number]];
    const submitted = await cliAs(alice, ['submit', '--gpus', '2', '--gpu-model', 'NVIDIA A100*', join(alice.user.home, 'gpu_job.py'), '--', '0.8', ledger()]);
    assert.equal(submitted.code, 0, submitted.out + submitted.err);
    const big = submitted.out.trim();
    for (let i = 0; i < 39; i++) {
      const m = members[(i + 1) % 2]!;
      await db.admin.query(
        `insert into public.jobs (user_id, script_path, args, gpus, created_at) values ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')`,
        [m.id, join(m.user.home, 'gpu_job.py'), JSON.stringify([String(0.3 + (i % 5) * 0.15), ledger()]), i % 4 === 3 ? 2 : 1, i + 1],
      );
    }
    for (const m of members) startAgent(m);
    // The foreign process leaves GPU 3 once half the jobs have run.
    const freedAt = await eventually('half of the jobs to end', async () => (runs().length >= 20 ? Date.now() / 1000 : null), 120_000, 100);
    fake.set({ gpus });
    await eventually('all 40 jobs to end', async () => {
      const r = await db.admin.query("select count(*) filter (where status = 'finished')::int as done, count(*) filter (where status = 'failed')::int as failed from public.jobs");
      if (r.rows[0].failed) assert.fail(`jobs failed: ${JSON.stringify((await db.admin.query("select error, stderr_tail from public.jobs where status = 'failed' limit 2")).rows)}\n${alice.log.slice(-2000)}`);
      return r.rows[0].done === 40;
    }, 180_000, 250);

    const all = runs();
    assert.equal(all.length, 40, 'every job wrote its line once');
    const rows = new Map((await db.admin.query('select job_id, gpus, cuda_visible_devices, started_at from public.jobs')).rows.map((r) => [r.job_id, r]));
    for (const r of all) {
      const row = rows.get(r.job)!;
      const mine = r.cvd.split(',');
      assert.equal(mine.length, row.gpus, `job ${r.job} got exactly its ${row.gpus} GPU(s): ${r.cvd}`);
      assert.ok(mine.every((u) => gpus.some((g) => g.uuid === u)), `real GPU UUIDs: ${r.cvd}`);
      assert.equal(r.cvd, row.cuda_visible_devices, 'the row records what the job saw');
      assert.equal(r.order, 'PCI_BUS_ID');
      if (r.start < freedAt - 1) assert.ok(!mine.includes(uuid(3)), `GPU 3 ran a foreign process when job ${r.job} started`);
    }
    for (const x of all) {
      for (const y of all) {
        if (x.job >= y.job || x.end <= y.start || y.end <= x.start) continue;
        const shared = x.cvd.split(',').filter((u) => y.cvd.split(',').includes(u));
        assert.deepEqual(shared, [], `jobs ${x.job} (${x.user}) and ${y.job} (${y.user}) ran at once on ${shared}`);
      }
    }
    assert.ok(new Set(all.map((r) => r.user)).size === 2 && all.some((r) => r.cvd.includes(uuid(3))), 'both members ran jobs; GPU 3 was used once free');
    // The 2-GPU job queued first did not wait for the whole stream of 1-GPU jobs behind it.
    const bigStart = Date.parse(rows.get(big)!.started_at);
    const laterSmall = [...rows.values()].filter((r) => r.gpus === 1 && Date.parse(r.started_at) > bigStart);
    const order = (await db.admin.query(`select j.gpus, u.linux_user, j.created_at, j.claimed_at, j.started_at, j.finished_at from public.jobs j join public.users u using (user_id) order by j.started_at`)).rows
      .map((r) => `${r.gpus} ${r.linux_user} c=${r.created_at.toISOString().slice(17, 23)} cl=${r.claimed_at?.toISOString().slice(17, 23)} s=${r.started_at?.toISOString().slice(17, 23)} f=${r.finished_at?.toISOString().slice(17, 23)}`);
    assert.ok(laterSmall.length >= 5, `the 2-GPU job started before most 1-GPU jobs (${laterSmall.length} started after it):\n${order.join('\n')}\n${members[0]!.log.slice(-3000)}`);

    // Every member reads the host's GPUs; the foreign process is gone, nothing runs: all 4 free.
    await eventually('the host published with 4 free GPUs', async () => {
      const hosts = await cliAs(bob, ['hosts', '--json']);
      const h = (JSON.parse(hosts.out) as { host: string; gpus: { free: boolean }[] }[]).find((x) => x.host === 'gpu01');
      return h && h.gpus.length === 4 && h.gpus.every((g) => g.free);
    }, 60_000, 1000);

    // Alice's agent dies with her 2-GPU job; a long while later bob's 4-GPU job gets all four GPUs.
    const long = (await db.admin.query(
      `insert into public.jobs (user_id, script_path, args, gpus) values ($1, $2, $3, 2) returning job_id`,
      [alice.id, join(alice.user.home, 'gpu_job.py'), JSON.stringify(['300', ledger()])])).rows[0].job_id;
    await eventually('alice\'s long job to run', async () => (await db.admin.query("select status from public.jobs where job_id = $1", [long])).rows[0].status === 'running', 60_000, 200);
    killUserProcesses(alice.user.name); // the agent and the job, SIGKILL
    const four = (await db.admin.query(
      `insert into public.jobs (user_id, script_path, args, gpus) values ($1, $2, $3, 4) returning job_id`,
      [bob.id, join(bob.user.home, 'gpu_job.py'), JSON.stringify(['0.2', ledger()])])).rows[0].job_id;
    await eventually('bob\'s 4-GPU job to wait for alice\'s leases', async () =>
      (await db.admin.query('select pending_reason from public.jobs where job_id = $1', [four])).rows[0].pending_reason?.includes('2 free'), 30_000, 200);
    // As if LAB_GPU_LEASE_STALE_S (10 minutes) had passed without a sign of life from alice's agent.
    await db.admin.query(`update public.jobs set heartbeat_at = now() - interval '1 hour', claimed_at = now() - interval '1 hour' where job_id = $1`, [long]);
    await db.admin.query(`update public.agents set heartbeat_at = now() - interval '1 hour' where user_id = $1`, [alice.id]);
    await eventually('bob\'s 4-GPU job to finish', async () =>
      (await db.admin.query('select status from public.jobs where job_id = $1', [four])).rows[0].status === 'finished', 60_000, 250);
    const got = runs().find((r) => r.job === four)!;
    assert.deepEqual(got.cvd.split(',').sort(), gpus.map((g) => g.uuid).sort());
  });
});
