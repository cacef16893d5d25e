// GPU requests for sweeps and schedules (issues 16/17): `submit --sweep … --gpus N` makes every cell
// ask for N GPUs, `schedule add … --gpus N` every fired job; the same --gpus/--gpu-mem/--gpu-model
// options and parsing as a single job, kept on the sweep/schedule row and passed to each job.
// THIS MACHINE HAS NO GPU: the agent sees the stand-in nvidia-smi (test/bin/nvidia-smi, it says so
// in its header) on its PATH, reporting two A100s. Checked from what each job itself wrote: its
// CUDA_VISIBLE_DEVICES, and that the 2-GPU cells of a sweep never ran at the same time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { AgentEnv, eventually } from './helpers/agent-env.js';
import { FakeGpus, fakeNvidiaSmiDir } from './helpers/fake-gpus.js';
import type { JobRow } from '../src/services/store/types.js';

let db: TestDb;
let fake: FakeGpus;
before(async () => {
  db = await freshDatabase();
  fake = new FakeGpus({ gpus: [0, 1].map((i) => ({ name: 'NVIDIA A100-SXM4-80GB', uuid: `GPU-5ca1ab1e-000${i}-4000-8000-00000000000${i}` })) });
});
after(async () => {
  fake?.cleanup();
  await db?.drop();
});

function agent(user: string): AgentEnv {
  return new AgentEnv(db, user, {
    PATH: `${fakeNvidiaSmiDir}:${process.env.PATH}`, LAB_FAKE_GPUS_FILE: fake.specFile, LAB_FAKE_GPUS_LOG: fake.logFile, LAB_MAX_PARALLEL: '4',
  });
}

