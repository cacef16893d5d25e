// The member's Supabase session over GoTrue's refresh rules (the layer copies them from the auth
// server): rotation, the parent-token rule, the reuse window and family revocation, sign-out, rate
// limits; and one session file shared by several agent processes while refreshes happen.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentEnv, eventually, exited, sleep } from './helpers/agent-env.js';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { startSupabaseLayer, type SupabaseLayer } from './helpers/supabase/layer.js';

let db: TestDb;
after(async () => db?.drop());
before(async () => {
  db = await freshDatabase();
});

async function token(layer: SupabaseLayer, body: Record<string, unknown>, grant = 'refresh_token') {
  const r = await fetch(`${layer.url}/auth/v1/token?grant_type=${grant}`, {
    method: 'POST', headers: { apikey: layer.anonKey, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, string> };
}

describe('GoTrue refresh rules in the layer', () => {
  test('rotation, the parent-token rule, the reuse window, then the whole family revoked', async () => {
    const layer = await startSupabaseLayer({ connection: db.connection, reuseIntervalS: 1 });
    try {
      await layer.createUser('rt@lab.example', 'pw');
      const signIn = await token(layer, { email: 'rt@lab.example', password: 'pw' }, 'password');
      const rt0 = signIn.body.refresh_token!;
      const r1 = await token(layer, { refresh_token: rt0 });
      assert.equal(r1.status, 200);
      assert.notEqual(r1.body.refresh_token, rt0, 'a refresh rotates the token');
      const again = await token(layer, { refresh_token: rt0 });
      assert.equal(again.body.refresh_token, r1.body.refresh_token, 'the parent of the active token gets the active one back');
      const r2 = await token(layer, { refresh_token: r1.body.refresh_token });
      assert.equal(r2.status, 200);
      // rt0 is now a grandparent: within the reuse interval it is still swapped ...
      const inWindow = await token(layer, { refresh_token: r1.body.refresh_token });
      assert.equal(inWindow.status, 200);
      await sleep(1100);
      // ... after it, reuse is taken for theft: the family is revoked, the live token too.
      const stale = await token(layer, { refresh_token: rt0 });
      assert.deepEqual([stale.status, stale.body.code], [400, 'refresh_token_already_used']);
      const live = await token(layer, { refresh_token: inWindow.body.refresh_token });
      assert.equal(live.status, 400);
      assert.equal((await token(layer, { refresh_token: 'never-issued' })).body.code, 'refresh_token_not_found');
    } finally {
      await layer.close();
    }
  });

  test('after sign-out the refresh token is session_not_found; over the limit refreshes are 429', async () => {
    const layer = await startSupabaseLayer({ connection: db.connection, rateLimits: { tokenRefresh: { max: 1, windowMs: 60_000 } } });
    try {
      await layer.createUser('out@lab.example', 'pw');
      const s = await token(layer, { email: 'out@lab.example', password: 'pw' }, 'password');
      const r = await fetch(`${layer.url}/auth/v1/logout?scope=local`, { method: 'POST', headers: { apikey: layer.anonKey, authorization: `Bearer ${s.body.access_token}` } });
      assert.equal(r.status, 204);
      const user = await fetch(`${layer.url}/auth/v1/user`, { headers: { apikey: layer.anonKey, authorization: `Bearer ${s.body.access_token}` } });
      assert.equal(user.status, 403);
      assert.equal(((await user.json()) as { code: string }).code, 'session_not_found');
      // The token store forgets the session's tokens: not found, as GoTrue after its cleanup.
      assert.equal((await token(layer, { refresh_token: s.body.refresh_token })).status, 400);
      assert.equal((await token(layer, { refresh_token: 'x' })).status, 429, 'the second refresh in the window is rate limited');
    } finally {
      await layer.close();
    }
  });
});

/** A member signed in on a Supabase-mode agent env; the session file the processes share. */
async function signedInMember(layer: SupabaseLayer, name: string) {
  const email = `${name}-${process.pid}@lab.example`;
  await layer.createUser(email, 'pw');
  const a = new AgentEnv(db, name, { LAB_DATABASE_URL: '', SUPABASE_URL: layer.url, SUPABASE_ANON_KEY: layer.anonKey, LAB_POLL_INTERVAL_S: '2' });
  const login = await a.cli(['login', '--password', '--email', email], {}, 30_000, 'pw\n');
  assert.equal(login.code, 0, login.stderr);
  return { a, session: join(a.home, '.local', 'share', 'lab-job-agent', 'supabase-session.json') };
}

describe('one session file, several processes', () => {
  test('the supervisor and CLI calls refresh one after another under the lock: nobody is signed out', async () => {
    // Access tokens live 94 s: within auth-js's 90 s margin 4 s after each refresh, so every
    // process soon wants to refresh; each refresh is held 500 ms, so they overlap without the lock;
    // no reuse interval, so a token spent twice (other than the parent rule) signs everyone out.
    const layer = await startSupabaseLayer({ connection: db.connection, jwtExpiryS: 94, reuseIntervalS: 0 });
    layer.gotrue.refreshDelayMs = 500;
    try {
      const { a, session } = await signedInMember(layer, 'shared');
      const script = a.write('hello.py', 'print("hello")\n');
      const sup = a.spawn(['supervise']);
      try {
      await sleep(4500);
      const calls = await Promise.all([0, 1, 2, 3].map(async (i) => {
        await sleep(i * 300);
        return [await a.cli(['submit', script, '--json']), await a.cli(['ls', '--json'])];
      }));
      for (const r of calls.flat()) assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const outcomes = layer.gotrue.tokens.refreshLog.map((l) => l.outcome);
      assert.ok(outcomes.length >= 2, `refreshes happened: ${outcomes}`);
      // A process that exits while its refresh is in flight leaves the parent of the active token in
      // the file: GoTrue hands the active one back. Anything else (a grandparent reused, with the
      // reuse interval at 0) would revoke the family and sign every process out.
      assert.deepEqual(outcomes.filter((o) => o !== 'rotated' && o !== 'parent_of_active'), [], 'no refresh refused, no family revoked');
      // The supervisor ran the jobs with the shared session all along.
      await eventually('the jobs ran', async () => (await db.admin.query("select count(*)::int as n from public.jobs j join public.users u using (user_id) where u.linux_user = 'shared' and j.status = 'finished'")).rows[0].n === 4, 120_000);
      } finally {
        sup.kill('SIGTERM');
        await exited(sup);
      }
      assert.doesNotMatch(readFileSync(a.agentLog, 'utf8'), /session (was removed|on this machine ended)/);
      assert.match(readFileSync(session, 'utf8'), /refresh_token/);
    } finally {
      await layer.close();
    }
  });

  test('a refresh refused for good: a backup is kept, the agent log and doctor say to log in again', async () => {
    const layer = await startSupabaseLayer({ connection: db.connection, jwtExpiryS: 3 });
    try {
      const { a, session } = await signedInMember(layer, 'revoked');
      // Signed out everywhere from elsewhere (e.g. a password reset): every refresh token is dead.
      for (const s of [...layer.gotrue.tokens.sessions.values()]) layer.gotrue.tokens.endSession(s.id);
      await sleep(3500); // the access token has expired too
      const tick = await a.cli(['tick']);
      assert.notEqual(tick.code, 0);
      assert.match(tick.stderr, /session on this machine ended at .* \(refresh_token_not_found: .*\): run `lab-agent login` again/);
      assert.match(readFileSync(a.agentLog, 'utf8'), /run `lab-agent login` again/);
      assert.ok(existsSync(`${session}.bak`), 'the removed session is kept beside the file');
      const doc = JSON.parse((await a.cli(['doctor', '--json'])).stdout) as { checks: { id: string; status: string; fix?: string }[] };
      const check = doc.checks.find((c) => c.id === 'database')!;
      assert.equal(check.status, 'fail');
      assert.equal(check.fix, 'run `lab-agent login` again');
      // Logging in again clears it.
      const relogin = await a.cli(['login', '--password', '--email', `revoked-${process.pid}@lab.example`], {}, 30_000, 'pw\n');
      assert.equal(relogin.code, 0, relogin.stderr);
      assert.ok(!existsSync(`${session}.bak`));
    } finally {
      await layer.close();
    }
  });

  test('a refresh refused for a passing reason (429): the next process restores the session from its backup', async () => {
    const layer = await startSupabaseLayer({ connection: db.connection, jwtExpiryS: 3 });
    try {
      const { a, session } = await signedInMember(layer, 'limited');
      await sleep(3500);
      const limits = (layer.gotrue as unknown as { o: { rateLimits: { tokenRefresh: { max: number } } } }).o.rateLimits;
      const saved = limits.tokenRefresh.max;
      limits.tokenRefresh.max = 0;
      const first = await a.cli(['ls']);
      assert.notEqual(first.code, 0, 'the rate-limited refresh fails this call');
      assert.ok(existsSync(`${session}.bak`));
      limits.tokenRefresh.max = saved;
      const second = await a.cli(['ls']);
      assert.equal(second.code, 0, second.stderr);
      assert.ok(!existsSync(`${session}.bak`), 'restored: the backup is gone');
      assert.match(readFileSync(session, 'utf8'), /refresh_token/);
    } finally {
      await layer.close();
    }
  });

  test('supervise starts and runs jobs while GoTrue cannot be reached, the user id being known from the session', async () => {
    const layer = await startSupabaseLayer({ connection: db.connection });
    try {
      const { a } = await signedInMember(layer, 'authdown');
      const script = a.write('ok.py', 'print("ok")\n');
      layer.down.auth = true; // /auth/v1/* resets every connection
      const sup = a.spawn(['supervise']);
      try {
        const submit = await a.cli(['submit', script, '--json']);
        assert.equal(submit.code, 0, submit.stderr);
        const jobId = JSON.parse(submit.stdout).job_id as string;
        await eventually('the job ran', async () => (await db.admin.query("select 1 from public.jobs where job_id = $1 and status = 'finished'", [jobId])).rowCount, 60_000);
        assert.match(readFileSync(a.agentLog, 'utf8'), /supervisor started/);
      } finally {
        sup.kill('SIGTERM');
        await exited(sup);
      }
    } finally {
      await layer.close();
    }
  });
});
