// A real PostgreSQL for the tests: the embedded server (the agent's own local mode) under a test
// folder, a template database migrated once per schema version, and a fresh clone per test file.
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ensureLocalPostgres } from '../../src/services/store/local-postgres.js';
import { bootstrapFile, listMigrations, migrate } from '../../src/services/store/migrate.js';
import { PgTransport } from '../../src/services/store/pg-transport.js';
import { LabStore } from '../../src/services/store/lab-store.js';
import { supabaseStoreAs } from './supabase/store.js';

const testPgDir = process.env.LAB_TEST_PG_DIR ?? join(tmpdir(), 'lab-job-agent-test-pg');

function schemaHash(): string {
  const h = createHash('sha256').update(readFileSync(bootstrapFile));
  for (const m of listMigrations()) h.update(m.version).update(readFileSync(m.file));
  return h.digest('hex').slice(0, 10);
}

export async function testServer(): Promise<pg.PoolConfig> {
  return (await ensureLocalPostgres({ dataDir: testPgDir, fast: true, database: 'postgres', allowRoot: true })).connection;
}

async function ensureTemplate(server: pg.PoolConfig): Promise<string> {
  const name = `lab_tpl_${schemaHash()}`;
  const admin = new pg.Client({ ...server, database: 'postgres' });
  await admin.connect();
  try {
    await admin.query("select pg_advisory_lock(hashtext('lab-test-template'))");
    const exists = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount === 0) {
      const building = `${name}_build`;
      await admin.query(`drop database if exists ${building}`);
      await admin.query(`create database ${building}`);
      const c = new pg.Client({ ...server, database: building });
      await c.connect();
      try {
        await migrate(c, { bootstrap: true });
      } finally {
        await c.end();
      }
      await admin.query(`alter database ${building} rename to ${name}`);
    }
    await admin.query("select pg_advisory_unlock(hashtext('lab-test-template'))");
  } finally {
    await admin.end();
  }
  return name;
}

export interface TestDb {
  connection: pg.PoolConfig;
  /** A superuser client on the test database, for set-up and checks behind the API's back. */
  admin: pg.Client;
  name: string;
  drop(): Promise<void>;
}

/** A fresh database cloned from the migrated template. */
export async function freshDatabase(opts: { migrated?: boolean } = {}): Promise<TestDb> {
  const server = await testServer();
  const name = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const root = new pg.Client({ ...server, database: 'postgres' });
  await root.connect();
  if (opts.migrated === false) await root.query(`create database ${name}`);
  else await root.query(`create database ${name} template ${await ensureTemplate(server)}`);
  await root.end();
  const connection = { ...server, database: name };
  const admin = new pg.Client(connection);
  await admin.connect();
  return {
    connection,
    admin,
    name,
    async drop() {
      await admin.end().catch(() => undefined);
      const c = new pg.Client({ ...server, database: 'postgres' });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** A lab member: an auth.users row and a users row, as Supabase sign-up plus the agent would make. */
export async function makeUser(db: TestDb, linuxUser: string): Promise<string> {
  const id = randomUUID();
  await db.admin.query('insert into auth.users (id, email) values ($1, $2)', [id, `${linuxUser}@lab.example`]);
  await db.admin.query('insert into public.users (user_id, linux_user, email) values ($1, $2, $3)', [id, linuxUser, `${linuxUser}@lab.example`]);
  return id;
}

/**
 * The store as the agent uses it: Postgres transport acting as the signed-in user, or, when
 * LAB_TEST_STORE says so, real supabase-js over the PostgREST/GoTrue layer (supabase/store.ts).
 */
export function storeAs(db: TestDb, userId: string, max = 4): LabStore {
  const mode = process.env.LAB_TEST_STORE;
  if (mode === 'supabase-session' || mode === 'supabase-service') return supabaseStoreAs(db, userId, mode);
  return new LabStore(new PgTransport({ connection: db.connection, userId, max }), userId);
}

/** Jupyter servers a failed test left running (their process groups), before the database goes. */
export async function killLeftoverJupyter(db: TestDb): Promise<void> {
  const { rows } = await db.admin.query("select pid from public.jupyter_sessions where pid is not null and status in ('starting', 'running', 'stopping')");
  for (const r of rows) {
    try {
      process.kill(-r.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
