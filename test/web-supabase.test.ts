// The static Supabase build (`npm run build:web`), in Chromium, against a stand-in for Supabase's
// HTTP endpoints: GoTrue's email-code sign-in, and PostgREST's rpc, which here calls the real SQL
// function as the token's user (role authenticated, the user's claims), so a wrong function or
// argument name fails as it would on Supabase. Every request is recorded and checked the way
// test/supabase-transport.test.ts checks the agent's: path, apikey, bearer, body. Realtime cannot
// run here: the page's poll behind it carries the live updates.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { freshDatabase, makeUser, storeAs, type TestDb } from './helpers/db.js';
import { repoRoot } from './helpers/required.js';
import { launchChromium, newContext, noChromium, shotPath } from './helpers/web-env.js';
import { PgTransport } from '../src/services/store/pg-transport.js';
import type { LabStore } from '../src/services/store/lab-store.js';
import { StaticPage } from '../src/services/web/web-static.js';

const ANON = 'anon-key-for-the-static-page';
const CODE = '135790';

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | null;
}

let db: TestDb;
let userId: string;
let store: LabStore;
let supa: Server;
let site: Server;
let supaUrl: string;
let siteUrl: string;
let outDir: string;
let browser: Browser;
const seen: Seen[] = [];
const tokens = new Map<string, string>();

const listen = async (s: Server): Promise<string> => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
};

