// The static Supabase build (`npm run build:web`), in Chromium, against the PostgREST/GoTrue layer
// over the real, migrated database (test/helpers/supabase/layer.ts): GoTrue's email-code sign-in
// with the code read from the email the project's template makes, PostgREST's rpc resolving and
// running the real SQL functions as the token's role and user, and the gateway's CORS in front of
// both, the page being on another origin, as it is when deployed on a static host. Every request
// is recorded with its headers and body (`recordSent`) and checked the way
// test/supabase-transport.test.ts checks the agent's. Realtime cannot run here: the page's poll
// behind it carries the live updates.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { eventually } from './helpers/agent-env.js';
import { freshDatabase, makeUser, storeAs, type TestDb } from './helpers/db.js';
import { repoRoot } from './helpers/required.js';
import { verifyJwt } from './helpers/supabase/jwt.js';
import { startSupabaseLayer, type SupabaseLayer } from './helpers/supabase/layer.js';
import { launchChromium, newContext, noChromium, PAGE_JS_GZIP_BUDGET, pageJsGzipBytes, shotPath } from './helpers/web-env.js';
import type { LabStore } from '../src/services/store/lab-store.js';
import { StaticPage } from '../src/services/web/web-static.js';

const EMAIL = 'member@lab.example';

let db: TestDb;
let userId: string;
let store: LabStore;
let layer: SupabaseLayer;
let site: Server;
let siteUrl: string;
let outDir: string;
let browser: Browser;

const listen = async (s: Server): Promise<string> => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
};

before(async () => {
  if (noChromium) return;
  db = await freshDatabase();
  userId = await makeUser(db, 'member'); // auth.users and public.users: member@lab.example
  store = storeAs(db, userId);
  await store.syncScripts({ upserts: [{ path: '/home/member/train.py', type: 'py', size: 10, mtime: '2026-01-01T00:00:00Z' }], deletes: [] });
  await store.submitJob({ scriptPath: '/home/member/old.py', args: '--epochs 2' });
  layer = await startSupabaseLayer({ connection: db.connection, recordSent: true });
  // The static build, made as a deployer would: SUPABASE_URL and SUPABASE_ANON_KEY in the environment.
  outDir = mkdtempSync(join(tmpdir(), 'lab-web-static-'));
  await promisify(execFile)(process.execPath, [join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '-c', 'web/vite.config.ts', '--mode', 'supabase'], {
    cwd: repoRoot, env: { ...process.env, SUPABASE_URL: layer.url, SUPABASE_ANON_KEY: layer.anonKey, LAB_WEB_OUT_DIR: outDir },
  });
  const config = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
  assert.deepEqual(config, { supabaseUrl: layer.url, supabaseAnonKey: layer.anonKey, pollSeconds: 30 });
  // supabase-js included, the static page's JavaScript stays within the budget too.
  const js = pageJsGzipBytes(outDir);
  assert.ok(Object.values(js).reduce((x, y) => x + y, 0) <= PAGE_JS_GZIP_BUDGET, JSON.stringify(js));
  // A deployer may edit config.json; here the catch-up poll runs every second.
  writeFileSync(join(outDir, 'config.json'), JSON.stringify({ ...config, pollSeconds: 1 }));
  const files = new StaticPage(outDir);
  site = createServer((req, res) => {
    if (!files.serve(new URL(req.url!, 'http://x').pathname, req, res)) {
      res.writeHead(404);
      res.end();
    }
  });
  siteUrl = await listen(site);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  site?.close();
  await layer?.close();
  await store?.close();
  await db?.drop();
});

