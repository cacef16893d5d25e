// `lab-agent login` / `logout` through the real CLI against the PostgREST/GoTrue layer over the
// real database: the emailed code (from the project's template) or the link pasted instead (a
// default project's email), the 0600 session file, the users row written as the member, the
// agent using the session afterwards, and every way it can go wrong.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { cliPath, eventually } from './helpers/agent-env.js';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { startSupabaseLayer, type SupabaseLayer } from './helpers/supabase/layer.js';

const me = userInfo().username;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `answer` (awaited once the process runs) is what the member types on stdin. */
function cli(env: NodeJS.ProcessEnv, args: string[], answer: string | (() => Promise<string>) = ''): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    void (typeof answer === 'string' ? Promise.resolve(answer) : answer()).then((a) => child.stdin.end(a ? `${a}\n` : ''));
  });
}

let db: TestDb;
let layer: SupabaseLayer;
let plain: SupabaseLayer; // a new hosted project: the default template, a link and no code
let n = 0;

before(async () => {
  db = await freshDatabase();
  layer = await startSupabaseLayer({ connection: db.connection, emailMaxFrequencyS: 0 });
  plain = await startSupabaseLayer({ connection: db.connection, template: 'default', emailMaxFrequencyS: 0 });
});
after(async () => {
  await layer.close();
  await plain.close();
  await db.drop();
});

