// The dashboard's hosts panel (Servers) in Chromium, showing what real agents published: two
// members' agents run `lab-agent tick` against the stand-in nvidia-smi (this machine has no GPU)
// and publish their hosts (host_publish); a GPU job claimed by a real tick leases a GPU; drains by
// the member and for the whole lab show on the hosts, another member's drain does not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import type { Browser, Page } from 'playwright-core';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { AgentEnv, eventually } from './helpers/agent-env.js';
import { FakeGpus } from './helpers/fake-gpus.js';
import { hasTestPython, requirePart, testPython } from './helpers/required.js';
import { launchChromium, newContext, noChromium, shotPath, startWeb, type RunningWeb } from './helpers/web-env.js';

const skip = noChromium || requirePart('python3', hasTestPython, 'apt-get install python3');

let db: TestDb;
let alice: AgentEnv;
let bob: AgentEnv;
let fakeA: FakeGpus;
let fakeB: FakeGpus;
let web: RunningWeb;
let browser: Browser;
let page: Page;
let gpuJob = '';
const pageErrors: string[] = [];

const tag = randomBytes(3).toString('hex');
const hostA = `gpuA-${tag}`;
const hostB = `gpuB-${tag}`;

/** One pass of the member's agent with the stand-in nvidia-smi first on PATH. */
async function tick(a: AgentEnv, fake: FakeGpus): Promise<void> {
  const r = await a.cli(['tick'], { PATH: fake.env(a.env).PATH, LAB_FAKE_GPUS_FILE: fake.specFile });
  assert.equal(r.code, 0, r.stderr);
}

const hostRow = (host: string) => page.locator(`table.hosts tr[data-host="${host}"]`);

/** The Servers page, loaded afresh (from another route: the same hash would not reload it). */
async function openServers(): Promise<void> {
  await page.goto(`${web.origin}/#/`);
  await page.getByRole('heading', { name: 'Your jobs' }).waitFor();
  await page.goto(`${web.origin}/#/servers`);
  await page.getByRole('heading', { name: 'Lab servers and their GPUs' }).waitFor();
}

before(async () => {
  if (skip) return;
  db = await freshDatabase();
  const common = { LAB_PYTHON: testPython, LAB_POLL_INTERVAL_S: '60', LAB_LOG_LEVEL: 'info', LAB_GPU_RESERVE_AFTER_S: '0' };
  alice = new AgentEnv(db, `webh${tag}a`, { ...common, LAB_HOST: hostA });
  bob = new AgentEnv(db, `webh${tag}b`, { ...common, LAB_HOST: hostB });
  // Alice's host: two A100s, a stranger's process on GPU 1; Bob's: one H100, idle.
  fakeA = new FakeGpus({
    gpus: [
      { name: 'NVIDIA A100-SXM4-80GB', uuid: `GPU-a0-${tag}`, memoryTotalMiB: 81920, memoryUsedMiB: 0, utilizationPct: 0 },
      { name: 'NVIDIA A100-SXM4-80GB', uuid: `GPU-a1-${tag}`, memoryTotalMiB: 81920, memoryUsedMiB: 30720, utilizationPct: 87 },
    ],
    processes: [{ gpu: 1, pid: 424242, usedMiB: 30720, name: 'python' }],
  });
  fakeB = new FakeGpus({ gpus: [{ name: 'NVIDIA H100 80GB HBM3', uuid: `GPU-b0-${tag}`, memoryTotalMiB: 81559, memoryUsedMiB: 512, utilizationPct: 3 }] });
  alice.write('gpu_job.py', 'import os, time\nprint("on", os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)\ntime.sleep(600)\n');
  await tick(alice, fakeA);
  await tick(bob, fakeB);
  web = await startWeb(alice);
  browser = await launchChromium();
  page = await (await newContext(browser)).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(web.link);
  await page.getByRole('heading', { name: 'Your jobs' }).waitFor();
});

after(async () => {
  await browser?.close();
  await web?.stop();
  // The sleeping GPU job: cancelled, then stopped by a pass of the agent.
  if (gpuJob) {
    await alice.cli(['cancel', gpuJob]).catch(() => undefined);
    await alice.cli(['tick'], { PATH: fakeA.env(alice.env).PATH, LAB_FAKE_GPUS_FILE: fakeA.specFile }).catch(() => undefined);
  }
  fakeA?.cleanup();
  fakeB?.cleanup();
  await db?.drop();
});