test('the static page: email code sign-in, the list, a submit and a live change, all through rpc as the member', { skip: noChromium, timeout: 120_000 }, async () => {
  const index = readFileSync(join(outDir, 'index.html'), 'utf8');
  assert.match(index, new RegExp(`connect-src 'self' ${layer.url} ${layer.url.replace('http', 'ws')}`), 'the CSP allows only this project');
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(siteUrl);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.locator('#email').fill(EMAIL);
  await page.getByRole('button', { name: 'Email me a code' }).click();
  // The member reads the code in the email GoTrue sent with the project's template.
  const mail = await eventually('the sign-in email', async () => layer.mail.find((m) => m.to === EMAIL), 20_000, 50);
  const code = mail.code!;
  assert.match(code, /^\d{6}$/, 'the project\'s template carries the code');
  const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
  await page.locator('#code').fill(wrong);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: /expired or is invalid/ }).waitFor();
  await page.locator('#code').fill(code);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Your jobs' }).waitFor();
  await page.locator('tr[data-job] td.script', { hasText: 'old.py' }).waitFor();

  // Submit from the inventory.
  await page.getByRole('link', { name: 'New job' }).first().click();
  await page.locator('#script').fill('train');
  await page.getByRole('option', { name: /train\.py/ }).click();
  await page.locator('#args').fill("--lr 0.1 --name 'run one'");
  await page.getByRole('button', { name: 'Queue job' }).click();
  await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
  const id = /#\/jobs\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
  const row = (await db.admin.query('select script_path, args, user_id from public.jobs where job_id = $1', [id])).rows[0];
  assert.deepEqual(row, { script_path: '/home/member/train.py', args: "--lr 0.1 --name 'run one'", user_id: userId });

  // An agent elsewhere runs it: the page, already showing it pending, follows by its poll (Realtime
  // being absent here), tails from the row.
  await page.locator('h1 .badge[data-status="pending"]').waitFor();
  const agent = '55555555-5555-4555-8555-555555555555';
  await store.claimJobs({ agentId: agent, host: 'gpu7', limit: 10 });
  await store.startJob({ jobId: id, agentId: agent, pid: 9, pidStart: null, interpreter: 'python3', command: ['python3'], logDir: '/x', stdoutPath: '/x/o', stderrPath: '/x/e' });
  await store.finishJob({ jobId: id, retcode: 0, signal: null, stdoutTail: 'epoch 1 loss 0.5\nepoch 2 loss 0.2\n' });
  await page.locator('h1 .badge[data-status="finished"]').waitFor({ timeout: 20_000 });
  await page.locator('.log-text', { hasText: 'epoch 2 loss 0.2' }).waitFor();
  await page.getByText(/Last lines kept in the database/).waitFor();
  await page.screenshot({ path: shotPath('10-supabase-static') });
  assert.deepEqual(errors, []);
  await ctx.close();

  // What went over the wire: every rpc with the anon key and the member's token, never a user id.
  const api = layer.requests.filter((r) => !r.path.startsWith('/realtime/'));
  const rpcs = api.filter((r) => r.kind === 'rpc');
  const names = new Set(rpcs.map((r) => r.name));
  for (const fn of ['jobs_page', 'jobs_facets', 'scripts_search', 'job_submit', 'job_get', 'lifecycle_history']) assert.ok(names.has(fn), `called ${fn}: ${[...names]}`);
  for (const r of rpcs) {
    const sent = r.sent!;
    assert.equal(r.method, 'POST');
    assert.equal(sent.headers.apikey, layer.anonKey);
    const token = verifyJwt(String(sent.headers.authorization).replace(/^Bearer /, ''), layer.jwtSecret);
    assert.ok(token.ok && token.claims.sub === userId && token.claims.role === 'authenticated', 'the signed-in member\'s token');
    assert.ok(!sent.body || !('p_user_id' in (sent.body as object)), 'the token says who acts, never the body');
  }
  const submit = rpcs.find((r) => r.name === 'job_submit')!;
  assert.deepEqual(submit.sent!.body, { p_script_id: (await store.listScripts())[0]!.script_id, p_script_path: null, p_args: "--lr 0.1 --name 'run one'", p_host: null, p_timeout_s: null });
  // Each cross-origin call was preflighted, keyless as browsers send them, and the gateway let it through.
  const preflights = api.filter((r) => r.kind === 'preflight');
  for (const name of ['otp', 'verify', 'jobs_page', 'job_submit']) assert.ok(preflights.some((p) => p.name === name && p.status === 200), `preflight for ${name}`);
  assert.ok(preflights.every((p) => p.sent!.headers.apikey === undefined), 'a preflight carries no key');
  const otp = api.find((r) => r.kind === 'auth' && r.name === 'otp')!;
  assert.equal(otp.sent!.headers.apikey, layer.anonKey);
  assert.equal((otp.sent!.body as { create_user?: boolean }).create_user, false, 'no account is made by signing in');
  assert.deepEqual(api.filter((r) => r.kind === 'auth' && r.name === 'verify').map((r) => r.status), [403, 200], 'the wrong code refused, the right one taken');

  // Only functions the authenticated role may execute, each answered 200 as that role: the page
  // never calls as anon, and never reaches for a function a member may not run.
  const rest = api.filter((r) => r.kind === 'rpc' || r.kind === 'table');
  assert.deepEqual(rest.filter((r) => r.kind !== 'rpc' || r.role !== 'authenticated' || r.status !== 200).map((r) => `${r.kind} ${r.name} ${r.role} ${r.status}`), []);
  const grants = await db.admin.query(
    `select p.proname, bool_and(has_function_privilege('authenticated', p.oid, 'execute')) as member, bool_or(has_function_privilege('anon', p.oid, 'execute')) as anon
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public' and p.proname = any($1) group by p.proname order by 1`,
    [[...names]],
  );
  assert.deepEqual(grants.rows.map((g) => g.proname), [...names].sort(), 'each called function exists in public');
  for (const g of grants.rows) assert.deepEqual([g.proname, g.member, g.anon], [g.proname, true, false], 'executable by authenticated, not by anon');
});

