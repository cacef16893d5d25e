// The queue on the dashboard (issue 17), in Chromium against the real `lab-agent web`, a real
// supervisor and real scripts: a 3×2 sweep with --max-parallel 2 seen cell by cell as it runs
// (held cells say why they wait; each cell's LAB_RESULT shown), a running sweep cancelled from the
// page, a schedule paused and resumed from the page, the same screens in Japanese.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { AgentEnv, eventually, exited } from './helpers/agent-env.js';
import { hasTestPython, requirePart, testPython } from './helpers/required.js';
import { launchChromium, newContext, noChromium, shotPath, startWeb, type RunningWeb } from './helpers/web-env.js';

const skip = noChromium || requirePart('python3', hasTestPython, 'apt-get install python3');

let db: TestDb;
let a: AgentEnv;
let web: RunningWeb;
let browser: Browser;
let page: Page;
let supervisor: ReturnType<AgentEnv['spawn']> | null = null;
let scheduleId = '';
const pageErrors: string[] = [];

const cellStatus = (sweep: string) => db.admin.query('select sweep_index, status from public.jobs where sweep_id = $1 order by sweep_index', [sweep])
  .then((r) => (r.rows as { status: string }[]).map((x) => x.status));

/** `lab-agent submit … --sweep …`: the sweep id (the first line it prints). */
async function submitSweep(args: string[]): Promise<string> {
  const r = await a.cli(['submit', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n')[0]!.trim();
}

before(async () => {
  if (skip) return;
  db = await freshDatabase();
  a = new AgentEnv(db, `webq${randomBytes(3).toString('hex')}`, { LAB_PYTHON: testPython, LAB_POLL_INTERVAL_S: '60', LAB_LOG_LEVEL: 'info', LAB_MAX_PARALLEL: '4' });
  a.write('exp/train.py', [
    'import argparse, json, time',
    'p = argparse.ArgumentParser(); p.add_argument("--lr", type=float); p.add_argument("--seed", type=int); p.add_argument("--epochs", type=int)',
    'o = p.parse_args()',
    'time.sleep(1)',
    'print("LAB_RESULT " + json.dumps({"acc": round(o.lr * o.seed, 4)}), flush=True)',
  ].join('\n'));
  a.write('exp/long.py', 'import time\nprint("working", flush=True)\ntime.sleep(600)\n');
  a.write('exp/eval.py', 'print("nightly")\n');
  web = await startWeb(a);
  browser = await launchChromium();
  page = await (await newContext(browser)).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('dialog', (d) => void d.accept());
  await page.goto(web.link);
  await page.getByRole('heading', { name: 'Your jobs' }).waitFor();
});

after(async () => {
  await browser?.close();
  await web?.stop();
  if (supervisor && supervisor.exitCode === null) {
    supervisor.kill('SIGTERM');
    await exited(supervisor);
  }
  await a?.cli(['tick']).catch(() => undefined);
  await db?.drop();
});

test('a 3×2 sweep with --max-parallel 2: the grid cell by cell, held cells say why, then live to the end with each result', { skip, timeout: 420_000 }, async () => {
  const sweep = await submitSweep([`${a.home}/exp/train.py`, '--sweep', 'lr=0.1,0.01,0.001', '--sweep', 'seed=1..2', '--max-parallel', '2', '--', '--epochs', '1']);
  await page.getByRole('link', { name: 'Sweeps & schedules' }).click();
  const row = page.locator(`tr[data-sweep="${sweep}"]`);
  await row.waitFor();
  assert.match((await row.textContent())!, /train\.py.*6 · at most 2 at once.*pending 6/);
  await row.getByRole('link', { name: 'train.py' }).click();
  await page.waitForURL(new RegExp(`#/sweeps/${sweep}$`));
  await page.getByRole('heading', { name: /Sweep of train\.py/ }).waitFor();
  // One column per axis, the cells in grid order, the first axis varying slowest.
  assert.deepEqual(await page.locator('table.grid-cells thead th.mono').allTextContents(), ['lr', 'seed']);
  const cells = page.locator('table.grid-cells tbody tr');
  assert.equal(await cells.count(), 6);
  assert.deepEqual((await cells.nth(3).locator('td.mono').allTextContents()).slice(0, 2), ['0.01', '2']);
  // Cells beyond --max-parallel wait for a slot, and say so.
  const reasons = await page.locator('table.grid-cells tbody td[data-label="Waiting for"]').allTextContents();
  assert.ok(reasons.slice(2).every((r) => r.length > 0), `held cells give a reason: ${JSON.stringify(reasons)}`);
  await page.screenshot({ path: shotPath('queue-01-sweep-pending'), fullPage: true });
  await page.evaluate('window.__noReload = true');
  supervisor = a.spawn(['supervise']);
  await page.locator('table.grid-cells .badge[data-status="running"]').first().waitFor({ timeout: 60_000 });
  await eventually('every cell finished on the page', async () => (await page.locator('table.grid-cells .badge[data-status="finished"]').count()) === 6, 300_000, 250);
  assert.equal(await page.evaluate('window.__noReload'), true, 'updated live, without a reload');
  assert.deepEqual(await cellStatus(sweep), Array(6).fill('finished'));
  // Each cell's LAB_RESULT, as the agent stored it on the row.
  assert.deepEqual(await page.locator('table.grid-cells tbody td[data-label="Result"]').allTextContents(),
    ['{"acc":0.1}', '{"acc":0.2}', '{"acc":0.01}', '{"acc":0.02}', '{"acc":0.001}', '{"acc":0.002}']);
  assert.equal(await page.getByRole('button', { name: 'Cancel the sweep' }).count(), 0, 'nothing left to cancel');
  await page.screenshot({ path: shotPath('queue-02-sweep-finished'), fullPage: true });
  // A cell opens its job.
  await cells.first().getByRole('link').click();
  await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
  await page.locator('h1 .badge[data-status="finished"]').waitFor();
});

test('cancel a running sweep from the page: the running cell is stopped, the held one never starts', { skip, timeout: 180_000 }, async () => {
  const sweep = await submitSweep([`${a.home}/exp/long.py`, '--sweep', 'n=1,2', '--max-parallel', '1']);
  await page.goto(`${web.origin}/#/sweeps/${sweep}`);
  await page.locator('table.grid-cells .badge[data-status="running"]').waitFor({ timeout: 60_000 });
  assert.deepEqual(await cellStatus(sweep), ['running', 'pending']);
  await page.getByRole('button', { name: 'Cancel the sweep' }).click();
  await eventually('both cells cancelled on the page', async () => (await page.locator('table.grid-cells .badge[data-status="cancelled"]').count()) === 2, 90_000, 250);
  assert.deepEqual(await cellStatus(sweep), ['cancelled', 'cancelled']);
  const started = (await db.admin.query('select count(*)::int as n from public.jobs where sweep_id = $1 and started_at is not null', [sweep])).rows[0].n;
  assert.equal(started, 1, 'the held cell never started');
  // Back on the list: the sweep has ended, with its counts.
  await page.getByRole('link', { name: '← Sweeps and schedules' }).click();
  const row = page.locator(`tr[data-sweep="${sweep}"]`);
  await row.filter({ hasText: 'cancelled 2' }).waitFor();
});

test('a schedule paused and resumed from the page: the row in the database follows, resuming from the next due time', { skip, timeout: 120_000 }, async () => {
  const added = await a.cli(['schedule', 'add', '0 3 * * *', `${a.home}/exp/eval.py`, '--tz', 'Asia/Tokyo', '--', '--ckpt', 'latest']);
  assert.equal(added.code, 0, added.stderr);
  scheduleId = added.stdout.trim();
  await page.goto(`${web.origin}/#/queue`);
  const row = page.locator(`tr[data-schedule="${scheduleId}"]`);
  await row.waitFor();
  assert.match((await row.textContent())!, /0 3 \* \* \* Asia\/Tokyo.*eval\.py --ckpt latest.*0 run, 0 skipped.*active.*Pause/);
  await row.getByRole('button', { name: 'Pause' }).click();
  await page.locator(`tr[data-schedule="${scheduleId}"][data-paused="yes"]`).waitFor();
  assert.match((await row.textContent())!, /paused.*Resume/);
  const paused = (await db.admin.query('select paused_at from public.schedules where schedule_id = $1', [scheduleId])).rows[0];
  assert.ok(paused.paused_at instanceof Date, 'paused in the database');
  await page.screenshot({ path: shotPath('queue-03-schedule-paused'), fullPage: true });
  await row.getByRole('button', { name: 'Resume' }).click();
  await page.locator(`tr[data-schedule="${scheduleId}"][data-paused="no"]`).waitFor();
  const resumed = (await db.admin.query('select paused_at, next_due_at from public.schedules where schedule_id = $1', [scheduleId])).rows[0];
  assert.equal(resumed.paused_at, null);
  // The next 03:00 in Tokyo after now (computed by the page with the CLI's cron library).
  const due = resumed.next_due_at as Date;
  assert.ok(due.getTime() > Date.now() && due.getTime() <= Date.now() + 24 * 3600_000, due.toISOString());
  assert.equal(new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(due), '03:00:00');
});

test('sweeps and schedules in Japanese', { skip, timeout: 120_000 }, async () => {
  const ja = await newContext(browser, { locale: 'ja-JP' });
  const p = await ja.newPage();
  await p.goto(web.link);
  await p.getByRole('heading', { name: 'ジョブ一覧' }).waitFor();
  await p.getByRole('link', { name: 'スイープと定期実行' }).click();
  await p.getByRole('heading', { name: 'スイープと定期実行' }).waitFor();
  await p.getByRole('heading', { name: '定期実行', exact: true }).waitFor();
  const row = p.locator(`tr[data-schedule="${scheduleId}"]`);
  assert.match((await row.textContent())!, /有効.*一時停止/);
  await p.locator('tr[data-sweep]').first().getByRole('link').click();
  await p.getByRole('heading', { name: /のスイープ/ }).waitFor();
  await p.screenshot({ path: shotPath('queue-04-ja'), fullPage: true });
  await ja.close();
  assert.deepEqual(pageErrors, [], 'no script error on the page');
});
