// The dashboard end to end, as a member uses it: the real `lab-agent web` and a real supervisor on
// the test PostgreSQL, real scripts, a notebook and JupyterLab, driven in Debian's Chromium.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { AgentEnv, eventually, exited } from './helpers/agent-env.js';
import { hasTestJupyter, requirePart, testJupyter } from './helpers/required.js';
import { launchChromium, newContext, noChromium, shotPath, startWeb, type RunningWeb } from './helpers/web-env.js';

const noJupyter = requirePart('JupyterLab in .venv', hasTestJupyter, 'make the test venv: scripts/test-venv.sh (npm test does it when .venv is missing)');
const skip = noChromium || noJupyter;

let db: TestDb;
let a: AgentEnv;
let web: RunningWeb;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let supervisor: ReturnType<AgentEnv['spawn']> | null = null;
/** Script errors on the page: any fails the last test. */
const pageErrors: string[] = [];

const NOTEBOOK = {
  nbformat: 4, nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [
    { cell_type: 'code', id: 'p1', metadata: { tags: ['parameters'] }, execution_count: null, outputs: [], source: ['answer = 1\n', 'label = "x"  # what to call it\n'] },
    { cell_type: 'code', id: 'c1', metadata: {}, execution_count: null, outputs: [], source: ['print(f"RESULT={answer * 2} {label}")'] },
    // Output HTML that tries to reach the page around it: it must render inertly.
    { cell_type: 'code', id: 'c2', metadata: {}, execution_count: null, outputs: [], source: [
      'from IPython.display import HTML, display\n',
      'display(HTML(\'<b id="nbhtml">bold output</b><img src="x" onerror="parent.document.body.dataset.pwned=1"><script>parent.document.body.dataset.pwned=2; fetch("/api/me")</script>\'))',
    ] },
  ],
};

before(async () => {
  if (skip) return;
  db = await freshDatabase();
  a = new AgentEnv(db, `web${randomBytes(3).toString('hex')}`, {
    LAB_POLL_INTERVAL_S: '60', LAB_JUPYTER: testJupyter, JUPYTER_IP: '127.0.0.1', LAB_PUBLIC_HOST: '127.0.0.1',
    JUPYTER_BASE_PORT: String(20000 + Math.floor(Math.random() * 20000)), LAB_JUPYTER_START_TIMEOUT: '90', LAB_LOG_LEVEL: 'info',
  });
  a.write('exp/hello.py', [
    'import argparse, sys, time',
    'p = argparse.ArgumentParser(); p.add_argument("--n", type=int, default=1); p.add_argument("words", nargs="*")',
    'o = p.parse_args()',
    'time.sleep(1.5)',
    'print("ARGS=" + repr(sys.argv[1:]), flush=True)',
    'for i in range(o.n): print("hello", i, " ".join(o.words), flush=True)',
    'time.sleep(1.5)',
  ].join('\n'));
  a.write('exp/fail.py', 'import sys\nprint("about to fail", flush=True)\nprint("boom: the data file is missing", file=sys.stderr, flush=True)\nsys.exit(3)\n');
  a.write('exp/sleepy.py', 'import time\nprint("sleeping", flush=True)\ntime.sleep(600)\n');
  a.write('nb/analysis.ipynb', JSON.stringify(NOTEBOOK));
  const sync = await a.cli(['sync']);
  assert.equal(sync.code, 0, sync.stderr);
  web = await startWeb(a);
  browser = await launchChromium();
  ctx = await newContext(browser);
  page = await ctx.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
});

after(async () => {
  await browser?.close();
  await web?.stop();
  if (supervisor && supervisor.exitCode === null) {
    supervisor.kill('SIGTERM');
    await exited(supervisor);
  }
  // The sleeping job and Jupyter are stopped by the tests; make sure of it.
  await a?.cli(['tick']).catch(() => undefined);
  await db?.drop();
});

/** New job: the script picked from the inventory by typing part of its name. */
async function pickScript(name: string, go = true): Promise<void> {
  if (go) await page.goto(`${web.origin}/#/submit`);
  await page.locator('#script').fill(name);
  await page.getByRole('option', { name: new RegExp(name.replace('.', '\\.')) }).click();
}

