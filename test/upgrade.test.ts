// The migrations upgrade a database that holds the original agent's schema, keeping every row,
// through `lab-agent db migrate` against LAB_DATABASE_URL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { bootstrapFile } from '../src/services/store/migrate.js';
import { freshDatabase, storeAs, type TestDb } from './helpers/db.js';
import { repoRoot } from './helpers/required.js';

const run = promisify(execFile);
let db: TestDb;
const alice = '11111111-1111-4111-8111-111111111111';
const bob = '22222222-2222-4222-8222-222222222222';

function databaseUrl(): string {
  const c = db.connection;
  return `postgres://${c.user}@localhost/${c.database}?host=${encodeURIComponent(String(c.host))}`;
}

async function cli(...args: string[]) {
  return run(process.execPath, [join(repoRoot, 'dist/index.cjs'), ...args], {
    env: { ...process.env, LAB_DATABASE_URL: databaseUrl(), SUPABASE_URL: '', HOME: '/nonexistent-home' },
  });
}

before(async () => {
  db = await freshDatabase({ migrated: false });
  // What a Supabase project has, then the original schema with rows in every state.
  await db.admin.query(readFileSync(bootstrapFile, 'utf8'));
  await db.admin.query(readFileSync(join(repoRoot, 'test/fixtures/original-schema.sql'), 'utf8'));
  await db.admin.query(`
    insert into auth.users (id) values ('${alice}'), ('${bob}');
    insert into public.users values ('${alice}', 'alice', 'alice@lab.example'), ('${bob}', 'bob', null);
    insert into public.scripts (script_id, user_id, path, type) values
      (1, '${alice}', '/home/alice/train.py', 'py'), (2, '${alice}', '/home/alice/eda.ipynb', 'ipynb'),
      (3, '${alice}', '/home/alice/train.py', 'py'), (4, '${bob}', '/home/bob/x.py', 'py');
    insert into public.jobs (job_id, user_id, script_id, args, status, retcode, finished_at) values
      ('aaaaaaaa-0000-4000-8000-000000000001', '${alice}', 1, '"--epochs 3"', 'done', 0, now()),
      ('aaaaaaaa-0000-4000-8000-000000000002', '${alice}', 2, null, 'error', 1, now()),
      ('aaaaaaaa-0000-4000-8000-000000000003', '${alice}', 3, '["--lr", "0.1"]', 'pending', null, null),
      ('aaaaaaaa-0000-4000-8000-000000000004', '${bob}', 4, '{"n": 2}', 'running', null, null);
    insert into public.jupyter_sessions (session_id, user_id, status, port, token) values
      ('bbbbbbbb-0000-4000-8000-000000000001', '${alice}', 'error', 8801, 't1'),
      ('bbbbbbbb-0000-4000-8000-000000000002', '${bob}', 'running', 8802, 't2');
  `);
});
after(async () => db.drop());