async function cliOk(a: AgentEnv, args: string[]): Promise<string> {
  const r = await a.cli(args);
  assert.equal(r.code, 0, `lab-agent ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const jobsWhere = async (column: 'sweep_id' | 'schedule_id', id: string): Promise<JobRow[]> =>
  (await db.admin.query(`select * from public.jobs where ${column} = $1 order by sweep_index, created_at`, [id])).rows;

/** What each job saw: one line `<job id> <CUDA_VISIBLE_DEVICES>` in the ledger. */
const JOB = (ledger: string) => `import os, time\ntime.sleep(0.5)\nopen(${JSON.stringify(ledger)}, "a").write(os.environ["LAB_JOB_ID"] + " " + os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>") + "\\n")\n`;
const seen = (ledger: string) => new Map(readFileSync(ledger, 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]));

describe('GPU requests for sweeps and schedules', { timeout: 300_000 }, () => {
  test('a sweep with --gpus 2 on two GPUs: every cell asks for both, gets both, and they run one at a time', async () => {
    const a = agent('gail');
    const ledger = join(a.home, 'seen.txt');
    const script = a.write('train.py', JOB(ledger));
    const out = await cliOk(a, ['submit', script, '--sweep', 'seed=1..3', '--gpus', '2', '--gpu-model', '*A100*', '--gpu-mem', '40G']);
    const sweepId = out.split('\n')[0]!;
    const [sweep] = (await db.admin.query('select gpus, gpu_mem_mib, gpu_model from public.sweeps where sweep_id = $1', [sweepId])).rows;
    assert.deepEqual(sweep, { gpus: 2, gpu_mem_mib: 40960, gpu_model: '*A100*' }, 'kept on the sweep row');
    assert.match(await cliOk(a, ['status', sweepId]), /gpus\s+2 \*A100\* \(40960 MiB free each\) per cell/);
    const done = await eventually('the three cells to finish', async () => {
      await a.cli(['tick']);
      const jobs = await jobsWhere('sweep_id', sweepId);
      return jobs.every((j) => j.status === 'finished') ? jobs : null;
    }, Number(process.env.Q17_WAIT ?? 240_000), 200).catch(async (err: Error) => {
      const jobs = await jobsWhere('sweep_id', sweepId);
      throw new Error(`${err.message}: ${JSON.stringify(jobs.map((j) => [j.status, j.pending_reason, j.error]))}\n${readFileSync(a.agentLog, 'utf8').slice(-3000)}`);
    });
    const cvd = seen(ledger);
    for (const j of done) {
      assert.deepEqual([j.gpus, j.gpu_mem_mib, j.gpu_model], [2, 40960, '*A100*'], 'each cell asks for the sweep\'s GPUs');
      assert.equal(cvd.get(j.job_id)?.split(',').length, 2, `cell ${j.sweep_index} ran with both GPUs: ${cvd.get(j.job_id)}`);
      assert.equal(j.cuda_visible_devices, cvd.get(j.job_id), 'recorded on the row as the job saw it');
    }
    const spans = done.map((j) => [Date.parse(j.started_at!), Date.parse(j.finished_at!)] as const);
    for (const [i, [s, e]] of spans.entries()) {
      for (const [k, [s2, e2]] of spans.entries()) if (k !== i) assert.ok(e <= s2 || e2 <= s, 'two 2-GPU cells never overlap on two GPUs');
    }
  });

  test('a schedule with --gpus 1: kept on the schedule, shown by schedule ls, and the job it fires asks for it', async () => {
    const a = agent('gus');
    const ledger = join(a.home, 'seen.txt');
    const script = a.write('eval.py', JOB(ledger));
    const id = await cliOk(a, ['schedule', 'add', '*/5 * * * *', script, '--tz', 'UTC', '--gpus', '1', '--gpu-model', '*A100*']);
    const [s] = (await db.admin.query('select gpus, gpu_mem_mib, gpu_model from public.schedules where schedule_id = $1', [id])).rows;
    assert.deepEqual(s, { gpus: 1, gpu_mem_mib: null, gpu_model: '*A100*' });
    assert.match(await cliOk(a, ['schedule', 'ls']), new RegExp(`${id.slice(0, 8)}.*\\s1 \\*A100\\*\\s`));
    // Due now: the latest five-minute mark (as if the agents had waited for it).
    await db.admin.query("update public.schedules set next_due_at = date_trunc('hour', now()) + floor(extract(minute from now()) / 5) * interval '5 minutes' where schedule_id = $1", [id]);
    const [job] = await eventually('the fired job to finish', async () => {
      await a.cli(['tick']);
      const jobs = await jobsWhere('schedule_id', id);
      return jobs.length && jobs.every((j) => j.status === 'finished') ? jobs : null;
    }, 120_000, 200);
    assert.deepEqual([job!.gpus, job!.gpu_model], [1, '*A100*']);
    assert.equal(seen(ledger).get(job!.job_id)?.split(',').length, 1, 'the fired job ran with one GPU');
  });

  test('bad GPU requests: the same words as submit, before anything is stored; Slurm options are refused with a sweep', async () => {
    const a = agent('gwen');
    const script = a.write('x.py', 'print(1)\n');
    const cases: [string[], RegExp][] = [
      [['schedule', 'add', '0 3 * * *', script, '--gpu-mem', '40G'], /--gpu-mem and --gpu-model need --gpus N/],
      [['schedule', 'add', '0 3 * * *', script, '--gpus', 'two'], /--gpus takes a whole number from 0 to 64, not "two"/],
      [['submit', script, '--sweep', 'a=1,2', '--gpus', '65'], /--gpus takes a whole number from 0 to 64, not "65"/],
      [['submit', script, '--sweep', 'a=1,2', '--partition', 'gpu'], /--partition, --cpus, --mem and --time do not go with --sweep yet/],
    ];
    for (const [args, message] of cases) {
      const r = await a.cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const stored = await db.admin.query("select (select count(*) from public.sweeps s join public.users u using (user_id) where u.linux_user = 'gwen')::int as sweeps, (select count(*) from public.schedules s join public.users u using (user_id) where u.linux_user = 'gwen')::int as schedules");
    assert.deepEqual(stored.rows[0], { sweeps: 0, schedules: 0 });
  });
});
