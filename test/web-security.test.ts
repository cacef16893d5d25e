// `lab-agent web` under attack, as another account on the lab server or a web page in the
// member's browser would try it: no cookie, a guessed token, the token used as an API key, a
// foreign Origin (from a real page on another origin, in Chromium), a rebinding Host, an agent-only
// function, another member's job, another member's log folder through a crafted row.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshDatabase, makeUser, storeAs, type TestDb } from './helpers/db.js';
import { launchChromium, noChromium } from './helpers/web-env.js';
import { loadConfig } from '../src/services/config.js';
import { silentLogger } from '../src/services/logger.js';
import type { LabStore } from '../src/services/store/lab-store.js';
import { startWebServer, type WebServer } from '../src/services/web/web-server.js';

let db: TestDb;
let store: LabStore;
let bobStore: LabStore;
let web: WebServer;
let home: string;
let cookie: string;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request, any Host and headers (a browser would not let us forge some of them). */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: web.port, method, path, headers: { Host: `127.0.0.1:${web.port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const origin = () => `http://127.0.0.1:${web.port}`;
const rpc = (fn: string, args: unknown, headers: Record<string, string> = {}) =>
  raw('POST', `/api/rpc/${fn}`, { 'Content-Type': 'application/json', Origin: origin(), Cookie: cookie, ...headers }, JSON.stringify(args));

before(async () => {
  db = await freshDatabase();
  const alice = await makeUser(db, 'alice');
  const bob = await makeUser(db, 'bob');
  home = mkdtempSync(join(tmpdir(), 'lab-web-sec-'));
  const config = loadConfig({ env: { HOME: home, LAB_USER: 'alice', LAB_USER_ID: alice, LAB_HOST: 'gpu1', LAB_DATABASE_URL: 'postgres://x@localhost/y' }, noDotenv: true });
  store = storeAs(db, alice);
  bobStore = storeAs(db, bob);
  web = await startWebServer({ store, config, log: silentLogger, ip: '127.0.0.1', port: 0, version: 'test' });
  const login = await raw('GET', `/?token=${web.access.token}`);
  assert.equal(login.status, 303);
  cookie = String(login.headers['set-cookie']).split(';')[0]!;
});
after(async () => {
  await web?.close();
  await store?.close();
  await bobStore?.close();
  await db?.drop();
});

describe('who may use the API', () => {
  test('the member with the cookie may; every page answer carries the strict policy', async () => {
    const me = await raw('GET', '/api/me', { Cookie: cookie });
    assert.equal(me.status, 200, me.body);
    const csp = String(me.headers['content-security-policy']);
    for (const part of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) assert.ok(csp.includes(part), csp);
    assert.equal(me.headers['referrer-policy'], 'no-referrer');
    const page = await raw('GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.body, /<div id="app">/);
    assert.ok(!/<script>|\son\w+=/.test(page.body), 'no inline script in the page');
    assert.ok(String(page.headers['content-security-policy']).includes("script-src 'self'"));
  });

  test('no cookie, a guessed token, the token as a header or query, a stale cookie: refused', async () => {
    assert.equal((await raw('GET', '/api/me')).status, 401);
    assert.equal((await raw('GET', '/api/events')).status, 401);
    assert.equal((await raw('GET', '/?token=not-the-token')).status, 403);
    assert.equal((await raw('GET', `/api/me?token=${web.access.token}`)).status, 401);
    assert.equal((await raw('GET', '/api/me', { Authorization: `Bearer ${web.access.token}` })).status, 401);
    assert.equal((await raw('GET', '/api/me', { Cookie: `${web.access.cookieName}=forged` })).status, 401);
    assert.equal((await rpc('jobs_page', {}, { Cookie: '' })).status, 401);
  });

  test('DNS rebinding: a Host that is not this server is refused, even with the cookie', async () => {
    const r = await raw('GET', '/api/me', { Host: `attacker.example:${web.port}`, Cookie: cookie });
    assert.equal(r.status, 421);
    assert.equal((await raw('GET', '/', { Host: 'attacker.example' })).status, 421);
    // Through a tunnel on another local port: the name is what counts.
    assert.equal((await raw('GET', '/api/me', { Host: 'localhost:9999', Cookie: cookie })).status, 200);
  });

  test('cross-origin writes are refused: a foreign Origin, a missing one, the wrong content type', async () => {
    const before = (await db.admin.query('select count(*)::int as n from public.jobs')).rows[0].n;
    assert.equal((await rpc('job_submit', { p_script_path: '/tmp/x.py' }, { Origin: 'http://attacker.example' })).status, 403);
    assert.equal((await rpc('job_submit', { p_script_path: '/tmp/x.py' }, { Origin: 'null' })).status, 403);
    assert.equal((await rpc('job_submit', { p_script_path: '/tmp/x.py' }, { Origin: '' })).status, 403);
    assert.equal((await rpc('job_submit', { p_script_path: '/tmp/x.py' }, { 'Sec-Fetch-Site': 'cross-site' })).status, 403);
    assert.equal((await rpc('job_submit', { p_script_path: '/tmp/x.py' }, { 'Content-Type': 'text/plain' })).status, 415);
    assert.equal((await db.admin.query('select count(*)::int as n from public.jobs')).rows[0].n, before, 'no job was created');
    assert.equal((await rpc('job_submit', { p_script_path: `${home}/x.py` })).status, 200, 'the same request from the page itself works');
  });

  test('only the page functions, only their own arguments; never another member\'s rows', async () => {
    assert.equal((await rpc('job_claim', { p_agent_id: '11111111-1111-4111-8111-111111111111', p_host: 'gpu1' })).status, 404);
    assert.equal((await rpc('jobs_page', { p_user_id: '22222222-2222-4222-8222-222222222222' })).status, 400);
    assert.equal((await rpc('jobs_page', ['not', 'an', 'object'])).status, 400);
    assert.equal((await rpc('toString', {})).status, 404);
    const bobs = await bobStore.submitJob({ scriptPath: '/home/bob/secret.py' });
    const r = await rpc('job_get', { p_job_id: bobs.job_id });
    assert.equal(r.status, 404);
    assert.equal((await rpc('job_request_cancel', { p_job_id: bobs.job_id })).status, 404);
    assert.equal((await raw('GET', `/api/jobs/${bobs.job_id}/log`, { Cookie: cookie })).status, 404);
  });
});

describe('the first screen inside index.html', () => {
  test('only with the session cookie, never cached, and a row cannot end its element early', async () => {
    const evil = '</script><script>document.title="pwned"</script><!-- \u2028';
    const job = await store.submitJob({ scriptPath: `${home}/x.py`, args: evil });
    const anon = await raw('GET', '/');
    assert.equal(anon.status, 200);
    assert.ok(!anon.body.includes('lab-boot'), 'no data without the cookie');
    const page = await raw('GET', '/', { Cookie: cookie });
    assert.equal(page.status, 200);
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.ok(!page.body.includes('<script>document.title'), 'the row\'s text did not become markup');
    const m = /<script type="application\/json" id="lab-boot">([^<]*)<\/script>/.exec(page.body);
    assert.ok(m, page.body);
    const boot = JSON.parse(m[1]!) as { me: { userId: string }; jobs: { jobs: { job_id: string; args: string }[] } };
    assert.equal(boot.me.userId, (await store.whoami()).user_id);
    assert.equal(boot.jobs.jobs.find((j) => j.job_id === job.job_id)?.args, evil);
    // A stale cookie gets the bare page.
    assert.ok(!(await raw('GET', '/', { Cookie: `${web.access.cookieName}=forged` })).body.includes('lab-boot'));
  });
});

describe('the queue through the page (issue 17)', () => {
  test('sweeps, schedules and drains: only the member\'s own, only from this origin with the cookie', async () => {
    const cells = [{ args: '--lr 0.1', params: { lr: '0.1' } }, { args: '--lr 0.2', params: { lr: '0.2' } }];
    const mine = await store.submitSweep({ scriptPath: `${home}/train.py`, cells });
    const bobs = await bobStore.submitSweep({ scriptPath: '/home/bob/train.py', cells });
    const due = new Date(Date.now() + 3600_000);
    const bobSchedule = await bobStore.addSchedule({ cron: '0 3 * * *', timeZone: 'UTC', nextDueAt: due, scriptPath: '/home/bob/eval.py' });
    const mySchedule = await store.addSchedule({ cron: '0 3 * * *', timeZone: 'UTC', nextDueAt: due, scriptPath: `${home}/eval.py` });
    await bobStore.drainHost({ host: 'bob-box', note: 'bob only' });
    const statuses = async (sweep: string) => (await db.admin.query('select status from public.jobs where sweep_id = $1', [sweep])).rows.map((r) => r.status);
    const pausedAt = async (id: string) => (await db.admin.query('select paused_at from public.schedules where schedule_id = $1', [id])).rows[0].paused_at;

    // Lists hold only the member's rows; drains only theirs and the lab's.
    const list = JSON.parse((await rpc('sweeps_list', {})).body) as { sweep_id: string }[];
    assert.deepEqual(list.map((x) => x.sweep_id), [mine.sweep.sweep_id]);
    const scheds = JSON.parse((await rpc('schedules_list', {})).body) as { schedule_id: string }[];
    assert.deepEqual(scheds.map((x) => x.schedule_id), [mySchedule.schedule_id]);
    assert.deepEqual(JSON.parse((await rpc('host_drains_list', {})).body), []);

    // Another member's sweep and schedule: not found, and untouched.
    assert.equal((await rpc('sweep_get', { p_sweep_id: bobs.sweep.sweep_id })).status, 404);
    assert.equal((await rpc('sweep_request_cancel', { p_sweep_id: bobs.sweep.sweep_id })).status, 404);
    assert.equal((await rpc('schedule_pause', { p_schedule_id: bobSchedule.schedule_id })).status, 404);
    assert.equal((await rpc('schedule_resume', { p_schedule_id: bobSchedule.schedule_id, p_next_due_at: due.toISOString() })).status, 404);
    assert.deepEqual(await statuses(bobs.sweep.sweep_id), ['pending', 'pending']);
    assert.equal(await pausedAt(bobSchedule.schedule_id), null);
    // Acting as someone else, or doing what only the CLI or an agent does, is not on offer.
    assert.equal((await rpc('sweeps_list', { p_user_id: '22222222-2222-4222-8222-222222222222' })).status, 400);
    for (const fn of ['sweep_submit', 'schedule_add', 'schedule_remove', 'schedule_fire', 'host_drain', 'host_resume', 'sweep_notify_begin']) {
      assert.equal((await rpc(fn, {})).status, 404, fn);
    }

    // The member's own, from another origin or without the cookie: refused, nothing changes.
    assert.equal((await rpc('sweep_request_cancel', { p_sweep_id: mine.sweep.sweep_id }, { Origin: 'http://attacker.example' })).status, 403);
    assert.equal((await rpc('schedule_pause', { p_schedule_id: mySchedule.schedule_id }, { 'Sec-Fetch-Site': 'cross-site' })).status, 403);
    assert.equal((await rpc('schedule_pause', { p_schedule_id: mySchedule.schedule_id }, { Cookie: '' })).status, 401);
    assert.deepEqual(await statuses(mine.sweep.sweep_id), ['pending', 'pending']);
    assert.equal(await pausedAt(mySchedule.schedule_id), null);

    // From the page itself: done.
    assert.equal((await rpc('schedule_pause', { p_schedule_id: mySchedule.schedule_id })).status, 200);
    assert.ok(await pausedAt(mySchedule.schedule_id));
    assert.equal((await rpc('sweep_request_cancel', { p_sweep_id: mine.sweep.sweep_id })).status, 200);
    assert.deepEqual(await statuses(mine.sweep.sweep_id), ['cancelled', 'cancelled']);
  });
});

describe('files from the lab server', () => {
  test('a full log is read only from the job\'s own folder under LAB_LOG_DIR, whatever the row says', async () => {
    const job = await store.submitJob({ scriptPath: `${home}/t.py` });
    const agent = '33333333-3333-4333-8333-333333333333';
    assert.ok((await store.claimJobs({ agentId: agent, host: 'gpu1', limit: 10 })).some((j) => j.job_id === job.job_id));
    const secret = join(home, 'secret.txt');
    writeFileSync(secret, 'private key material');
    // A row pointing at any file the member can read: the API ignores the row's paths.
    await store.startJob({ jobId: job.job_id, agentId: agent, pid: 1, pidStart: null, interpreter: 'python3', command: ['python3'], logDir: home, stdoutPath: secret, stderrPath: secret });
    let r = await raw('GET', `/api/jobs/${job.job_id}/log?stream=stdout`, { Cookie: cookie });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).available, false);
    assert.ok(!r.body.includes('private key'));
    const dir = join(home, 'lab_job_logs', job.job_id);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'stdout.log'), `${'é'.repeat(10)}\nline two\n`);
    r = await raw('GET', `/api/jobs/${job.job_id}/log?stream=stdout&from=1&max=5`, { Cookie: cookie });
    // Byte 1 is inside "é": the chunk starts at the next character and ends before a cut one.
    assert.deepEqual(JSON.parse(r.body), { available: true, stream: 'stdout', status: 'running', from: 2, to: 6, size: 30, text: 'éé' });
    r = await raw('GET', `/api/jobs/${job.job_id}/log?stream=stdout&tail=9`, { Cookie: cookie });
    assert.equal(JSON.parse(r.body).text, 'line two\n');
  });

  test('the executed notebook is served sandboxed: no script, no origin, even when opened on its own', async () => {
    const job = await store.submitJob({ scriptPath: `${home}/n.ipynb` });
    const agent = '44444444-4444-4444-8444-444444444444';
    assert.ok((await store.claimJobs({ agentId: agent, host: 'gpu1', limit: 10 })).some((j) => j.job_id === job.job_id));
    const dir = join(home, 'lab_job_logs', job.job_id);
    await store.startJob({ jobId: job.job_id, agentId: agent, pid: 2, pidStart: null, interpreter: 'jupyter', command: ['jupyter'], logDir: dir, stdoutPath: join(dir, 'stdout.log'), stderrPath: join(dir, 'stderr.log') });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'output.ipynb'), JSON.stringify({
      nbformat: 4, nbformat_minor: 5, metadata: {},
      cells: [{ cell_type: 'code', source: 'x', metadata: {}, execution_count: 1, outputs: [
        { output_type: 'stream', name: 'stdout', text: ['<script>alert(1)</script>\n'] },
        { output_type: 'display_data', metadata: {}, data: { 'text/html': ['<b>table</b>'], 'text/plain': ['t'] } },
      ] }],
    }));
    const r = await raw('GET', `/api/jobs/${job.job_id}/notebook`, { Cookie: cookie });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-security-policy']), /^sandbox; default-src 'none'/);
    assert.ok(r.body.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'stream text is escaped');
    assert.ok(r.body.includes('<b>table</b>'), 'output HTML is kept, inside the sandbox');
  });
});

