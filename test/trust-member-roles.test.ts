// Postgres mode with one login role per member (`lab-agent db add-member`): the database takes
// identity from the role a connection logged in with. Bob, holding only his own connection string,
// tries everything a client can set (role, request.jwt.claims, a claimed service_role, p_user_id,
// LISTEN on Alice's channel) to read or act on Alice's rows, above all her Jupyter token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { AgentEnv, eventually, sleep } from './helpers/agent-env.js';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { loadConfig } from '../src/services/config.js';
import { openStore } from '../src/services/store/open-store.js';
import type { LabStore } from '../src/services/store/lab-store.js';

let db: TestDb;
let admin: AgentEnv;
// Roles belong to the whole server, which every test file shares: names no other file uses.
const HOST = `th${randomBytes(3).toString('hex')}`;
const roleOf = (who: string) => `lab_${who}_${HOST}`;
const members: Record<string, { role: string; user_id: string; connectionString: string }> = {};
const clients: pg.Client[] = [];
let aliceStore: LabStore;
let sessionId: string;
let jobId: string;
const TOKEN = 'alices-jupyter-token-0123456789abcdef';

async function connectAs(who: 'alice' | 'bob'): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: members[who]!.connectionString });
  c.on('error', () => undefined); // remove-member ends Bob's connections
  await c.connect();
  clients.push(c);
  return c;
}

/** One statement in a transaction that is rolled back, after `setup` (what the attacker sets). */
async function attempt<T = Record<string, unknown>>(c: pg.Client, setup: string[], sql: string, params: unknown[] = []): Promise<T[]> {
  await c.query('begin');
  try {
    for (const s of setup) await c.query(s);
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.query('rollback');
  }
}

const forgeAlice = () => [`set local role authenticated`, `set local request.jwt.claims = '${JSON.stringify({ sub: members.alice!.user_id, role: 'authenticated' })}'`];
const forgeService = () => [`set local role authenticated`, `set local request.jwt.claims = '{"role":"service_role"}'`];

