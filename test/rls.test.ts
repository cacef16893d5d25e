// The RLS matrix: two members and anon × every table and function × select/insert/update/delete.
// Statements run with the role and claims PostgREST would set; each in a transaction rolled back.
// `forged`: Bob logged in with his own member role (db add-member), claiming to be Alice; `claimed
// service`: a client that sets role authenticated but claims service_role and names Alice.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { freshDatabase, makeUser, storeAs, type TestDb } from './helpers/db.js';
import { scramVerifier } from '../src/services/store/members.js';

let db: TestDb;
let alice: string;
let bob: string;
let bobRole: pg.Client;
const ids: Record<string, string> = {};
const roleSuffix = randomBytes(3).toString('hex');

type Who = 'alice' | 'bob' | 'anon' | 'forged' | 'claimed service';

async function as<T = Record<string, unknown>>(who: Who, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = who === 'forged' ? bobRole : db.admin;
  await c.query('begin');
  try {
    if (who === 'forged') {
      await c.query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)", [JSON.stringify({ sub: alice, role: 'authenticated' })]);
    } else if (who === 'claimed service') {
      await c.query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{\"role\":\"service_role\"}', true)");
    } else if (who === 'anon') {
      await c.query("select set_config('role', 'anon', true), set_config('request.jwt.claims', '{\"role\":\"anon\"}', true)");
    } else {
      const claims = JSON.stringify({ sub: who === 'alice' ? alice : bob, role: 'authenticated' });
      await c.query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)", [claims]);
    }
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.query('rollback');
  }
}

const TABLES = {
  users: 'user_id',
  scripts: 'script_id',
  jobs: 'job_id',
  jupyter_sessions: 'session_id',
  agents: 'agent_id',
  lifecycle_events: 'event_id',
  user_hosts: 'host',
  sweeps: 'sweep_id',
  schedules: 'schedule_id',
  job_deps: 'job_id',
  host_drains: 'drain_id',
} as const;

before(async () => {
  db = await freshDatabase();
  alice = await makeUser(db, 'alice');
  bob = await makeUser(db, 'bob');
  // Bob's own login role, as `lab-agent db add-member bob` makes it (roles belong to the whole server: a unique name).
  const password = randomBytes(12).toString('hex');
  await db.admin.query('select lab_private.member_add($1, $2, $3, null, null, $4)', [`lab_bob_${roleSuffix}`, scramVerifier(password), 'bob', bob]);
  bobRole = new pg.Client({ ...db.connection, user: `lab_bob_${roleSuffix}`, password });
  await bobRole.connect();
  const s = storeAs(db, alice);
  await s.ensureUser({ linuxUser: 'alice', email: 'alice@lab.example', host: 'gpu1' });
  await s.syncScripts({ upserts: [{ path: '/home/alice/a.py', type: 'py', size: 1, mtime: '2026-01-01T00:00:00Z' }], deletes: [] });
  const job = await s.submitJob({ scriptPath: '/home/alice/a.py' });
  const session = await s.requestJupyter();
  await s.claimJupyter({ agentId: randomUUID(), host: 'gpu1', limit: 1 });
  await s.markJupyterRunning({ sessionId: session.session_id, port: 8800, token: 'secret-token-of-alice', pid: 1, pidStart: '1', url: 'u' });
  await s.registerAgent({ agentId: randomUUID(), host: 'gpu1', version: 'v', mode: 'tick', pid: 1 });
  ids.job = job.job_id;
  ids.session = session.session_id;
  // The queue's tables (issue 17): a sweep, a job waiting on another, a schedule, a drain.
  const sweep = await s.transport.rpc<{ sweep: { sweep_id: string } }>('sweep_submit', { p_script_path: '/home/alice/a.py', p_cells: [{ args: '1', params: { n: '1' } }] });
  ids.sweep = sweep.sweep.sweep_id;
  ids.waiting = (await s.transport.rpc<{ job_id: string }>('job_submit', { p_script_path: '/home/alice/a.py', p_after: [job.job_id] })).job_id;
  ids.schedule = (await s.transport.rpc<{ schedule_id: string }>('schedule_add', {
    p_cron: '0 3 * * *', p_script_path: '/home/alice/a.py', p_time_zone: 'UTC', p_next_due_at: new Date(Date.now() + 3600_000).toISOString(),
  })).schedule_id;
  await s.transport.rpc('host_drain', { p_host: 'gpu7' });
  await s.close();
});
after(async () => {
  await bobRole.end();
  await db.drop();
  const server = new pg.Client({ ...db.connection, database: 'postgres' });
  await server.connect();
  await server.query(`drop role if exists ${pg.escapeIdentifier(`lab_bob_${roleSuffix}`)}`);
  await server.end();
});