test('a page on another origin, in a real browser, can neither read nor write through the member\'s session', { skip: noChromium, timeout: 60_000 }, async () => {
  const browser = await launchChromium();
  let evil: Server | null = null;
  try {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${origin()}/?token=${web.access.token}`);
    await page.locator('h1').first().waitFor();
    const before = (await db.admin.query('select count(*)::int as n from public.jobs')).rows[0].n;
    // The attacker's page: a form POST (no preflight) and fetches with credentials.
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<title>evil</title><form id="f" method="POST" action="${origin()}/api/rpc/job_submit" enctype="text/plain">
        <input name='{"p_script_path":"/tmp/evil.py","x":"' value='"}'></form>
        <script>
          window.results = [];
          Promise.all([
            fetch('${origin()}/api/rpc/job_submit', { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: '{"p_script_path":"/tmp/evil2.py"}' }).then(() => results.push('sent'), (e) => results.push('error')),
            fetch('${origin()}/api/me', { credentials: 'include' }).then((r) => r.text()).then((t) => results.push('read:' + t), () => results.push('blocked')),
          ]).then(() => { console.log('results:' + results.join('|')); setTimeout(() => document.getElementById('f').submit(), 100); });
        </script>`);
    });
    await new Promise<void>((r) => evil!.listen(0, '127.0.0.1', r));
    const evilUrl = `http://localhost:${(evil.address() as { port: number }).port}/`;
    const attacker = await ctx.newPage();
    const said: string[] = [];
    attacker.on('console', (m) => said.push(m.text()));
    await attacker.goto(evilUrl);
    // The form's POST lands on the API (and is refused there): the page has gone to it.
    await attacker.waitForURL(/api\/rpc\/job_submit/, { timeout: 20_000 });
    const results = said.find((m) => m.startsWith('results:')) ?? '';
    assert.ok(results.includes('blocked') && !results.includes('read:'), `the attacker read nothing: ${results}`);
    const refused = await attacker.content();
    assert.match(refused, /cross-origin request refused|not signed in/);
    assert.equal((await db.admin.query('select count(*)::int as n from public.jobs')).rows[0].n, before, 'no job was created by the other origin');
  } finally {
    await browser.close();
    evil?.close();
  }
});