test('the token link opens the job list; the token leaves the address bar; the cookie is HttpOnly and SameSite=Strict', { skip, timeout: 60_000 }, async () => {
  // How fast it opens is bench/web-page.ts's question (BENCHMARKS.md), not a timed test's.
  await page.goto(web.link);
  await page.getByRole('heading', { name: 'Your jobs' }).waitFor();
  assert.equal(new URL(page.url()).search, '', 'no token in the address bar');
  const [cookie] = await ctx.cookies();
  assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));
  assert.ok(!cookie.value.includes(new URL(web.link).searchParams.get('token')!), 'the cookie is not the token');
  await page.getByText('No jobs yet').waitFor();
  await page.screenshot({ path: shotPath('01-empty-list') });
});

test('submit hello.py from the inventory with --n 3 "a b": pending, then running and finished live, ARGS in the log', { skip, timeout: 120_000 }, async () => {
  await page.getByRole('link', { name: 'New job' }).first().click();
  await pickScript('hello.py', false);
  assert.match((await page.getByTestId('picked-script').textContent())!, /exp\/hello\.py$/);
  await page.locator('#args').fill('--n 3 "a b"');
  assert.deepEqual(await page.getByTestId('argv').locator('code').allTextContents(), ['--n', '3', 'a b']);
  await page.screenshot({ path: shotPath('02-submit') });
  // No agent runs yet: the job waits, and the page says so.
  await page.getByRole('button', { name: 'Queue job' }).click();
  await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
  const id = /#\/jobs\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
  await page.locator('h1 .badge[data-status="pending"]').waitFor();
  // A marker that a reload would wipe out; the statuses as the page shows them, in order.
  await page.evaluate(`window.__noReload = true; window.__seen = [];
    new MutationObserver(() => { const s = document.querySelector('h1 .badge')?.dataset.status; if (s && window.__seen.at(-1) !== s) window.__seen.push(s); })
      .observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });`);
  supervisor = a.spawn(['supervise']);
  await page.locator('h1 .badge[data-status="running"]').waitFor({ timeout: 60_000 });
  await page.locator('h1 .badge[data-status="finished"]').waitFor({ timeout: 60_000 });
  const seen = await page.evaluate('window.__seen') as string[];
  assert.ok(seen.includes('running') && seen.at(-1) === 'finished', `statuses seen: ${seen}`);
  assert.equal(await page.evaluate('window.__noReload'), true, 'the page was not reloaded');
  await page.locator('.log-text', { hasText: "ARGS=['--n', '3', 'a b']" }).waitFor();
  await page.locator('.log-text', { hasText: 'hello 2 a b' }).waitFor();
  assert.equal(await page.getByTestId('exit-code').textContent(), '0');
  // The path on the statechart: the job reached its final state, drawn from its events.
  await page.getByTestId('machine-path').filter({ hasText: 'finished' }).waitFor();
  assert.ok(await page.locator(`.chart svg .node.current`).count() === 1);
  const row = (await db.admin.query('select status, args from public.jobs where job_id = $1', [id])).rows[0];
  assert.deepEqual(row, { status: 'finished', args: '--n 3 "a b"' });
  await page.screenshot({ path: shotPath('03-job-finished'), fullPage: true });
});

test('a failing script shows its exit code and its stderr', { skip, timeout: 90_000 }, async () => {
  await pickScript('fail.py');
  await page.getByRole('button', { name: 'Queue job' }).click();
  await page.locator('h1 .badge[data-status="failed"]').waitFor({ timeout: 60_000 });
  assert.equal(await page.getByTestId('exit-code').textContent(), '3');
  // Failed: the stderr tab is shown first, with the reason.
  await page.locator('.log-text.stderr', { hasText: 'boom: the data file is missing' }).waitFor();
  await page.screenshot({ path: shotPath('04-job-failed') });
});

test('cancel a sleeping job from the page', { skip, timeout: 90_000 }, async () => {
  await pickScript('sleepy.py');
  await page.getByRole('button', { name: 'Queue job' }).click();
  await page.locator('h1 .badge[data-status="running"]').waitFor({ timeout: 60_000 });
  await page.locator('.log-text', { hasText: 'sleeping' }).waitFor();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('h1 .badge[data-status="cancelled"]').waitFor({ timeout: 60_000 });
});