/** GoTrue (email code) and PostgREST rpc, as far as the page uses them. */
function supabaseStandIn(): Server {
  return createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', async () => {
      const cors = {
        'Access-Control-Allow-Origin': String(req.headers.origin ?? '*'), 'Access-Control-Allow-Headers': '*',
        'Access-Control-Allow-Methods': 'GET, POST, PATCH, DELETE, OPTIONS',
      };
      const send = (status: number, body?: unknown) => {
        res.writeHead(status, { ...cors, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      if (req.method === 'OPTIONS') return send(204);
      const s: Seen = { method: req.method!, path: req.url!, headers: req.headers, body: raw ? JSON.parse(raw) : null };
      seen.push(s);
      const path = s.path.split('?')[0]!;
      const b = s.body ?? {};
      if (path === '/auth/v1/otp') return b.email === 'member@lab.example' ? send(200, {}) : send(422, { code: 422, error_code: 'otp_disabled', msg: 'Signups not allowed for otp' });
      if (path === '/auth/v1/verify') {
        if (b.token !== CODE) return send(403, { code: 403, error_code: 'otp_expired', msg: 'Token has expired or is invalid' });
        const now = Math.floor(Date.now() / 1000);
        const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const access = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub: userId, role: 'authenticated', aud: 'authenticated', email: 'member@lab.example', exp: now + 3600 })}.c2ln`;
        tokens.set(access, userId);
        return send(200, {
          access_token: access, token_type: 'bearer', expires_in: 3600, expires_at: now + 3600, refresh_token: 'r1',
          user: { id: userId, aud: 'authenticated', role: 'authenticated', email: 'member@lab.example' },
        });
      }
      if (path.startsWith('/auth/v1/logout')) return send(204);
      const m = /^\/rest\/v1\/rpc\/([a-z_]+)$/.exec(path);
      if (m && s.method === 'POST') {
        const uid = tokens.get(String(s.headers.authorization ?? '').replace(/^Bearer /, ''));
        if (s.headers.apikey !== ANON) return send(401, { message: 'Invalid API key' });
        if (!uid) return send(401, { code: '42501', message: 'permission denied (no signed-in user)' });
        const t = new PgTransport({ connection: db.connection, userId: uid, max: 1 });
        try {
          return send(200, await t.rpc(m[1]!, b));
        } catch (err) {
          const e = err as { message: string; code?: string };
          return send(e.code === 'P0002' ? 404 : 400, { code: e.code ?? null, message: e.message, details: null, hint: null });
        } finally {
          await t.close();
        }
      }
      return send(404, { message: `no such endpoint in the stand-in: ${s.method} ${path}` });
    });
  });
}

before(async () => {
  if (noChromium) return;
  db = await freshDatabase();
  userId = await makeUser(db, 'member');
  store = storeAs(db, userId);
  await store.syncScripts([{ path: '/home/member/train.py', type: 'py', size: 10, mtime: '2026-01-01T00:00:00Z' }], []);
  await store.submitJob({ scriptPath: '/home/member/old.py', args: '--epochs 2' });
  supa = supabaseStandIn();
  supaUrl = await listen(supa);
  // The static build, made as a deployer would: SUPABASE_URL and SUPABASE_ANON_KEY in the environment.
  outDir = mkdtempSync(join(tmpdir(), 'lab-web-static-'));
  await promisify(execFile)(process.execPath, [join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '-c', 'web/vite.config.ts', '--mode', 'supabase'], {
    cwd: repoRoot, env: { ...process.env, SUPABASE_URL: supaUrl, SUPABASE_ANON_KEY: ANON, LAB_WEB_OUT_DIR: outDir },
  });
  const config = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
  assert.deepEqual(config, { supabaseUrl: supaUrl, supabaseAnonKey: ANON, pollSeconds: 30 });
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
  supa?.close();
  site?.close();
  await store?.close();
  await db?.drop();
});

test('the static page: email code sign-in, the list, a submit and a live change, all through rpc as the member', { skip: noChromium, timeout: 120_000 }, async () => {
  const index = readFileSync(join(outDir, 'index.html'), 'utf8');
  assert.match(index, new RegExp(`connect-src 'self' ${supaUrl} ${supaUrl.replace('http', 'ws')}`), 'the CSP allows only this project');
  const ctx = await newContext(browser);
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(siteUrl);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.locator('#email').fill('member@lab.example');
  await page.getByRole('button', { name: 'Email me a code' }).click();
  await page.locator('#code').fill('000000');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: /expired or is invalid/ }).waitFor();
  await page.locator('#code').fill(CODE);
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

  // An agent elsewhere runs it: the page follows (by its poll, Realtime being absent here), tails from the row.
  const agent = '55555555-5555-4555-8555-555555555555';
  await store.claimJobs(agent, 'gpu7', 10);
  await store.startJob({ jobId: id, agentId: agent, pid: 9, pidStart: null, interpreter: 'python3', command: ['python3'], logDir: '/x', stdoutPath: '/x/o', stderrPath: '/x/e' });
  await store.finishJob(id, 0, null, { stdoutTail: 'epoch 1 loss 0.5\nepoch 2 loss 0.2\n' });
  await page.locator('h1 .badge[data-status="finished"]').waitFor({ timeout: 20_000 });
  await page.locator('.log-text', { hasText: 'epoch 2 loss 0.2' }).waitFor();
  await page.getByText(/Last lines kept in the database/).waitFor();
  await page.screenshot({ path: shotPath('10-supabase-static') });
  assert.deepEqual(errors, []);

  // What went over the wire: every rpc with the anon key and the member's token, never a user id.
  const rpcs = seen.filter((s) => s.path.startsWith('/rest/v1/rpc/'));
  const names = new Set(rpcs.map((s) => s.path.slice('/rest/v1/rpc/'.length)));
  for (const fn of ['jobs_page', 'jobs_facets', 'scripts_search', 'job_submit', 'job_get', 'lifecycle_history']) assert.ok(names.has(fn), `called ${fn}: ${[...names]}`);
  for (const s of rpcs) {
    assert.equal(s.method, 'POST');
    assert.equal(s.headers.apikey, ANON);
    assert.ok(tokens.has(String(s.headers.authorization).replace(/^Bearer /, '')), 'the signed-in member\'s token');
    assert.ok(!s.body || !('p_user_id' in s.body), 'the token says who acts, never the body');
  }
  const submit = rpcs.find((s) => s.path.endsWith('/job_submit'))!;
  assert.deepEqual(submit.body, { p_script_id: (await store.listScripts())[0]!.script_id, p_script_path: null, p_args: "--lr 0.1 --name 'run one'", p_host: null, p_timeout_s: null });
  const otp = seen.find((s) => s.path.startsWith('/auth/v1/otp'))!;
  assert.equal(otp.headers.apikey, ANON);
  assert.equal((otp.body as { create_user?: boolean }).create_user, false, 'no account is made by signing in');
  await ctx.close();
});

