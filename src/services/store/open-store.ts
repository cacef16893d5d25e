// Opens the store for the configured mode and works out which user the agent acts for (identity.ts).
import { join } from 'node:path';
import pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { LabStore } from './lab-store.js';
import { openError } from './db-errors.js';
import { ensureLocalPostgres, serverRoot } from './local-postgres.js';
import { resolvePgIdentity, SERVICE_ID_HELP, type Identity } from './identity.js';
import { dbStatus, migrate } from './migrate.js';
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
  const { connection } = await ensureLocalPostgres({ dataDir: config.dataDir, log, allowRoot: config.allowRoot });
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
  if (config.mode === 'local') return localConnection(config, log).catch((err: unknown) => Promise.reject(openError(config, serverRoot(config.dataDir), err)));
  throw new StoreError('Supabase mode has no direct database connection: set LAB_DATABASE_URL to the project\'s session-mode connection string');
}

async function openPg(config: Config, log: Logger): Promise<LabStore> {
  // One admin connection does the schema check (and, locally, the migration) and finds the user.
  const connection = config.databaseUrl
    ? { connectionString: config.databaseUrl }
    : (await ensureLocalPostgres({ dataDir: config.dataDir, log, allowRoot: config.allowRoot })).connection;
  const admin = new pg.Client(connection);
  await admin.connect();
  let identity: Identity;
  try {
    await ensureSchema(admin, config, log);
    identity = await resolvePgIdentity(admin, config);
  } finally {
    await admin.end();
  }
  const kind = config.mode === 'local' ? 'local' : 'postgres';
  // The agent owns the local database: it starts it again when it finds it gone.
  const revive = config.databaseUrl ? undefined : async () => (await ensureLocalPostgres({ dataDir: config.dataDir, log, allowRoot: config.allowRoot })).startedNow;
  const store = new LabStore(new PgTransport({ connection, userId: identity.userId, kind, log, revive }), identity.userId, identity);
  await ensureOwnRow(store, config);
  return store;
}

/** The member's users row and this host's binding, written as the member (never blocked by another account). */
async function ensureOwnRow(store: LabStore, config: Config): Promise<void> {
  try {
    await store.ensureUser({ linuxUser: config.user, email: config.email || null, host: config.host });
  } catch (err) {
    await store.close();
    throw err;
  }
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
      const identity: Identity = { userId: data.session.user.id, proof: 'session', detail: `signed in as ${data.session.user.email ?? data.session.user.id} (session in ${sessionFile(config)})`, shared: false };
      const store = new LabStore(new SupabaseTransport(opts, client), identity.userId, identity);
      await ensureOwnRow(store, config);
      return store;
    }
  }
  // The service key can act as anyone: whom for comes from the member's own .env, never from a
  // users row (any account can write its own row's linux_user).
  if (!config.userId) throw new StoreError(`SUPABASE_SERVICE_KEY mode needs LAB_USER_ID (your Supabase Auth user id) in .env: ${SERVICE_ID_HELP}`);
  const identity: Identity = { userId: config.userId, proof: 'user-id', detail: 'LAB_USER_ID in .env, with the service key', shared: true };
  const probe = createSupabaseClient({ url, key: serviceKey, log });
  const store = new LabStore(new SupabaseTransport({ url, key: serviceKey, serviceUserId: identity.userId, log }, probe), identity.userId, identity);
  await ensureOwnRow(store, config);
  return store;
}

export async function openStore(config: Config, log: Logger = silentLogger): Promise<LabStore> {
  try {
    return await (config.mode === 'supabase' ? openSupabase(config, log) : openPg(config, log));
  } catch (err) {
    throw openError(config, serverRoot(config.dataDir), err); // one line naming the database, when it cannot be reached
  }
}