test('the layer\'s CORS is what Supabase\'s gateway (Kong\'s cors plugin) and its upstreams send', { skip: noChromium }, async () => {
  const origin = 'http://127.0.0.1:1';
  const pre = await fetch(`${layer.url}/rest/v1/rpc/jobs_page`, {
    method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'apikey,authorization,content-type' },
  });
  assert.equal(pre.status, 200, 'answered by the gateway before its key check');
  assert.equal(await pre.text(), '');
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  assert.equal(pre.headers.get('access-control-allow-headers'), 'apikey,authorization,content-type', 'the requested headers echoed');
  assert.equal(pre.headers.get('access-control-allow-methods'), 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT');
  assert.equal(pre.headers.get('access-control-max-age'), null);
  assert.equal(pre.headers.get('access-control-allow-credentials'), null);
  // Not a preflight (no Access-Control-Request-Method): an OPTIONS like any other, stopped by the key check.
  assert.equal((await fetch(`${layer.url}/rest/v1/rpc/jobs_page`, { method: 'OPTIONS', headers: { origin } })).status, 401);

  const keyless = await fetch(`${layer.url}/rest/v1/rpc/jobs_page`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(keyless.status, 401);
  assert.equal(keyless.headers.get('access-control-allow-origin'), '*', 'the gateway\'s own refusal is readable by the page');
  assert.equal(keyless.headers.get('access-control-expose-headers'), null, 'no upstream answered');
  const rest = await fetch(`${layer.url}/rest/v1/rpc/jobs_page`, { method: 'POST', headers: { origin, apikey: layer.anonKey, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(rest.status, 401, 'anon may not list jobs');
  assert.equal(rest.headers.get('access-control-allow-origin'), '*');
  assert.match(rest.headers.get('access-control-expose-headers') ?? '', /\bContent-Range\b/, 'PostgREST exposes Content-Range');
  const auth = await fetch(`${layer.url}/auth/v1/verify`, { method: 'POST', headers: { origin, apikey: layer.anonKey, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'email', email: EMAIL, token: 'nope' }) });
  assert.equal(auth.status, 403);
  assert.equal(auth.headers.get('access-control-allow-origin'), '*');
  assert.match(auth.headers.get('access-control-expose-headers') ?? '', /\bX-Supabase-Api-Version\b/, 'GoTrue exposes its API version, which auth-js reads to take the error code');
  // A client that is not a browser sends no Origin: only the gateway's header, nothing from the upstreams.
  const node = await fetch(`${layer.url}/rest/v1/rpc/jobs_page`, { method: 'POST', headers: { apikey: layer.anonKey, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(node.headers.get('access-control-allow-origin'), '*');
  assert.equal(node.headers.get('access-control-expose-headers'), null);
});
