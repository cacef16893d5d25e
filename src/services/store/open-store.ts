// Opens the store for the configured mode and works out which user the agent acts for.
import { join } from 'node:path';
import pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { LabStore } from './lab-store.js';
import { ensureLocalPostgres } from './local-postgres.js';
import { dbStatus, isSupabaseDatabase, migrate } from './migrate.js';
import { PgTransport } from './pg-transport.js';
import { StoreError } from './types.js';

export const sessionFile = (config: Config): string => join(config.dataDir, 'supabase-session.json');

/** The local database migrates itself; any other must have been migrated with `db migrate`. */
async function ensureSchema(admin: pg.ClientBase, config: Config, log: Logger): Promise<void> {
  const status = await dbStatus(admin);
  if (status.upToDate) return;
  if (config.mode !== 'local') {
    throw new StoreError(`the database at LAB_DATABASE_URL lacks migrations ${status.missing.join(', ')}: run \`lab-agent db migrate\``);
  }
  log.info({ applied: (await migrate(admin)).applied }, 'local database migrated');
}

/** The embedded database, started on demand and migrated automatically. */
async function localConnection(config: Config, log: Logger): Promise<pg.PoolConfig> {
  const { connection } = await ensureLocalPostgres({ dataDir: config.dataDir, log });
  const admin = new pg.Client(connection);
  await admin.connect();
  try {
    await ensureSchema(admin, config, log);
  } finally {
    await admin.end();
  }
  return connection;
}

/** Connection settings of the database a pg-based mode talks to (local starts it on demand). */
export async function pgConnection(config: Config, log: Logger = silentLogger): Promise<pg.PoolConfig> {
  if (config.databaseUrl) return { connectionString: config.databaseUrl };
  if (config.mode === 'local') return localConnection(config, log);
  throw new StoreError('Supabase mode has no direct database connection: set LAB_DATABASE_URL to the project\'s session-mode connection string');
}

/**
 * The user's id in a pg mode: LAB_USER_ID, or the users row of this Linux user, created (with
 * auth.users where that table exists) on first use, so the id stays the same from then on.
 */
export async function resolvePgUser(client: pg.ClientBase, config: Config): Promise<string> {
  if (config.userId) return config.userId;
  const found = await client.query('select user_id from public.users where linux_user = $1', [config.user]);
  if (found.rows[0]) return found.rows[0].user_id as string;
  const created = await client.query(
    `insert into public.users (user_id, linux_user, email) values (gen_random_uuid(), $1, nullif($2, ''))
     on conflict (linux_user) do update set email = coalesce(public.users.email, excluded.email)
     returning user_id`,
    [config.user, config.email],
  );
  const id = created.rows[0].user_id as string;
  // Only the bootstrap's minimal auth.users; Supabase's own is GoTrue's to write.
  const auth = await client.query("select to_regclass('auth.users') is not null as present");
  if (auth.rows[0].present && !(await isSupabaseDatabase(client))) {
    await client.query('insert into auth.users (id, email) values ($1, nullif($2, \'\')) on conflict do nothing', [id, config.email]);
  }
  return id;
}

async function openPg(config: Config, log: Logger): Promise<LabStore> {
  // One admin connection does the schema check (and, locally, the migration) and finds the user.
  const connection = config.databaseUrl
    ? { connectionString: config.databaseUrl }
    : (await ensureLocalPostgres({ dataDir: config.dataDir, log })).connection;
  const admin = new pg.Client(connection);
  await admin.connect();
  let userId: string;
  try {
    await ensureSchema(admin, config, log);
    userId = await resolvePgUser(admin, config);
  } finally {
    await admin.end();
  }
  return new LabStore(new PgTransport({ connection, userId, kind: config.mode === 'local' ? 'local' : 'postgres', log }), userId);
}

async function openSupabase(config: Config, log: Logger): Promise<LabStore> {
  // Loaded only in Supabase mode: supabase-js is the heaviest import, and a cron tick pays for it.
  const { createSupabaseClient, SupabaseTransport } = await import('./supabase-transport.js');
  const { url, serviceKey, anonKey } = config.supabase;
  if (anonKey) {
    // The recommended identity: a member's own signed-in session (RLS applies as on the web).
    const opts = { url, key: anonKey, sessionFile: sessionFile(config), log };
    const client = createSupabaseClient(opts);
    let { data } = await client.auth.getSession();
    if (!data.session) {
      // Removed by a refused refresh in some process: restored when the refusal was passing.
      const { restoreSession, sessionEndedError } = await import('./session-recovery.js');
      const r = await restoreSession(client, opts.sessionFile);
      if (r.restored) ({ data } = await client.auth.getSession());
      else if (r.hadSession || !serviceKey) throw sessionEndedError(opts.sessionFile, r);
    }
    if (data.session) {
      const store = new LabStore(new SupabaseTransport(opts, client), data.session.user.id);
      await store.ensureUser(config.user, config.email || null);
      return store;
    }
  }
  log.warn('SUPABASE_SERVICE_KEY mode: anyone holding this key can act as any lab member; prefer SUPABASE_ANON_KEY with `lab-agent login`');
  const probe = createSupabaseClient({ url, key: serviceKey, log });
  let userId = config.userId;
  if (!userId) {
    // As the original agent did: find this Linux user's row.
    const { data, error } = await probe.from('users').select('user_id').eq('linux_user', config.user).maybeSingle();
    if (error) throw new StoreError(`looking up linux_user ${config.user} in users failed: ${error.message}`);
    if (!data) throw new StoreError(`no users row with linux_user=${config.user}: set LAB_USER_ID, or use \`lab-agent login\``);
    userId = (data as { user_id: string }).user_id;
  }
  return new LabStore(new SupabaseTransport({ url, key: serviceKey, serviceUserId: userId, log }, probe), userId);
}

export async function openStore(config: Config, log: Logger = silentLogger): Promise<LabStore> {
  return config.mode === 'supabase' ? openSupabase(config, log) : openPg(config, log);
}