/** A member with an account, each with its own Linux name label; the first one me. */
async function member(l = layer, extra: NodeJS.ProcessEnv = {}) {
  const email = `member${++n}-${process.pid}@lab.example`;
  const linuxUser = n === 1 ? me : `lm${n}`;
  const user = await l.createUser(email, 'correct horse');
  const home = mkdtempSync(join(tmpdir(), 'lab-login-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: home, USER: me, LAB_USER: linuxUser, LAB_HOST: 'testhost',
    SUPABASE_URL: l.url, SUPABASE_ANON_KEY: l.anonKey, ...extra,
  };
  const mailTo = () => eventually(`the email to ${email}`, async () => l.mail.filter((m) => m.to === email).at(-1), 10_000, 50);
  return { email, id: user.id, linuxUser, home, env, mailTo, session: join(home, '.local', 'share', 'lab-job-agent', 'supabase-session.json') };
}

const since = (l: SupabaseLayer, from: number, name: string) => l.requests.slice(from).filter((r) => r.name === name);

describe('login with an emailed code', () => {
  test('asks GoTrue for a code (existing accounts only), verifies it, keeps the session 0600 and writes the users row as the member', async () => {
    const m = await member();
    const from = layer.requests.length;
    const r = await cli(m.env, ['login', '--email', m.email], async () => (await m.mailTo()).code!);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`A sign-in code was sent to ${m.email}`));
    assert.match(r.stdout, new RegExp(`signed in as ${m.email}`));
    const mail = await m.mailTo();
    assert.match(mail.subject, /sign-in code/);
    assert.match(mail.code!, /^\d{6}$/, 'the project template puts the code in the email');

    assert.equal(since(layer, from, 'otp').length, 1);
    assert.equal(since(layer, from, 'verify').length, 1);
    const [ensure] = since(layer, from, 'user_ensure');
    assert.equal(ensure!.role, 'authenticated', 'the users row is written as the member, not with a service key');
    const row = (await db.admin.query('select linux_user, email from public.users where user_id = $1', [m.id])).rows[0];
    assert.deepEqual(row, { linux_user: m.linuxUser, email: m.email });
    // The Linux name is a per-host label, bound by the member's own (signed-in) call.
    const binding = (await db.admin.query('select host, linux_user from public.user_hosts where user_id = $1', [m.id])).rows;
    assert.deepEqual(binding, [{ host: 'testhost', linux_user: m.linuxUser }]);

    assert.equal(statSync(m.session).mode & 0o777, 0o600);
    const stored = readFileSync(m.session, 'utf8');
    assert.match(stored, /access_token/);
    assert.ok(!stored.includes(mail.code!), 'the code is not kept');

    // The agent (a new process) finds the session and acts as the member: doctor says who I am.
    const doc = await cli(m.env, ['doctor', '--json']);
    const checks = Object.fromEntries((JSON.parse(doc.stdout) as { checks: { id: string; status: string; detail: string }[] }).checks.map((c) => [c.id, c]));
    assert.equal(checks.database!.status, 'ok', checks.database!.detail);
    assert.equal(checks.identity!.status, 'ok', checks.identity!.detail);
    assert.match(checks.identity!.detail, new RegExp(`signed in as ${m.email.replace(/[.]/g, '\\.')}`));
    assert.equal(checks.credentials!.status, 'ok');
  });

  test('--code verifies a code sent by an earlier run without asking for another', async () => {
    const m = await member();
    const first = await cli(m.env, ['login', '--email', m.email]); // sends the code, then finds no answer
    assert.equal(first.code, 2);
    const from = layer.requests.length;
    const r = await cli({ ...m.env, LAB_EMAIL: m.email }, ['login', '--code', (await m.mailTo()).code!, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(since(layer, from, 'otp').length, 0);
    const out = JSON.parse(r.stdout);
    assert.equal(out.userId, m.id);
    assert.equal(out.sessionFileMode, '600');
    assert.equal(out.linuxUser, m.linuxUser);
  });

  test('a wrong code fails with what to do, and leaves no session', async () => {
    const m = await member();
    const r = await cli(m.env, ['login', '--email', m.email], async () => ((await m.mailTo()).code === '000000' ? '111111' : '000000'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the code is wrong or has expired: run `lab-agent login` again/);
    assert.ok(!existsSync(m.session) || !readFileSync(m.session, 'utf8').includes('access_token'));
  });

  test('an email with no account is told to ask for an invitation, and no account is made', async () => {
    const m = await member();
    const r = await cli(m.env, ['login', '--email', 'stranger@lab.example']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no account for stranger@lab\.example .*ask your lab admin to invite you/);
    assert.equal((await db.admin.query("select 1 from auth.users where email = 'stranger@lab.example'")).rowCount, 0);
  });

  test('asking for a second code within the email interval is refused with what to do (429)', async () => {
    const strict = await startSupabaseLayer({ connection: db.connection, emailMaxFrequencyS: 60 });
    try {
      const m = await member(strict);
      await cli(m.env, ['login', '--email', m.email]);
      const r = await cli(m.env, ['login', '--email', m.email]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /too many sign-in attempts: wait a minute/);
      assert.equal(strict.requests.filter((q) => q.name === 'otp').at(-1)!.status, 429);
    } finally {
      await strict.close();
    }
  });
});

describe('login on a default project (the email has a link, no code)', () => {
  test('the link pasted at the prompt signs in', async () => {
    const m = await member(plain);
    const r = await cli(m.env, ['login', '--email', m.email], async () => {
      const mail = await m.mailTo();
      assert.equal(mail.code, null, 'a default project\'s email holds no code');
      return mail.link!;
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`signed in as ${m.email}`));
    assert.equal(statSync(m.session).mode & 0o777, 0o600);
  });

  test('the address the browser landed on after opening the link signs in too', async () => {
    const m = await member(plain);
    const first = await cli(m.env, ['login', '--email', m.email]);
    assert.equal(first.code, 2);
    const opened = await fetch((await m.mailTo()).link!, { redirect: 'manual' });
    assert.equal(opened.status, 303);
    const landed = opened.headers.get('location')!;
    assert.match(landed, /#access_token=.*refresh_token=/);
    const r = await cli({ ...m.env, LAB_EMAIL: m.email }, ['login', '--code', landed, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).userId, m.id);
  });

  test('a link used already is refused with what to do', async () => {
    const m = await member(plain);
    await cli(m.env, ['login', '--email', m.email]);
    const link = (await m.mailTo()).link!;
    await fetch(link, { redirect: 'manual' }); // opened in a browser first
    const r = await cli({ ...m.env, LAB_EMAIL: m.email }, ['login', '--code', link]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /wrong or has expired: run `lab-agent login` again/);
  });
});

describe('login with a password', () => {
  test('the password is read from stdin, sent once, and never stored', async () => {
    const m = await member();
    const from = layer.requests.length;
    const r = await cli(m.env, ['login', '--password', '--email', m.email, '--json'], 'correct horse');
    assert.equal(r.code, 0, r.stderr);
    const tokens = since(layer, from, 'token');
    assert.equal(tokens.length, 1);
    assert.match(tokens[0]!.path, /grant_type=password/);
    assert.ok(!readFileSync(m.session, 'utf8').includes('correct horse'));
  });

  test('a wrong password fails clearly', async () => {
    const m = await member();
    const r = await cli(m.env, ['login', '--password', '--email', m.email], 'nope');
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`wrong password for ${m.email}`));
  });
});

describe('logout and misuse', () => {
  test('logout revokes this session on the server (scope local) and removes the file', async () => {
    const m = await member();
    assert.equal((await cli(m.env, ['login', '--password', '--email', m.email], 'correct horse')).code, 0);
    const stored = JSON.parse(readFileSync(m.session, 'utf8')) as Record<string, string>;
    const refresh = (JSON.parse(Object.values(stored)[0]!) as { refresh_token: string }).refresh_token;
    const from = layer.requests.length;
    const r = await cli(m.env, ['logout']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /signed out/);
    const [out] = since(layer, from, 'logout');
    assert.match(out!.path, /scope=local/);
    assert.equal(out!.status, 204);
    assert.ok(!existsSync(m.session));
    assert.equal(layer.gotrue.tokens.refresh(refresh).ok, false, 'the refresh token no longer works on the server');
    const again = await cli(m.env, ['logout']);
    assert.match(again.stdout, /not signed in here/);
    // Signed out, the agent refuses to act and says how to fix it.
    const doc = await cli(m.env, ['doctor', '--json']);
    const check = (JSON.parse(doc.stdout) as { checks: { id: string; status: string; fix?: string }[] }).checks.find((c) => c.id === 'database')!;
    assert.equal(check.status, 'fail');
    assert.match(check.fix ?? '', /lab-agent login/);
  });

  test('outside Supabase mode login explains there is nothing to sign in to', async () => {
    const m = await member();
    const from = layer.requests.length;
    const r = await cli({ ...m.env, SUPABASE_URL: '', SUPABASE_ANON_KEY: '' }, ['login', '--email', m.email]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is for Supabase mode: set SUPABASE_URL and SUPABASE_ANON_KEY/);
    assert.equal(layer.requests.length, from);
  });

  test('no terminal and nothing on stdin: a usage error naming the missing answer', async () => {
    const m = await member();
    const r = await cli(m.env, ['login']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no answer for "Email of your Supabase account:"/);
  });
});