test('every host as its agent published it: GPUs, models, memory, utilisation, who uses them; CPUs and memory', { skip, timeout: 300_000 }, async () => {
  await openServers();
  await hostRow(hostA).waitFor();
  assert.match((await hostRow(hostA).textContent())!, new RegExp(`1 of 2 GPUs free · load [0-9.]+ on ${cpus().length} CPUs · [0-9.]+ of [0-9.]+ GiB memory free`));
  // Another member's host is there too: resources are the lab's to see.
  assert.match((await hostRow(hostB).textContent())!, /1 of 1 GPUs free/);
  // What the agents published, as the database holds it: the page shows these values.
  const published = async (host: string) => (await db.admin.query('select gpus, cpu_count from public.host_resources where host = $1', [host])).rows[0] as
    { cpu_count: number; gpus: { uuid: string; model: string; processes: number; memory_used_mib: number; memory_total_mib: number; utilization_pct: number }[] };
  const a = await published(hostA);
  const b = await published(hostB);
  assert.equal(a.cpu_count, cpus().length);
  assert.deepEqual(a.gpus.map((g) => [g.model, g.processes, g.memory_total_mib, g.utilization_pct]), [['NVIDIA A100-SXM4-80GB', 0, 81920, 0], ['NVIDIA A100-SXM4-80GB', 1, 81920, 87]]);
  assert.ok(a.gpus[1]!.memory_used_mib >= 30720, 'the stranger\'s process uses memory on GPU 1');
  const gpu = (uuid: string) => page.locator(`table.hosts tr[data-gpu="${uuid}"]`);
  const shows = async (g: (typeof a.gpus)[number], state: string) =>
    assert.match((await gpu(g.uuid).textContent())!, new RegExp(`${g.model}${g.memory_used_mib} / ${g.memory_total_mib} MiB${state} ?${g.utilization_pct}%`));
  await shows(a.gpus[0]!, 'free');
  await shows(a.gpus[1]!, 'busy \\(another process\\)');
  await shows(b.gpus[0]!, 'free');
  assert.equal(b.gpus[0]!.model, 'NVIDIA H100 80GB HBM3');
  assert.equal(await gpu(a.gpus[1]!.uuid).getAttribute('data-free'), 'no');
  assert.equal(await gpu(a.gpus[0]!.uuid).getAttribute('data-free'), 'yes');
  // The sparkline draws the sample the publish wrote.
  assert.ok((await gpu(a.gpus[1]!.uuid).locator('svg.spark polyline').getAttribute('points'))!.length > 0);
  await page.screenshot({ path: shotPath('hosts-01-published'), fullPage: true });
});

test('a GPU job claimed by a real tick: its GPU shows in use by a job, none free', { skip, timeout: 360_000 }, async () => {
  const submitted = await alice.cli(['submit', '--gpus', '1', `${alice.home}/gpu_job.py`]);
  assert.equal(submitted.code, 0, submitted.stderr);
  gpuJob = submitted.stdout.trim();
  // A pass claims it when its probe of the GPUs answered in time (under load it may not): pass again.
  await eventually('the job to hold its lease', async () => {
    await tick(alice, fakeA);
    return (await db.admin.query('select count(*)::int as n from public.gpu_leases where job_id = $1', [gpuJob])).rows[0].n === 1;
  }, 240_000, 1000);
  await openServers();
  const leased = page.locator(`table.hosts tr[data-gpu="GPU-a0-${tag}"]`);
  await leased.filter({ hasText: 'in use by a job' }).waitFor();
  assert.match((await hostRow(hostA).textContent())!, /0 of 2 GPUs free/);
});

test('drains on the hosts: mine with its note and the way back, the lab\'s, never another member\'s', { skip, timeout: 240_000 }, async () => {
  const drained = await alice.cli(['drain', '--note', 'disk swap on Friday']);
  assert.equal(drained.code, 0, drained.stderr);
  // Bob drains his host: that is his business, not shown to Alice.
  assert.equal((await bob.cli(['drain'])).code, 0);
  // The lab's administrator drains a host that has published nothing.
  await db.admin.query("select lab_private.host_drain_lab($1, true, 'rack maintenance')", [`maint-${tag}`]);
  await openServers();
  const mine = hostRow(hostA).locator('[data-drained="mine"]');
  await mine.waitFor();
  assert.match((await mine.textContent())!, new RegExp(`drained by you disk swap on Friday · .* · lab-agent resume --host ${hostA}`));
  assert.equal(await hostRow(hostA).getAttribute('data-drained'), 'yes');
  assert.equal(await hostRow(hostB).getAttribute('data-drained'), 'no', 'another member\'s drain is not shown');
  const lab = hostRow(`maint-${tag}`);
  assert.match((await lab.textContent())!, /no resources published.*drained for the lab rack maintenance/);
  // The agents table says it beside the agent on that host.
  assert.match((await page.locator('table.servers:not(.hosts) tr[data-agent]').filter({ hasText: hostA }).textContent())!, /drained by you/);
  await page.screenshot({ path: shotPath('hosts-02-drained'), fullPage: true });
  // Resumed: gone after the next look.
  assert.equal((await alice.cli(['resume'])).code, 0);
  await openServers();
  await hostRow(hostA).waitFor();
  assert.equal(await hostRow(hostA).getAttribute('data-drained'), 'no');
});

test('the hosts panel in Japanese', { skip, timeout: 120_000 }, async () => {
  const ja = await newContext(browser, { locale: 'ja-JP' });
  const p = await ja.newPage();
  await p.goto(web.link);
  await p.getByRole('heading', { name: 'ジョブ一覧' }).waitFor();
  await p.goto(`${web.origin}/#/servers`);
  await p.getByRole('heading', { name: 'ラボのサーバと GPU' }).waitFor();
  await p.locator(`table.hosts tr[data-host="maint-${tag}"]`, { hasText: 'ラボ全体で受付停止中' }).waitFor();
  assert.match((await p.locator(`table.hosts tr[data-host="${hostB}"]`).textContent())!, /GPU 1 基中 1 基が空き/);
  await ja.close();
  assert.deepEqual(pageErrors, [], 'no script error on the page');
});
