// The Supabase transport's requests, checked against a local HTTP server: no PostgREST or GoTrue
// can run here, so this stand-in checks what goes over the wire (path, headers, body) and how
// answers and errors come back. The live suite (supabase-live.test.ts) runs against a real project.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabStore } from '../src/services/store/lab-store.js';
import { SupabaseTransport, createSupabaseClient } from '../src/services/store/supabase-transport.js';
import { StoreError } from '../src/services/store/types.js';

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

let server: Server;
let url: string;
const seen: Seen[] = [];
let reply: (req: Seen) => { status: number; body: unknown } = () => ({ status: 200, body: {} });
const userId = '33333333-3333-4333-8333-333333333333';

function jwt(payload: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}.c2lnbmF0dXJl`;
}

before(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const s: Seen = { method: req.method!, path: req.url!, headers: req.headers, body: raw ? JSON.parse(raw) : null };
      seen.push(s);
      const r = reply(s);
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => server.close());

describe('Supabase transport', () => {
  test('service-key mode: POST /rest/v1/rpc/<fn> with apikey, bearer and the user id in the body', async () => {
    seen.length = 0;
    reply = () => ({ status: 200, body: { job_id: 'j1', status: 'pending' } });
    const store = new LabStore(new SupabaseTransport({ url, key: 'service-key-for-test', serviceUserId: userId }), userId);
    const job = await store.submitJob({ scriptPath: '/home/a/t.py', args: '--n 3', timeoutS: 30 });
    assert.deepEqual(job, { job_id: 'j1', status: 'pending' });
    const [req] = seen;
    assert.equal(req!.method, 'POST');
    assert.equal(req!.path, '/rest/v1/rpc/job_submit');
    assert.equal(req!.headers.apikey, 'service-key-for-test');
    assert.equal(req!.headers.authorization, 'Bearer service-key-for-test');
    assert.match(String(req!.headers['content-type']), /application\/json/);
    assert.deepEqual(req!.body, {
      p_script_path: '/home/a/t.py', p_args: '--n 3', p_host: null, p_timeout_s: 30, p_script_id: null, p_user_id: userId,
    });
    await store.close();
  });

  test('a database error comes back as a StoreError with its SQL state', async () => {
    reply = () => ({ status: 400, body: { code: '55000', message: 'lab: cannot start job x: it is pending, expected claimed', details: null, hint: null } });
    const store = new LabStore(new SupabaseTransport({ url, key: 'k', serviceUserId: userId }), userId);
    await assert.rejects(store.getJob('x'), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, '55000');
      assert.ok(err.isWrongState);
      assert.match(err.message, /expected claimed/);
      return true;
    });
    await store.close();
  });

  test('session mode: signs in once, keeps the session in a 0600 file, calls with the user token', async () => {
    seen.length = 0;
    const access = jwt({ sub: userId, role: 'authenticated', exp: Math.floor(Date.now() / 1000) + 3600, aud: 'authenticated' });
    reply = (s) =>
      s.path.startsWith('/auth/v1/token')
        ? {
            status: 200,
            body: {
              access_token: access, token_type: 'bearer', expires_in: 3600, expires_at: Math.floor(Date.now() / 1000) + 3600,
              refresh_token: 'refresh-1', user: { id: userId, aud: 'authenticated', role: 'authenticated', email: 'a@lab.example' },
            },
          }
        : { status: 200, body: [] };
    const sessionFile = join(mkdtempSync(join(tmpdir(), 'lab-sess-')), 'session.json');
    const opts = { url, key: 'anon-key-for-test', sessionFile };
    const login = createSupabaseClient(opts);
    const { error } = await login.auth.signInWithPassword({ email: 'a@lab.example', password: 'pw-not-stored' });
    assert.equal(error, null);
    assert.equal(statSync(sessionFile).mode & 0o777, 0o600);
    assert.ok(!readFileSync(sessionFile, 'utf8').includes('pw-not-stored'), 'the password is never stored');
    // A new process (a new client) finds the session in the file and uses its token.
    const client = createSupabaseClient(opts);
    const { data } = await client.auth.getSession();
    assert.equal(data.session?.user.id, userId);
    const store = new LabStore(new SupabaseTransport(opts, client), userId);
    seen.length = 0;
    assert.deepEqual(await store.listJobs(5), []);
    const [req] = seen;
    assert.equal(req!.path, '/rest/v1/rpc/jobs_list');
    assert.equal(req!.headers.apikey, 'anon-key-for-test');
    assert.equal(req!.headers.authorization, `Bearer ${access}`);
    assert.deepEqual(req!.body, { p_limit: 5, p_status: null }, 'no p_user_id: the token says who I am');
    await store.close();
  });
});
