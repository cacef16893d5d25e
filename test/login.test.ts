// `lab-agent login` / `logout` through the real CLI against a local stand-in for GoTrue and
// PostgREST (no Supabase can run here): what goes over the wire, the 0600 session file, the users
// row, the agent using the session afterwards, and every way it can go wrong.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { cliPath } from './helpers/agent-env.js';
import { startFakeSupabase, type FakeSupabase } from './helpers/fake-supabase.js';

const me = userInfo().username;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(env: NodeJS.ProcessEnv, args: string[], input = ''): Promise<Run> {
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
    child.stdin.end(input);
  });
}

function memberEnv(fake: FakeSupabase, extra: NodeJS.ProcessEnv = {}) {
  const home = mkdtempSync(join(tmpdir(), 'lab-login-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: home, USER: me, LAB_USER: me, LAB_HOST: 'testhost',
    SUPABASE_URL: fake.url, SUPABASE_ANON_KEY: 'anon-key-for-tests', ...extra,
  };
  return { home, env, session: join(home, '.local', 'share', 'lab-job-agent', 'supabase-session.json') };
}

describe('login with an emailed code', () => {
  test('asks GoTrue for a code (existing accounts only), verifies it, keeps the session 0600 and writes the users row', async () => {
    const fake = await startFakeSupabase();
    const m = memberEnv(fake);
    const r = await cli(m.env, ['login', '--email', fake.email], `${fake.code}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /A sign-in code was sent to member@lab\.example/);
    assert.match(r.stdout, /signed in as member@lab\.example/);

    const [otp] = fake.requests('/auth/v1/otp');
    assert.equal(otp!.method, 'POST');
    assert.equal(otp!.headers.apikey, 'anon-key-for-tests');
    assert.equal(otp!.body!.email, fake.email);
    assert.equal(otp!.body!.create_user, false, 'a typo must not create an account');
    const [verify] = fake.requests('/auth/v1/verify');
    assert.deepEqual({ email: verify!.body!.email, token: verify!.body!.token, type: verify!.body!.type }, { email: fake.email, token: fake.code, type: 'email' });
    const [ensure] = fake.requests('/rest/v1/rpc/user_ensure');
    assert.equal(ensure!.headers.authorization, `Bearer ${fake.tokens.at(-1)}`, 'the users row is written as the member, not with a service key');
    assert.deepEqual(ensure!.body, { p_linux_user: me, p_email: fake.email, p_host: 'testhost' });

    assert.equal(statSync(m.session).mode & 0o777, 0o600);
    const stored = readFileSync(m.session, 'utf8');
    assert.ok(stored.includes(fake.tokens.at(-1)!), 'the session is in the file');
    assert.ok(!stored.includes(fake.code), 'the code is not kept');

    // The agent (a new process) finds the session and acts as the member: doctor says who I am.
    const doc = await cli(m.env, ['doctor', '--json']);
    const checks = Object.fromEntries((JSON.parse(doc.stdout) as { checks: { id: string; status: string; detail: string }[] }).checks.map((c) => [c.id, c]));
    assert.equal(checks.database!.status, 'ok', checks.database!.detail);
    assert.equal(checks.identity!.status, 'ok', checks.identity!.detail);
    assert.match(checks.identity!.detail, /signed in as member@lab\.example/);
    assert.equal(checks.credentials!.status, 'ok');
  });

  test('--code verifies a code sent by an earlier run without asking for another', async () => {
    const fake = await startFakeSupabase();
    const m = memberEnv(fake, { LAB_EMAIL: fake.email });
    const r = await cli(m.env, ['login', '--code', fake.code, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fake.requests('/auth/v1/otp').length, 0);
    const out = JSON.parse(r.stdout);
    assert.equal(out.userId, fake.userId);
    assert.equal(out.sessionFileMode, '600');
    assert.equal(out.linuxUser, me);
  });

  test('a wrong code fails with what to do, and leaves no session', async () => {
    const fake = await startFakeSupabase();
    const m = memberEnv(fake);
    const r = await cli(m.env, ['login', '--email', fake.email], '000000\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the code is wrong or has expired: run `lab-agent login` again/);
    assert.ok(!existsSync(m.session) || !readFileSync(m.session, 'utf8').includes('access_token'));
  });

  test('an email with no account is told to ask for an invitation', async () => {
    const fake = await startFakeSupabase();
    const m = memberEnv(fake);
    const r = await cli(m.env, ['login', '--email', 'stranger@lab.example']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no account for stranger@lab\.example .*ask your lab admin to invite you/);
  });
});

describe('login with a password', () => {
  test('the password is read from stdin, sent once, and never stored', async () => {
    const fake = await startFakeSupabase();
    const m = memberEnv(fake);
    const r = await cli(m.env, ['login', '--password', '--email', fake.email, '--json'], `${fake.password}\n`);
    assert.equal(r.code, 0, r.stderr);
    const [token] = fake.requests('/auth/v1/token');
    assert.match(token!.path, /grant_type=password/);
    assert.deepEqual({ email: token!.body!.email, password: token!.body!.password }, { email: fake.email, password: fake.password });
    assert.ok(!readFileSync(m.session, 'utf8').includes(fake.password));
  });

  test('a wrong password fails clearly', async () => {
    const fake = await startFakeSupabase();
    const m = memberEnv(fake);
    const r = await cli(m.env, ['login', '--password', '--email', fake.email], 'nope\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /wrong password for member@lab\.example/);
  });
});

describe('logout and misuse', () => {
  test('logout revokes this session on the server (scope local) and removes the file', async () => {
    const fake = await startFakeSupabase();
    const m = memberEnv(fake);
    assert.equal((await cli(m.env, ['login', '--email', fake.email, '--code', fake.code])).code, 0);
    const r = await cli(m.env, ['logout']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /signed out/);
    const [out] = fake.requests('/auth/v1/logout');
    assert.match(out!.path, /scope=local/);
    assert.equal(out!.headers.authorization, `Bearer ${fake.tokens.at(-1)}`);
    assert.ok(!existsSync(m.session));
    const again = await cli(m.env, ['logout']);
    assert.match(again.stdout, /not signed in here/);
    // Signed out, the agent refuses to act and says how to fix it.
    const doc = await cli(m.env, ['doctor', '--json']);
    const db = (JSON.parse(doc.stdout) as { checks: { id: string; status: string; fix?: string }[] }).checks.find((c) => c.id === 'database')!;
    assert.equal(db.status, 'fail');
    assert.match(db.fix ?? '', /lab-agent login/);
  });

  test('outside Supabase mode login explains there is nothing to sign in to', async () => {
    const fake = await startFakeSupabase();
    const m = memberEnv(fake, { SUPABASE_URL: '', SUPABASE_ANON_KEY: '' });
    const r = await cli(m.env, ['login', '--email', fake.email]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is for Supabase mode: set SUPABASE_URL and SUPABASE_ANON_KEY/);
    assert.equal(fake.seen.length, 0);
  });

  test('no terminal and nothing on stdin: a usage error naming the missing answer', async () => {
    const fake = await startFakeSupabase();
    const m = memberEnv(fake);
    const r = await cli(m.env, ['login']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no answer for "Email of your Supabase account:"/);
  });
});