describe('RLS matrix', () => {
  for (const [table, key] of Object.entries(TABLES)) {
    test(`${table}: alice sees only her rows, bob none of them, anon nothing`, async () => {
      const total = Number((await db.admin.query(`select count(*) from public.${table}`)).rows[0].count);
      assert.ok(total > 0, `${table} has rows to protect`);
      const mine = await as<{ user_id: string }>('alice', `select * from public.${table}`);
      assert.ok(mine.length > 0);
      assert.ok(mine.every((r) => r.user_id === alice));
      for (const other of ['bob', 'forged', 'claimed service'] as const) {
        const theirs = await as<{ user_id: string }>(other, `select * from public.${table} where user_id = $1`, [alice]);
        assert.deepEqual(theirs, [], `${other} reads none of alice's ${table}`);
      }
      await assert.rejects(as('anon', `select * from public.${table}`), /permission denied/);
    });

    test(`${table}: nobody updates or deletes directly; anon inserts nothing`, async () => {
      for (const who of ['alice', 'bob', 'anon', 'forged'] as const) {
        await assert.rejects(as(who, `update public.${table} set user_id = user_id`), /permission denied/, `${who} update ${table}`);
        await assert.rejects(as(who, `delete from public.${table}`), /permission denied/, `${who} delete ${table}`);
      }
      await assert.rejects(as('anon', `insert into public.${table} (${key}) values (default)`), /permission denied/);
    });
  }

  test('inserts: my own jobs and sessions only, never as someone else, never chosen status', async () => {
    const [mine] = await as<{ status: string }>('alice', "insert into public.jobs (script_path) values ('/home/alice/x.py') returning status");
    assert.equal(mine!.status, 'pending');
    await assert.rejects(as('bob', 'insert into public.jobs (user_id, script_path) values ($1, $2)', [alice, '/x.py']), /row-level security/);
    await assert.rejects(as('alice', "insert into public.jobs (script_path, status) values ('/x.py', 'finished')"), /permission denied/);
    await assert.rejects(as('bob', 'insert into public.jupyter_sessions (user_id) values ($1)', [alice]), /row-level security/);
    await assert.rejects(as('alice', 'insert into public.scripts (path, type) values ($1, $2)', ['/x.py', 'py']), /permission denied/);
    await assert.rejects(as('bob', 'insert into public.users (user_id, linux_user) values ($1, $2)', [alice, 'mallory']), /row-level security|duplicate/);
    await assert.rejects(as('forged', 'insert into public.jobs (user_id, script_path) values ($1, $2)', [alice, '/x.py']), /row-level security/);
    // A forged claim does not even choose whose row a plain insert makes: the role does.
    const [own] = await as<{ user_id: string }>('forged', "insert into public.jobs (script_path) values ('/home/bob/x.py') returning user_id");
    assert.equal(own!.user_id, bob);
    await assert.rejects(as('alice', 'insert into public.user_hosts (user_id, host, linux_user) values ($1, $2, $3)', [alice, 'h', 'alice']), /permission denied/);
    await assert.rejects(as('alice', 'insert into public.lifecycle_events (user_id, subject, subject_id, to_status) values ($1, $2, $3, $4)', [alice, 'job', ids.job, 'finished']), /permission denied/);
  });

  test('the Jupyter token is readable by its owner only', async () => {
    const [own] = await as<{ token: string }>('alice', 'select token from public.jupyter_sessions where session_id = $1', [ids.session]);
    assert.equal(own!.token, 'secret-token-of-alice');
    for (const other of ['bob', 'forged'] as const) {
      assert.deepEqual(await as(other, 'select token from public.jupyter_sessions'), []);
      await assert.rejects(as(other, 'select public.jupyter_get($1)', [ids.session]), /no Jupyter session/);
      const list = await as<{ r: unknown[] }>(other, 'select public.jupyter_list(100) as r');
      assert.deepEqual(list[0]!.r, []);
    }
    await assert.rejects(as('claimed service', 'select public.jupyter_get($1, $2)', [ids.session, alice]), /not signed in/);
  });

  // Every function: bob cannot touch alice's rows; anon cannot execute any of them.
  const calls: [string, (id: Record<string, string>) => [string, unknown[]]][] = [
    ['job_get', (i) => ['select public.job_get($1)', [i.job]]],
    ['job_start', (i) => ["select public.job_start($1, $2, 1, '1', 'p', '[]', 'd', 'o', 'e')", [i.job, randomUUID()]]],
    ['job_heartbeat', (i) => ['select public.job_heartbeat($1)', [i.job]]],
    ['job_finish', (i) => ['select public.job_finish($1, 0)', [i.job]]],
    ['job_fail', (i) => ["select public.job_fail($1, 'x')", [i.job]]],
    ['job_request_cancel', (i) => ['select public.job_request_cancel($1)', [i.job]]],
    ['job_mark_cancelled', (i) => ['select public.job_mark_cancelled($1)', [i.job]]],
    ['job_release', (i) => ["select public.job_release($1, 'x')", [i.job]]],
    ['job_mark_notified', (i) => ['select public.job_mark_notified($1)', [i.job]]],
    ['job_mark_not_emailed', (i) => ["select public.job_mark_not_emailed($1, 'x')", [i.job]]],
    ['job_notify_failed', (i) => ["select public.job_notify_failed($1, 'x', null)", [i.job]]],
    ['jupyter_get', (i) => ['select public.jupyter_get($1)', [i.session]]],
    ['jupyter_mark_running', (i) => ["select public.jupyter_mark_running($1, 1, 't', 1, '1', 'u')", [i.session]]],
    ['jupyter_request_stop', (i) => ['select public.jupyter_request_stop($1)', [i.session]]],
    ['jupyter_begin_stop', (i) => ['select public.jupyter_begin_stop($1)', [i.session]]],
    ['jupyter_mark_stopped', (i) => ['select public.jupyter_mark_stopped($1)', [i.session]]],
    ['jupyter_fail', (i) => ["select public.jupyter_fail($1, 'x')", [i.session]]],
    ['jupyter_mark_notified', (i) => ['select public.jupyter_mark_notified($1)', [i.session]]],
  ];
  for (const [fn, make] of calls) {
    test(`${fn}: bob gets "not yours", anon is refused, alice's row unchanged`, async () => {
      const [sql, params] = make(ids);
      const before = await db.admin.query('select * from public.jobs j full join public.jupyter_sessions s on false order by 1');
      await assert.rejects(as('bob', sql, params), /no job|no Jupyter session/);
      await assert.rejects(as('forged', sql, params), /no job|no Jupyter session/);
      await assert.rejects(as('anon', sql, params), /permission denied/);
      const after = await db.admin.query('select * from public.jobs j full join public.jupyter_sessions s on false order by 1');
      assert.deepEqual(after.rows, before.rows);
    });
  }

  // The queue's functions (issue 17): bob cannot read or change alice's sweeps, schedules or drains.
  const queueCalls: [string, (id: Record<string, string>) => [string, unknown[]]][] = [
    ['sweep_get', (i) => ['select public.sweep_get($1)', [i.sweep]]],
    ['sweep_request_cancel', (i) => ['select public.sweep_request_cancel($1)', [i.sweep]]],
    ['sweep_mark_notified', (i) => ['select public.sweep_mark_notified($1)', [i.sweep]]],
    ['sweep_notify_failed', (i) => ["select public.sweep_notify_failed($1, 'x', null)", [i.sweep]]],
    ['schedule_fire', (i) => ["select public.schedule_fire($1, now(), '[]', now() + interval '1 hour')", [i.schedule]]],
    ['schedule_pause', (i) => ['select public.schedule_pause($1)', [i.schedule]]],
    ['schedule_resume', (i) => ["select public.schedule_resume($1, now() + interval '1 hour')", [i.schedule]]],
    ['schedule_remove', (i) => ['select public.schedule_remove($1)', [i.schedule]]],
    ['job_submit --after', (i) => ["select public.job_submit('/x.py', p_after => jsonb_build_array($1::text))", [i.job]]],
    ['sweep_submit --after', (i) => ["select public.sweep_submit('/x.py', '[{\"args\":null}]', p_after => jsonb_build_array($1::text))", [i.sweep]]],
    ['lab_private.sweep_view', (i) => ['select lab_private.sweep_view($1, $2)', [alice, i.sweep]]],
  ];
  const queueState = async () => (await db.admin.query(
    'select (select json_agg(s order by sweep_id) from public.sweeps s) as sweeps, (select json_agg(c order by schedule_id) from public.schedules c) as schedules, (select json_agg(j order by job_id) from public.jobs j) as jobs')).rows[0];
  for (const [fn, make] of queueCalls) {
    test(`${fn}: bob gets "not yours", anon is refused, alice's rows unchanged`, async () => {
      const [sql, params] = make(ids);
      const before = await queueState();
      await assert.rejects(as('bob', sql, params), /no sweep|no schedule|no job or sweep/);
      await assert.rejects(as('forged', sql, params), /no sweep|no schedule|no job or sweep/);
      await assert.rejects(as('anon', sql, params), /permission denied/);
      assert.deepEqual(await queueState(), before);
    });
  }

  test('the queue: bob sees none of alice\'s sweeps, schedules, drains; private helpers do nothing for him', async () => {
    assert.deepEqual((await as<{ r: unknown[] }>('bob', 'select public.sweeps_list() as r'))[0]!.r, []);
    assert.deepEqual((await as<{ r: unknown[] }>('bob', 'select public.schedules_list() as r'))[0]!.r, []);
    assert.deepEqual((await as<{ r: unknown[] }>('bob', 'select public.host_drains_list() as r'))[0]!.r, []);
    assert.equal((await as<{ r: unknown }>('bob', 'select public.sweep_notify_begin($1, $2) as r', [ids.sweep, randomUUID()]))[0]!.r, null);
    const work = await as<{ r: { drained: boolean; schedules_due: unknown[] } }>('bob', "select public.jobs_for_agent('gpu7') as r");
    assert.equal(work[0]!.r.drained, false, 'alice\'s drain of gpu7 is hers');
    for (const sql of [
      "select lab_private.new_job($1, '{\"script_path\": \"/x.py\"}')",
      "select lab_private.host_drain_lab('gpu7', false)",
      "select lab_private.refresh_host_reasons($1, 'gpu7')",
      'select lab_private.wake_member($1)',
    ]) {
      await assert.rejects(as('bob', sql, sql.includes('$1') ? [alice] : []), /permission denied/, sql);
    }
    await assert.rejects(as('bob', 'select public.host_resume($1, $2)', ['gpu7', alice]), /cannot act as/);
    assert.equal((await db.admin.query('select count(*) from public.host_drains where user_id = $1', [alice])).rows[0].count, '1');
  });

  test('bob\'s claims, lists and history never include alice\'s rows', async () => {
    const claimed = await as<{ r: unknown[] }>('bob', 'select public.job_claim($1, $2, 100) as r', [randomUUID(), 'gpu1']);
    assert.deepEqual(claimed[0]!.r, []);
    assert.deepEqual((await as<{ r: unknown[] }>('bob', 'select public.jobs_list(100) as r'))[0]!.r, []);
    assert.deepEqual((await as<{ r: unknown[] }>('bob', 'select public.lifecycle_history($1) as r', [ids.job]))[0]!.r, []);
    assert.deepEqual((await as<{ r: unknown[] }>('bob', 'select public.scripts_list() as r'))[0]!.r, []);
    assert.deepEqual(await as('bob', 'select public.scripts_for_sync_pieces() as r'), [], 'no piece of rows for bob');
    assert.equal((await as<{ r: unknown[] }>('alice', 'select public.scripts_for_sync_pieces() as r')).flatMap((p) => p.r).length, 1, 'alice sees her script');
    const work = await as<{ r: { active: unknown[]; pending: number } }>('bob', 'select public.jobs_for_agent($1) as r', ['gpu1']);
    assert.equal(work[0]!.r.pending, 0);
    // bob's sync cannot delete alice's script, nor can naming alice's id act as her.
    await as('bob', "select public.scripts_sync('[]', '[\"/home/alice/a.py\"]')");
    assert.equal((await db.admin.query('select count(*) from public.scripts where user_id = $1', [alice])).rows[0].count, '1');
    await assert.rejects(as('bob', 'select public.job_submit($1, p_user_id => $2)', ['/x.py', alice]), /cannot act as/);
  });

  test('naming alice (p_user_id) gets bob, forged claims and a claimed service_role nothing', async () => {
    const named: [string, unknown[]][] = [
      ['select public.job_submit($1, p_user_id => $2)', ['/x.py', alice]],
      ['select public.jupyter_request(p_user_id => $1)', [alice]],
      ['select public.user_ensure($1, p_user_id => $2)', ['mallory', alice]],
      ['select public.agent_wake_channel($1)', [alice]],
      ['select public.user_verified_email($1)', [alice]],
      ['select public.jobs_list(100, null, $1)', [alice]],
      ['select public.scripts_for_sync_pieces($1)', [alice]],
    ];
    for (const [sql, params] of named) {
      await assert.rejects(as('bob', sql, params), /cannot act as/, `bob: ${sql}`);
      await assert.rejects(as('forged', sql, params), /cannot act as/, `forged: ${sql}`);
      await assert.rejects(as('claimed service', sql, params), /not signed in/, `claimed service: ${sql}`);
      await assert.rejects(as('anon', sql, params), /permission denied/, `anon: ${sql}`);
    }
    const channels: string[] = [];
    for (const w of ['alice', 'bob', 'forged'] as const) channels.push((await as<{ c: string }>(w, 'select public.agent_wake_channel() as c'))[0]!.c);
    assert.notEqual(channels[0], channels[1]);
    assert.notEqual(channels[2], channels[0], 'forged claims do not get alice\'s channel');
    assert.equal((await as<{ c: string }>('alice', 'select public.agent_wake_channel() as c'))[0]!.c, channels[0], 'hers stays the same');
    assert.equal((await as<{ e: string }>('forged', 'select public.user_verified_email() as e'))[0]!.e, 'bob@lab.example');
    for (const who of ['bob', 'forged', 'anon'] as const) {
      for (const table of ['member_roles', 'wake_channels', 'schema_migrations']) {
        if (table === 'schema_migrations' && who !== 'anon') continue; // version numbers: readable by members
        await assert.rejects(as(who, `select * from lab_private.${table}`), /permission denied/, `${who} reads lab_private.${table}`);
      }
      await assert.rejects(as(who, 'select lab_private.member_add($1, $2, $3)', [`lab_x_${roleSuffix}`, 'SCRAM-SHA-256$x', 'x']), /permission denied/);
      await assert.rejects(as(who, 'select lab_private.member_remove($1)', [`lab_bob_${roleSuffix}`]), /permission denied/);
      await assert.rejects(as(who, 'select lab_private.wake_channel_of($1)', [alice]), /permission denied/);
    }
  });

  test('anon can execute none of the functions', async () => {
    const fns = (await db.admin.query(`
      select p.oid::regprocedure::text as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('public', 'lab_private')`)).rows.map((r) => r.sig as string);
    assert.ok(fns.length >= 30);
    const allowed = await as<{ sig: string }>('anon', `
      select p.oid::regprocedure::text as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('public', 'lab_private') and has_function_privilege(p.oid, 'execute')`);
    assert.deepEqual(allowed, []);
  });
});