test('the job list: live, filtered, one click to open', { skip, timeout: 60_000 }, async () => {
  await page.goto(`${web.origin}/#/`);
  await page.locator('tr[data-job]').nth(2).waitFor();
  assert.equal(await page.locator('tr[data-job]').count(), 3);
  // A job queued elsewhere (the CLI) appears without a reload.
  await page.evaluate('window.__noReload = true');
  const hello = `${a.home}/exp/hello.py`;
  const submitted = await a.cli(['submit', hello, '--', '--n', '1']);
  assert.equal(submitted.code, 0, submitted.stderr);
  const id = submitted.stdout.trim();
  await page.locator(`tr[data-job="${id}"]`).waitFor({ timeout: 10_000 });
  await page.locator(`tr[data-job="${id}"] .badge[data-status="finished"]`).waitFor({ timeout: 60_000 });
  assert.equal(await page.evaluate('window.__noReload'), true);
  await page.getByRole('button', { name: /failed/ }).click();
  await eventually('the failed filter', async () => (await page.locator('tr[data-job]').count()) === 1);
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await page.getByRole('searchbox').fill('sleepy');
  await eventually('the text filter', async () => (await page.locator('tr[data-job]').count()) === 1);
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await eventually('all rows back', async () => (await page.locator('tr[data-job]').count()) === 4);
  await page.screenshot({ path: shotPath('05-list') });
  // Keyboard: j moves, Enter opens.
  await page.locator('body').press('j');
  await page.locator('body').press('Enter');
  await page.waitForURL(/#\/jobs\//);
});

test('a notebook: its parameters as a form, its outputs rendered inert in a sandboxed frame', { skip, timeout: 180_000 }, async () => {
  await pickScript('analysis.ipynb');
  await page.locator('#p-answer').fill('21');
  await page.locator('#p-label').fill('two words');
  assert.deepEqual(await page.getByTestId('argv').locator('code').allTextContents(), ['--answer', '21', '--label', 'two words']);
  await page.getByRole('button', { name: 'Queue job' }).click();
  await page.locator('h1 .badge[data-status="finished"]').waitFor({ timeout: 150_000 });
  const frame = page.frameLocator('iframe.notebook');
  await frame.getByText('RESULT=42 two words').waitFor();
  await frame.locator('#nbhtml').waitFor();
  assert.equal(await page.locator('iframe.notebook').getAttribute('sandbox'), '');
  assert.equal(await page.evaluate('document.body.dataset.pwned ?? null'), null, 'the notebook output ran no script');
  await page.screenshot({ path: shotPath('06-notebook'), fullPage: true });
});

test('Jupyter: start it, watch it become healthy, follow Connect to a JupyterLab that answers, stop it', { skip, timeout: 180_000 }, async () => {
  await page.goto(`${web.origin}/#/jupyter`);
  await page.getByRole('button', { name: 'Start Jupyter' }).click();
  const connect = page.getByTestId('connect');
  await connect.waitFor({ timeout: 150_000 });
  // JUPYTER_IP is loopback here: the page spells out the tunnel.
  assert.match((await page.getByTestId('tunnel').textContent())!, /^ssh -N -L \d+:127\.0\.0\.1:\d+ /);
  await page.screenshot({ path: shotPath('07-jupyter') });
  const href = (await connect.getAttribute('href'))!;
  assert.match(href, /token=/);
  const [lab] = await Promise.all([ctx.waitForEvent('page'), connect.click()]);
  await lab.waitForLoadState('domcontentloaded');
  assert.match(await lab.title(), /JupyterLab/);
  await lab.close();
  await page.getByRole('button', { name: 'Stop' }).first().click();
  await page.locator('article.session .badge[data-status="stopped"]').first().waitFor({ timeout: 60_000 });
});

test('Japanese UI following the browser, switchable; phone and dark screenshots', { skip, timeout: 60_000 }, async () => {
  const ja = await newContext(browser, { locale: 'ja-JP' });
  const p = await ja.newPage();
  await p.goto(web.link);
  await p.getByRole('heading', { name: 'ジョブ一覧' }).waitFor();
  await p.locator('.badge[data-status="finished"]', { hasText: '完了' }).first().waitFor();
  await p.screenshot({ path: shotPath('08-ja') });
  await p.getByRole('combobox', { name: '言語' }).selectOption('en');
  await p.getByRole('heading', { name: 'Your jobs' }).waitFor();
  await ja.close();
  const phone = await newContext(browser, { phone: true, dark: true });
  const q = await phone.newPage();
  await q.goto(web.link);
  await q.locator('tr[data-job]').first().waitFor();
  // Readable on a phone: nothing wider than the screen.
  const wide = await q.evaluate(`[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 1)
    .map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 5)`) as string[];
  assert.deepEqual(wide, [], 'nothing wider than the phone screen');
  assert.equal(await q.evaluate('document.documentElement.dataset.theme'), 'dark');
  await q.screenshot({ path: shotPath('09-phone-dark'), fullPage: true });
  await phone.close();
  assert.deepEqual(pageErrors, [], 'no script error on the page in any test');
});
