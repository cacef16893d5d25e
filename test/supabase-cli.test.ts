// The Supabase CLI (npm package `supabase`, pinned) against a PostgreSQL set up like a hosted
// project (hosted-db.ts): `db push`, `migration list` and `db lint` pass; `lab-agent db migrate`
// and `db push` can follow each other in either order; every migration can be applied again; and
// doctor, through the layer, tells a migration missing from the CLI's history.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { listMigrations } from '../src/services/store/migrate.js';
import { AgentEnv } from './helpers/agent-env.js';
import { repoRoot, requirePart } from './helpers/required.js';
import { hasHostedLikePostgres, hostedLikeDatabase, type HostedLikeDb } from './helpers/supabase/hosted-db.js';
import { startSupabaseLayer } from './helpers/supabase/layer.js';

const cliBin = join(repoRoot, 'node_modules', '.bin', 'supabase');
const skip = requirePart('the Supabase CLI and PostgreSQL 15 with plpgsql_check', existsSync(cliBin) && hasHostedLikePostgres,
  '`npm ci` installs the CLI (devDependency supabase); `apt-get install postgresql-15 postgresql-15-plpgsql-check`');

const versions = listMigrations().map((m) => m.version);
const dbs: HostedLikeDb[] = [];
after(async () => {
  for (const db of dbs) await db.drop();
});

function supabase(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cliBin, args, { cwd: repoRoot, timeout: 120_000, env: { ...process.env, DO_NOT_TRACK: '1' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

async function fresh(): Promise<HostedLikeDb> {
  const db = await hostedLikeDatabase();
  dbs.push(db);
  return db;
}

const cliHistory = async (db: HostedLikeDb) =>
  (await db.admin.query('select version from supabase_migrations.schema_migrations order by version')).rows.map((r) => r.version as string);

describe('Supabase CLI against a hosted-like database', { skip, timeout: 10 * 60_000 }, () => {
  test('db push applies every migration as the non-superuser postgres; migration list and db lint pass', async () => {
    const db = await fresh();
    assert.equal((await db.admin.query("select rolsuper from pg_roles where rolname = 'postgres'")).rows[0].rolsuper, false);
    const push = await supabase(['db', 'push', '--db-url', db.url(), '--yes']);
    assert.equal(push.code, 0, push.out);
    for (const v of versions) assert.match(push.out, new RegExp(`Applying migration ${v}_`));
    assert.deepEqual(await cliHistory(db), versions);
    const list = await supabase(['migration', 'list', '--db-url', db.url()]);
    assert.equal(list.code, 0, list.out);
    for (const v of versions) assert.match(list.out, new RegExp(`\`${v}\` \\| \`${v}\``), `${v} is local and remote`);
    const lint = await supabase(['db', 'lint', '--db-url', db.url(), '--level', 'warning']);
    assert.equal(lint.code, 0, lint.out);
    assert.match(lint.out, /No schema errors found/);
    // Supabase's default grants on new objects were taken back: the anon role reaches nothing.
    const anon = await db.admin.query("select count(*)::int as n from information_schema.role_table_grants where grantee = 'anon' and table_schema = 'public'");
    assert.equal(anon.rows[0].n, 0);
  });

  test('lab-agent db migrate, then db push: nothing left to push', async () => {
    const db = await fresh();
    const a = new AgentEnv({ connection: db.connection } as never, 'migrator', { LAB_DATABASE_URL: db.url() });
    const m = await a.cli(['db', 'migrate', '--json']);
    assert.equal(m.code, 0, m.stderr);
    assert.deepEqual(JSON.parse(m.stdout).applied, versions);
    assert.deepEqual(await cliHistory(db), versions, 'recorded where the CLI reads it');
    const push = await supabase(['db', 'push', '--db-url', db.url(), '--yes']);
    assert.equal(push.code, 0, push.out);
    assert.match(push.out, /Remote database is up to date/);
    assert.doesNotMatch(push.out, /Applying migration/);
  });

  test('db push, then lab-agent db migrate: nothing left to apply', async () => {
    const db = await fresh();
    assert.equal((await supabase(['db', 'push', '--db-url', db.url(), '--yes'])).code, 0);
    const a = new AgentEnv({ connection: db.connection } as never, 'migrator', { LAB_DATABASE_URL: db.url() });
    const m = await a.cli(['db', 'migrate', '--json']);
    assert.equal(m.code, 0, m.stderr);
    assert.deepEqual(JSON.parse(m.stdout).applied, []);
  });

  test('every migration is safe to apply again: a history lost, db push re-runs them all, rows kept', async () => {
    const db = await fresh();
    assert.equal((await supabase(['db', 'push', '--db-url', db.url(), '--yes'])).code, 0);
    const uid = '11111111-1111-4111-8111-111111111111';
    await db.admin.query("insert into public.users (user_id, linux_user) values ($1, 'keep')", [uid]);
    await db.admin.query("insert into public.jobs (user_id, script_path) values ($1, '/k.py')", [uid]);
    await db.admin.query('delete from supabase_migrations.schema_migrations');
    const again = await supabase(['db', 'push', '--db-url', db.url(), '--yes']);
    assert.equal(again.code, 0, again.out);
    assert.equal((versions.map((v) => new RegExp(`Applying migration ${v}_`).test(again.out))).filter(Boolean).length, versions.length);
    assert.equal((await db.admin.query('select count(*)::int as n from public.jobs')).rows[0].n, 1);
  });

  test('doctor through the layer: up to date after db push, and names a migration missing from the history', async () => {
    const db = await fresh();
    assert.equal((await supabase(['db', 'push', '--db-url', db.url(), '--yes'])).code, 0);
    const layer = await startSupabaseLayer({ connection: db.connection });
    try {
      const email = `doc-${process.pid}@lab.example`;
      await layer.createUser(email, 'pw');
      const a = new AgentEnv({ connection: db.connection } as never, 'doc', { LAB_DATABASE_URL: '', SUPABASE_URL: layer.url, SUPABASE_ANON_KEY: layer.anonKey });
      assert.equal((await a.cli(['login', '--password', '--email', email], {}, 30_000, 'pw\n')).code, 0);
      const check = async () => (JSON.parse((await a.cli(['doctor', '--json'])).stdout) as { checks: { id: string; status: string; detail: string }[] }).checks.find((c) => c.id === 'database')!;
      const ok = await check();
      assert.equal(ok.status, 'ok', ok.detail);
      const skipped = versions[3]!;
      await db.admin.query('delete from supabase_migrations.schema_migrations where version = $1', [skipped]);
      const missing = await check();
      assert.equal(missing.status, 'fail');
      assert.match(missing.detail, new RegExp(`lacks migrations ${skipped}`));
    } finally {
      await layer.close();
    }
  });
});
