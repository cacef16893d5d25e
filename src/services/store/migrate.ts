// Applies supabase/migrations in order and records each version. Plain PostgreSQL first gets the
// bootstrap of what Supabase provides (roles, auth schema); a Supabase database never does.
import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';
import { AGENT_VERSION, packageRoot } from '../package-info.js';
import { StoreError } from './types.js';

const migrationsDir = `${packageRoot}supabase/migrations`;
export const bootstrapFile = `${packageRoot}db/plain-postgres-bootstrap.sql`;

export interface Migration {
  version: string;
  name: string;
  file: string;
}

export function listMigrations(dir = migrationsDir): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{14}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: f.slice(0, 14), name: f.slice(15, -4), file: `${dir}/${f}` }));
}

export const expectedVersion = (): string => listMigrations().at(-1)?.version ?? '';

// The two history tables: ours, and the Supabase CLI's (`supabase db push`). A member's own login
// role (issue 10) may read ours (granted) but not the CLI's, which the CLI's schema keeps to its owner.
const HISTORY = {
  ours: 'select version, true as ours from lab_private.schema_migrations',
  cli: "select version, coalesce(name, '') like 'lab\\_%' as ours from supabase_migrations.schema_migrations",
};

/** Whether this connection may read a table; in this order, as naming a table in a schema the role may not use is itself refused. */
const readableSql = (param: string) => `case when not exists (select 1 from pg_namespace n
                                   where n.nspname = split_part(${param}, '.', 1) and has_schema_privilege(n.oid, 'usage')) then false
                 when to_regclass(${param}) is null then false
                 else has_table_privilege(${param}, 'select') end`;
const READABLE_HISTORIES = `select ${readableSql('$1::text')} as ours, ${readableSql('$2::text')} as cli`;

/** Versions already applied: ours, and those `supabase db push` recorded (where this role may read them). */
async function appliedVersions(client: pg.ClientBase): Promise<Set<string>> {
  return new Set((await appliedHistory(client)).map((h) => h.version));
}

/**
 * Every applied version with whether it is one of this agent's (ours are all named `lab_…`): a
 * project's own migrations in the Supabase CLI's history never make the schema "newer" than us.
 * Two round trips (which tables this role may read, then those tables), as every tick opens with it.
 */
async function appliedHistory(client: pg.ClientBase): Promise<{ version: string; ours: boolean }[]> {
  const can = (await client.query(READABLE_HISTORIES, ['lab_private.schema_migrations', 'supabase_migrations.schema_migrations'])).rows[0] as { ours: boolean; cli: boolean };
  const reads = [can.ours && HISTORY.ours, can.cli && HISTORY.cli].filter((q): q is string => Boolean(q));
  if (reads.length === 0) return [];
  // one simple-protocol query of constant statements: node-pg answers an array when there are two
  const result: pg.QueryResult | pg.QueryResult[] = await client.query(reads.join(';\n'));
  return (Array.isArray(result) ? result : [result]).flatMap((r) => r.rows as { version: string; ours: boolean }[]);
}

/** Plain PostgreSQL lacks the schemas of Supabase's services; a Supabase database has them (an SQL expression). */
export const IS_SUPABASE_SQL = "exists (select 1 from pg_namespace where nspname = 'supabase_functions' or nspname = 'realtime' or nspname = 'storage')";

const IS_SUPABASE = `select ${IS_SUPABASE_SQL} as s`;

async function isSupabaseDatabase(client: pg.ClientBase): Promise<boolean> {
  return (await client.query(IS_SUPABASE)).rows[0].s as boolean;
}

export interface MigrateResult {
  applied: string[];
  version: string;
  bootstrapped: boolean;
}

/**
 * The Supabase CLI's history table, as `supabase db push` creates and reads it: a version recorded
 * here is one `db push` skips, so `lab-agent db migrate` and `db push` can follow each other.
 */
async function recordForCli(client: pg.ClientBase, m: Migration, sql: string): Promise<void> {
  await client.query('create schema if not exists supabase_migrations');
  await client.query('create table if not exists supabase_migrations.schema_migrations (version text not null primary key, statements text[], name text)');
  await client.query('insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3) on conflict (version) do nothing', [m.version, m.name, [sql]]);
}

/** Idempotent; concurrent callers wait for each other on an advisory lock. Refuses a schema newer than this code. */
export async function migrate(client: pg.ClientBase, opts: { bootstrap?: boolean } = {}): Promise<MigrateResult> {
  await client.query("select pg_advisory_lock(hashtext('lab-job-agent:migrate'))");
  try {
    refuseNewer(await dbStatus(client));
    const bootstrap = opts.bootstrap ?? !(await isSupabaseDatabase(client));
    if (bootstrap) await client.query(readFileSync(bootstrapFile, 'utf8'));
    const done = await appliedVersions(client);
    const applied: string[] = [];
    for (const m of listMigrations()) {
      if (done.has(m.version)) continue;
      await client.query('begin');
      try {
        const sql = readFileSync(m.file, 'utf8');
        await client.query(sql);
        await client.query('insert into lab_private.schema_migrations (version) values ($1) on conflict do nothing', [m.version]);
        await recordForCli(client, m, sql);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw new Error(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`);
      }
      applied.push(m.version);
    }
    return { applied, version: expectedVersion(), bootstrapped: bootstrap };
  } finally {
    await client.query("select pg_advisory_unlock(hashtext('lab-job-agent:migrate'))");
  }
}

export interface DbStatus {
  expected: string;
  applied: string[];
  missing: string[];
  /** Versions of ours this code does not know, newer than its newest: a later agent migrated this database. */
  newer: string[];
  upToDate: boolean;
}

/** Reads the history only: it never changes the database. */
export async function dbStatus(client: pg.ClientBase): Promise<DbStatus> {
  const history = await appliedHistory(client);
  const done = new Set(history.map((h) => h.version));
  const all = listMigrations().map((m) => m.version);
  const expected = expectedVersion();
  const missing = all.filter((v) => !done.has(v));
  const newer = [...new Set(history.filter((h) => h.ours && h.version > expected).map((h) => h.version))].sort();
  return { expected, applied: all.filter((v) => done.has(v)), missing, newer, upToDate: missing.length === 0 && newer.length === 0 };
}

/** The line that names both versions when a newer agent has migrated this database. */
export function newerSchemaMessage(status: DbStatus): string {
  return `the database's schema is version ${status.newer.at(-1)}, newer than this lab-agent ${AGENT_VERSION} knows (schema version ${status.expected}): update lab-agent (run install_agent.sh from the newer checkout) rather than run an older agent against it`;
}

/** As graphile-worker does: an older agent never runs against, or migrates, a schema it does not know. */
export function refuseNewer(status: DbStatus): void {
  if (status.newer.length) throw new StoreError(newerSchemaMessage(status));
}
