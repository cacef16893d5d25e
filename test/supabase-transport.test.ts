// The Supabase transport over the PostgREST/GoTrue layer and the real SQL: what each key may do,
// how errors come back (PostgREST's status codes and SQL states), the session file, and the
// layer's own PostgREST rules, each checked against what PostgREST documents.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { LabStore } from '../src/services/store/lab-store.js';
import { SupabaseTransport, createSupabaseClient } from '../src/services/store/supabase-transport.js';
import { StoreError } from '../src/services/store/types.js';
import { freshDatabase, makeUser, type TestDb } from './helpers/db.js';
import { signJwt } from './helpers/supabase/jwt.js';
import { startSupabaseLayer, type SupabaseLayer } from './helpers/supabase/layer.js';

let db: TestDb;
let layer: SupabaseLayer;
let alice: string;
let bob: string;

before(async () => {
  db = await freshDatabase();
  layer = await startSupabaseLayer({ connection: db.connection });
  alice = await makeUser(db, 'alice');
  bob = await makeUser(db, 'bob');
  layer.gotrue.passwords.set(alice, 'alice-pw');
});
after(async () => {
  await layer.close();
  await db.drop();
});

/** A raw call, to see status and body as PostgREST answers them. */
async function post(fn: string, body: unknown, headers: Record<string, string>) {
  const r = await fetch(`${layer.url}/rest/v1/rpc/${fn}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as { code: string; message: string; details: string | null; hint: string | null } };
}
const asService = () => ({ apikey: layer.serviceKey, authorization: `Bearer ${layer.serviceKey}` });
const asAnon = () => ({ apikey: layer.anonKey, authorization: `Bearer ${layer.anonKey}` });
const memberToken = (sub: string, expIn = 3600) =>
  signJwt({ sub, role: 'authenticated', aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + expIn }, layer.jwtSecret);

describe('Supabase transport', () => {
  test('service key: the call names its member (p_user_id) and runs as service_role', async () => {
    const store = new LabStore(new SupabaseTransport({ url: layer.url, key: layer.serviceKey, serviceUserId: alice }), alice);
    const from = layer.requests.length;
    const job = await store.submitJob({ scriptPath: '/home/alice/t.py', args: '--n 3', timeoutS: 30 });
    assert.equal(job.user_id, alice);
    assert.equal(job.args, '--n 3');
    const [req] = layer.requests.slice(from);
    assert.deepEqual([req!.method, req!.path, req!.role, req!.status], ['POST', '/rest/v1/rpc/job_submit', 'service_role', 200]);
    await store.close();
  });

  test('database errors come back as StoreErrors with their SQL state, at PostgREST\'s status', async () => {
    const store = new LabStore(new SupabaseTransport({ url: layer.url, key: layer.serviceKey, serviceUserId: alice }), alice);
    const job = await store.submitJob({ scriptPath: '/home/alice/t.py' });
    const from = layer.requests.length;
    await assert.rejects(store.finishJob({ jobId: job.job_id, retcode: 0, signal: null }), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, '55000');
      assert.ok(err.isWrongState);
      assert.match(err.message, /expected running/);
      return true;
    });
    await assert.rejects(store.getJob(randomUUID()), (err: unknown) => err instanceof StoreError && err.code === 'P0002' && /no job/.test(err.message));
    assert.deepEqual(layer.requests.slice(from).map((r) => r.status), [500, 500], 'P0002 and 55000 are 500 in PostgREST\'s table');
    await store.close();
  });

  test('session: signs in once, keeps the session in a 0600 file, a new client uses it as the member', async () => {
    const sessionFile = join(mkdtempSync(join(tmpdir(), 'lab-sess-')), 'session.json');
    const opts = { url: layer.url, key: layer.anonKey, sessionFile };
    const login = createSupabaseClient(opts);
    assert.equal((await login.auth.signInWithPassword({ email: 'alice@lab.example', password: 'alice-pw' })).error, null);
    assert.equal(statSync(sessionFile).mode & 0o777, 0o600);
    assert.ok(!readFileSync(sessionFile, 'utf8').includes('alice-pw'), 'the password is never stored');
    const client = createSupabaseClient(opts);
    const { data } = await client.auth.getSession();
    assert.equal(data.session?.user.id, alice);
    const store = new LabStore(new SupabaseTransport(opts, client), alice);
    const from = layer.requests.length;
    const jobs = await store.listJobs({ limit: 5 });
    assert.ok(jobs.length > 0 && jobs.every((j) => j.user_id === alice));
    assert.equal(layer.requests.slice(from)[0]!.role, 'authenticated');
    // Acting for someone else with a member's token is refused: 42501 is 403 when signed in.
    await assert.rejects(store.transport.rpc('jobs_list', { p_user_id: bob }), (e: unknown) => e instanceof StoreError && e.code === '42501');
    assert.equal(layer.requests.at(-1)!.status, 403);
    await store.close();
  });
});

describe('the layer follows PostgREST and the gateway', () => {
  test('no apikey: 401 from the gateway; a wrong one: 401 Invalid API key', async () => {
    const none = await post('jobs_list', {}, { authorization: `Bearer ${layer.serviceKey}` });
    assert.equal(none.status, 401);
    assert.match(none.body.message, /No API key found/);
    const wrong = await post('jobs_list', {}, { apikey: signJwt({ role: 'service_role' }, 'another-secret') });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body.message, /Invalid API key/);
  });

  test('an expired token is 401 PGRST303; a forged one 401 PGRST301', async () => {
    const expired = await post('jobs_list', {}, { apikey: layer.anonKey, authorization: `Bearer ${memberToken(alice, -5)}` });
    assert.deepEqual([expired.status, expired.body.code, expired.body.message], [401, 'PGRST303', 'JWT expired']);
    const forged = signJwt({ sub: bob, role: 'service_role' }, 'not-the-project-secret');
    const bad = await post('jobs_list', { p_user_id: bob }, { apikey: layer.anonKey, authorization: `Bearer ${forged}` });
    assert.deepEqual([bad.status, bad.body.code], [401, 'PGRST301']);
  });

  test('the anon key alone cannot call a member function: 42501 is 401 for anon', async () => {
    const r = await post('jobs_list', {}, asAnon());
    assert.equal(r.status, 401);
    assert.equal(r.body.code, '42501');
    assert.deepEqual(Object.keys(r.body).sort(), ['code', 'details', 'hint', 'message']);
  });

  test('functions are found by name and JSON keys: unknown keys 404 PGRST202, overloads 300 PGRST203', async () => {
    const unknown = await post('jobs_list', { p_limit: 1, p_nope: 2 }, asService());
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'PGRST202');
    assert.match(unknown.body.message, /Could not find the function public\.jobs_list\(p_limit, p_nope\)/);
    const missingRequired = await post('job_get', {}, asService());
    assert.equal(missingRequired.body.code, 'PGRST202', 'a parameter without a default must be given');
    await db.admin.query('create function public.lab_twin(p_a text) returns int language sql as $$ select 1 $$');
    await db.admin.query('create function public.lab_twin(p_a int) returns int language sql as $$ select 2 $$');
    await db.admin.query('grant execute on function public.lab_twin(text), public.lab_twin(int) to service_role');
    const twin = await post('lab_twin', { p_a: 1 }, asService());
    assert.deepEqual([twin.status, twin.body.code], [300, 'PGRST203']);
    // Defaults may be left out: jobs_list with no keys resolves.
    assert.equal((await post('jobs_list', { p_user_id: alice }, asService())).status, 200);
  });

  test('a unique violation is 409; a STABLE function runs read-only (a write in it is 405)', async () => {
    await db.admin.query('create table public.lab_once (k int primary key)');
    await db.admin.query('create function public.lab_insert_twice() returns int language sql as $$ insert into public.lab_once values (1), (1); select 1 $$');
    await db.admin.query('grant insert on public.lab_once to service_role; grant execute on function public.lab_insert_twice() to service_role');
    const taken = await post('lab_insert_twice', {}, asService());
    assert.deepEqual([taken.status, taken.body.code], [409, '23505']);
    await db.admin.query('create function public.lab_writer() returns int language plpgsql as $$ begin update public.jobs set args = args; return 1; end $$');
    await db.admin.query('create function public.lab_sneaky_write() returns int language sql stable as $$ select public.lab_writer() $$');
    await db.admin.query('grant execute on function public.lab_sneaky_write(), public.lab_writer() to service_role');
    const w = await post('lab_sneaky_write', {}, asService());
    assert.deepEqual([w.status, w.body.code], [405, '25006']);
  });

  test('tables through .from(): RLS applies to a member; the service role sees every row', async () => {
    const client = (key: string, headers = {}) => createClient(layer.url, key, { auth: { persistSession: false }, global: { headers }, realtime: { transport: WebSocket as never } });
    const member = client(layer.anonKey, { authorization: `Bearer ${memberToken(bob)}` });
    await new LabStore(new SupabaseTransport({ url: layer.url, key: layer.serviceKey, serviceUserId: alice }), alice).submitJob({ scriptPath: '/x.py' });
    const mine = await member.from('jobs').select('job_id,user_id').eq('status', 'pending');
    assert.equal(mine.error, null);
    assert.deepEqual(mine.data, [], 'bob sees none of alice\'s jobs');
    const service = client(layer.serviceKey);
    const all = await service.from('users').select('user_id').eq('linux_user', 'alice').maybeSingle();
    assert.deepEqual(all.data, { user_id: alice });
    const none = await service.from('no_such_table').select('*');
    assert.equal(none.error?.code, 'PGRST205');
  });
});