test('db status reports the missing migrations, db migrate applies them, rows kept', async () => {
  await assert.rejects(cli('db', 'status'), (err: { code?: number; stdout?: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stdout ?? '', /missing: 20261129000100/);
    return true;
  });
  const { stdout } = await cli('db', 'migrate', '--json');
  const result = JSON.parse(stdout);
  assert.ok(result.applied.length >= 7);
  assert.equal(result.version, result.applied.at(-1));
  const status = JSON.parse((await cli('db', 'status', '--json')).stdout);
  assert.equal(status.upToDate, true);
  assert.equal(JSON.parse((await cli('db', 'migrate', '--json')).stdout).applied.length, 0, 'a second run changes nothing');

  const jobs = (await db.admin.query('select job_id, status, script_id, script_path, args, notified_at, error from public.jobs order by job_id')).rows;
  // The row the original left running has no process this agent watches: it ends as failed, with why.
  assert.deepEqual(jobs.map((j) => j.status), ['finished', 'failed', 'pending', 'failed']);
  assert.match(jobs[3].error, /^interrupted by the upgrade/);
  const history = (await db.admin.query('select from_status, to_status, detail from public.lifecycle_events where subject_id = $1', [jobs[3].job_id])).rows;
  assert.deepEqual(history.map((e) => [e.from_status, e.to_status, e.detail.via]), [['running', 'failed', 'upgrade']]);
  assert.deepEqual(jobs.map((j) => j.script_path), ['/home/alice/train.py', '/home/alice/eda.ipynb', '/home/alice/train.py', '/home/bob/x.py']);
  assert.deepEqual(jobs.map((j) => j.args), ['--epochs 3', null, '["--lr", "0.1"]', '{"n": 2}'], 'jsonb args became text, strings unquoted');
  assert.ok(jobs[0].notified_at && jobs[1].notified_at, 'rows the original agent finished are not emailed again');
  assert.equal(jobs[2].notified_at, null);
  assert.equal(jobs[2].script_id, '1', 'the duplicate script was merged into the oldest id');
  const scripts = (await db.admin.query('select script_id, path from public.scripts order by script_id')).rows;
  assert.deepEqual(scripts.map((s) => s.script_id), ['1', '2', '4']);
  const sessions = (await db.admin.query('select status, token from public.jupyter_sessions order by session_id')).rows;
  // error → failed; the server the original left running is unknown to this agent: failed, with why.
  assert.deepEqual(sessions, [{ status: 'failed', token: 't1' }, { status: 'failed', token: 't2' }]);
  const policies = (await db.admin.query("select policyname from pg_policies where schemaname = 'public' and policyname not like 'lab\\_%'")).rows;
  assert.deepEqual(policies, [], 'the hand-made policies are replaced');

  // The upgraded database works like a new one: alice's pending job is claimable, bob sees only his.
  const store = storeAs(db, alice);
  const [claimed] = await store.claimJobs({ agentId: 'cccccccc-0000-4000-8000-000000000001', host: 'gpu1', limit: 5 });
  assert.equal(claimed!.job_id, 'aaaaaaaa-0000-4000-8000-000000000003');
  await store.syncScripts({ upserts: [], deletes: ['/home/alice/train.py'] });
  const kept = await store.getJob('aaaaaaaa-0000-4000-8000-000000000001');
  assert.equal(kept.script_id, null);
  assert.equal(kept.script_path, '/home/alice/train.py');
  await store.close();
  const bobStore = storeAs(db, bob);
  assert.deepEqual((await bobStore.listSessions({ limit: 10 })).map((s) => s.token), ['t2']);

  // Members keep their ids; linux_user is a label now: the original's unique key is gone, so a
  // name written by one account (bob squatting "alice") blocks nobody.
  const users = (await db.admin.query('select user_id, linux_user from public.users order by user_id')).rows;
  assert.deepEqual(users, [{ user_id: alice, linux_user: 'alice' }, { user_id: bob, linux_user: 'bob' }]);
  const unique = (await db.admin.query("select indexrelid::regclass::text as i from pg_index where indrelid = 'public.users'::regclass and indisunique and not indisprimary")).rows;
  assert.deepEqual(unique, []);
  await bobStore.ensureUser({ linuxUser: 'alice', email: null, host: 'gpu1' });
  const aliceAgain = storeAs(db, alice);
  const row = await aliceAgain.ensureUser({ linuxUser: 'alice', email: 'alice@lab.example', host: 'gpu1' });
  assert.equal(row.user_id, alice);
  await aliceAgain.close();
  await bobStore.close();
});

test('on a database with the supabase_realtime publication, jobs and sessions join it', async () => {
  const fresh = await freshDatabase({ migrated: false });
  try {
    await fresh.admin.query('create publication supabase_realtime');
    await fresh.admin.query(readFileSync(bootstrapFile, 'utf8'));
    const { migrate } = await import('../src/services/store/migrate.js');
    await migrate(fresh.admin, { bootstrap: false });
    const tables = (await fresh.admin.query("select tablename from pg_publication_tables where pubname = 'supabase_realtime' order by 1")).rows.map((r) => r.tablename);
    assert.deepEqual(tables, ['jobs', 'jupyter_sessions']);
  } finally {
    await fresh.drop();
  }
});

test('a schema newer than the code is refused, with both versions named; nothing is changed', async () => {
  const newer = '29991231000000';
  const { expectedVersion } = await import('../src/services/store/migrate.js');
  await cli('db', 'migrate'); // whatever the test before left
  await db.admin.query('insert into lab_private.schema_migrations (version) values ($1)', [newer]);
  // A project's own migration recorded by `supabase db push` is not ours: it never counts as newer.
  await db.admin.query("insert into supabase_migrations.schema_migrations (version, name) values ('29990101000000', 'project_own_table')");
  try {
    const both = new RegExp(`schema is version ${newer}, newer than this lab-agent .* knows \\(schema version ${expectedVersion()}\\)`);
    for (const args of [['db', 'status'], ['db', 'migrate'], ['ls']]) {
      await assert.rejects(cli(...args), (err: { code?: number; stdout?: string; stderr?: string }) => {
        assert.equal(err.code, 1, args.join(' '));
        assert.match(`${err.stdout}${err.stderr}`, both, args.join(' '));
        return true;
      });
    }
  } finally {
    await db.admin.query('delete from lab_private.schema_migrations where version = $1', [newer]);
  }
  assert.equal(JSON.parse((await cli('db', 'status', '--json')).stdout).upToDate, true, 'the project\'s own migration is not ours');
});