before(async () => {
  db = await freshDatabase();
  admin = new AgentEnv(db, 'dbadmin');
  for (const who of ['alice', 'bob']) {
    const r = await admin.cli(['db', 'add-member', who, '--host', HOST, '--email', `${who}@lab.example`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    members[who] = JSON.parse(r.stdout);
  }
  // Alice's agent: her connection string only, no LAB_USER_ID; a Jupyter server reported running.
  const env = { ...process.env, HOME: admin.home, LAB_USER: 'alice', LAB_HOST: HOST, LAB_DATABASE_URL: members.alice!.connectionString, SUPABASE_URL: '', LAB_USER_ID: '' };
  aliceStore = await openStore(loadConfig({ env, noDotenv: true }));
  jobId = (await aliceStore.submitJob({ scriptPath: '/home/alice/train.py' })).job_id;
  sessionId = (await aliceStore.requestJupyter()).session_id;
  await aliceStore.claimJupyter({ agentId: randomUUID(), host: HOST, limit: 1 });
  await aliceStore.markJupyterRunning({ sessionId, port: 8801, token: TOKEN, pid: 1, pidStart: '1', url: `http://127.0.0.1:8801/lab?token=${TOKEN}` });
});
after(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await aliceStore?.close();
  await db.drop();
  const server = new pg.Client({ ...db.connection, database: 'postgres' });
  await server.connect();
  for (const who of ['alice', 'bob', 'carol']) await server.query(`drop role if exists ${pg.escapeIdentifier(roleOf(who))}`);
  await server.end();
});

describe('db add-member', () => {
  test('a login role per member, granted authenticated, mapped to the member; the connection string works', async () => {
    const { rows } = await db.admin.query(
      "select r.rolname, r.rolcanlogin, pg_has_role(r.oid, 'authenticated', 'member') as auth, pg_has_role(r.oid, 'service_role', 'member') as svc from pg_roles r where r.rolname like $1 order by 1", [`lab\\_%\\_${HOST}`]);
    assert.deepEqual(rows, [
      { rolname: roleOf('alice'), rolcanlogin: true, auth: true, svc: false },
      { rolname: roleOf('bob'), rolcanlogin: true, auth: true, svc: false },
    ]);
    assert.ok(members.alice!.connectionString.startsWith(`postgres://${roleOf('alice')}:`));
    assert.match(new URL(members.alice!.connectionString).password, /^[A-Za-z0-9_-]{32}$/);
    // The password is stored as a SCRAM verifier the client made, never as given.
    const shadow = (await db.admin.query('select rolpassword from pg_authid where rolname = $1', [roleOf('alice')])).rows[0].rolpassword as string;
    assert.match(shadow, /^SCRAM-SHA-256\$4096:/);
    assert.ok(!shadow.includes(new URL(members.alice!.connectionString).password));
    assert.equal(aliceStore.identity?.proof, 'member-role');
    assert.equal(aliceStore.userId, members.alice!.user_id);
    const host = (await db.admin.query('select linux_user from public.user_hosts where user_id = $1 and host = $2', [members.alice!.user_id, HOST])).rows;
    assert.deepEqual(host, [{ linux_user: 'alice' }]);
    assert.equal(await aliceStore.verifiedEmail(), 'alice@lab.example', 'the email the administrator vouched for');
  });

  test('running it again gives a new password and keeps the member\'s id; a role that is not ours is refused', async () => {
    const again = await admin.cli(['db', 'add-member', 'alice', '--host', HOST, '--json']);
    assert.equal(again.code, 0, again.stderr);
    const out = JSON.parse(again.stdout);
    assert.equal(out.user_id, members.alice!.user_id);
    assert.equal(out.created, false);
    await db.admin.query(`create role ${pg.escapeIdentifier(roleOf('carol'))} login`);
    const hijack = await admin.cli(['db', 'add-member', 'carol', '--host', HOST]);
    assert.equal(hijack.code, 1);
    assert.match(hijack.stderr, /exists and is not a lab member role/);
    const noUrl = await admin.cli(['db', 'add-member', 'dave'], { LAB_DATABASE_URL: '' });
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /for a lab's own PostgreSQL: set LAB_DATABASE_URL/);
  });
});

describe('Bob, with his own role, forging everything a client can set', () => {
  test('claims naming Alice: no row, no token, no function of hers', async () => {
    const bob = await connectAs('bob');
    for (const setup of [forgeAlice(), forgeService(), []]) {
      assert.deepEqual(await attempt(bob, setup, 'select token from public.jupyter_sessions'), [], `sessions with ${setup.join('; ')}`);
      assert.deepEqual(await attempt(bob, setup, 'select job_id from public.jobs'), []);
      assert.deepEqual(await attempt(bob, setup, 'select * from public.users where user_id = $1', [members.alice!.user_id]), []);
      assert.deepEqual((await attempt<{ r: unknown[] }>(bob, setup, 'select public.jupyter_list(100) as r'))[0]!.r, []);
      await assert.rejects(attempt(bob, setup, 'select public.jupyter_get($1)', [sessionId]), /no Jupyter session/);
      await assert.rejects(attempt(bob, setup, 'select public.job_get($1)', [jobId]), /no job/);
    }
  });

  test('a claimed service_role and p_user_id: refused, nothing is asked in Alice\'s name', async () => {
    const bob = await connectAs('bob');
    const count = async () => Number((await db.admin.query('select count(*) from public.jupyter_sessions where user_id = $1', [members.alice!.user_id])).rows[0].count);
    const before = await count();
    for (const setup of [forgeService(), forgeAlice(), []]) {
      await assert.rejects(attempt(bob, setup, 'select public.jupyter_request(p_user_id => $1)', [members.alice!.user_id]), /cannot act as/);
      await assert.rejects(attempt(bob, setup, 'select public.job_submit($1, p_user_id => $2)', ['/x.py', members.alice!.user_id]), /cannot act as/);
      await assert.rejects(attempt(bob, setup, 'select public.jupyter_get($1, $2)', [sessionId, members.alice!.user_id]), /cannot act as/);
    }
    // Claims naming Alice make a request that is Bob's own.
    const [mine] = await attempt<{ r: { user_id: string } }>(bob, forgeAlice(), 'select public.jupyter_request() as r');
    assert.equal(mine!.r.user_id, members.bob!.user_id);
    assert.equal(await count(), before);
    await assert.rejects(attempt(bob, forgeAlice(), 'insert into public.jobs (user_id, script_path) values ($1, $2)', [members.alice!.user_id, '/x.py']), /row-level security/);
  });

  test('the real service_role, the mapping and the admin functions are out of reach', async () => {
    const bob = await connectAs('bob');
    await assert.rejects(attempt(bob, [], 'set local role service_role'), /permission denied/);
    await assert.rejects(attempt(bob, [], `set local role ${roleOf('alice')}`), /permission denied/);
    await assert.rejects(attempt(bob, [], `set session authorization ${roleOf('alice')}`), /permission denied/);
    await assert.rejects(attempt(bob, [], 'select * from lab_private.member_roles'), /permission denied/);
    await assert.rejects(attempt(bob, [], 'select * from lab_private.wake_channels'), /permission denied/);
    await assert.rejects(attempt(bob, [], 'select lab_private.wake_channel_of($1)', [members.alice!.user_id]), /permission denied/);
    await assert.rejects(attempt(bob, [], "select lab_private.member_add('lab_bob2', 'SCRAM-SHA-256$x', 'bob')"), /permission denied/);
    await assert.rejects(attempt(bob, [], 'select lab_private.member_remove($1)', [roleOf('alice')]), /permission denied/);
    await assert.rejects(attempt(bob, forgeAlice(), 'select public.agent_wake_channel($1)', [members.alice!.user_id]), /cannot act as/);
  });
});

describe('wake-ups', () => {
  test('Bob listening on Alice\'s old channel, or on his own, hears nothing of hers; hers names no row', async () => {
    const bob = await connectAs('bob');
    const heard: string[] = [];
    bob.on('notification', (m) => heard.push(`${m.channel} ${m.payload}`));
    const bobChannel = (await bob.query('select public.agent_wake_channel() as c')).rows[0].c as string;
    const aliceChannel = await aliceStore.wakeChannel();
    assert.match(aliceChannel, /^lab_agent_[0-9a-f]{32}$/);
    assert.notEqual(bobChannel, aliceChannel);
    for (const ch of [`lab_agent:${members.alice!.user_id}`, bobChannel, 'lab_agent', `lab_agent_${members.alice!.user_id.replace(/-/g, '')}`]) {
      await bob.query(`listen ${pg.escapeIdentifier(ch)}`);
    }
    const woken: unknown[] = [];
    const stop = await aliceStore.listen((e) => woken.push(e));
    try {
      await aliceStore.submitJob({ scriptPath: '/home/alice/secret-project.py' });
      await aliceStore.requestJupyter();
      await eventually('Alice\'s agent to be woken', async () => woken.filter((e) => (e as { subject: string }).subject !== 'resync').length >= 2, 10_000, 50);
      await sleep(300);
      assert.deepEqual(heard, [], 'Bob heard nothing');
      for (const e of woken) assert.deepEqual(Object.keys(e as object).sort().filter((k) => k === 'id' || k === 'status'), [], 'no id or status on the wire');
    } finally {
      await stop();
    }
  });
});

describe('the member\'s agent', () => {
  test('acts for the role\'s member; LAB_USER_ID naming someone else is refused; remove-member ends the role', async () => {
    const a = new AgentEnv(db, 'alice', { LAB_DATABASE_URL: members.alice!.connectionString, LAB_HOST: HOST });
    const script = a.write('hello.py', 'print("hi")\n');
    const submitted = await a.cli(['submit', script]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const tick = await a.cli(['tick']);
    assert.equal(tick.code, 0, tick.stderr);
    const job = (await db.admin.query('select user_id from public.jobs where job_id = $1', [submitted.stdout.trim()])).rows[0];
    assert.equal(job.user_id, members.alice!.user_id);
    const wrong = await a.cli(['ls'], { LAB_USER_ID: members.bob!.user_id });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, new RegExp(`logs in as member role ${roleOf('alice')}.*not LAB_USER_ID`));

    const bob = await connectAs('bob');
    const removed = await admin.cli(['db', 'remove-member', 'bob', '--host', HOST, '--json']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.ok(JSON.parse(removed.stdout).connections_ended >= 1);
    await assert.rejects(bob.query('select 1'));
    const gone = new pg.Client({ connectionString: members.bob!.connectionString });
    await assert.rejects(gone.connect(), new RegExp(`role "${roleOf('bob')}" does not exist`));
    assert.equal(Number((await db.admin.query('select count(*) from public.users where user_id = $1', [members.bob!.user_id])).rows[0].count), 1, 'his rows stay');
  });
});
