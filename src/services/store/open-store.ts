// Opens the store for the configured mode and works out which user the agent acts for (identity.ts).
import pg from 'pg';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { sessionFile } from './file-session-storage.js';
import { LabStore } from './lab-store.js';
import { openError } from './db-errors.js';
import { ensureLocalPostgres, localConnection, serverRoot } from './local-postgres.js';
import { resolvePgIdentity, SERVICE_ID_HELP, type Identity } from './identity.js';
import { dbStatus, migrate, refuseNewer } from './migrate.js';
import { agentPool, PgTransport } from './pg-transport.js';
import { StoreError } from './types.js';

/**
 * Opening never migrates a database the agent does not own: any other must have been migrated
 * with `db migrate`. The local database is the agent's own (one per Linux user): its first start
 * creates the schema, and the first start after an update applies the new migrations, saying so
 * (a warning: the CLI shows warnings on stderr, the agent log keeps them). A schema newer than
 * this code is refused in every mode.
 */
async function ensureSchema(admin: pg.ClientBase, config: Config, log: Logger): Promise<boolean> {
  const status = await dbStatus(admin);
  refuseNewer(status);
  if (status.upToDate) return false;
  if (config.mode !== 'local') {
    throw new StoreError(`the database at LAB_DATABASE_URL lacks migrations ${status.missing.join(', ')}: run \`lab-agent db migrate\``);
  }
  const { applied, version } = await migrate(admin);
  if (applied.length === 0) return true; // another process started at the same moment did it
  const what = status.applied.length === 0 ? 'first start: created its schema' : `updated its schema from version ${status.applied.at(-1)}`;
  log.warn({ applied, version }, `local database (${config.dataDir}): ${what} (${applied.length} migration(s), schema version ${version})`);
  return true;
}

/** Connection settings of the database a pg-based mode talks to (local starts it on demand, never migrates). */
export async function pgConnection(config: Config, log: Logger = silentLogger): Promise<pg.PoolConfig> {
  if (config.databaseUrl) return { connectionString: config.databaseUrl };
  if (config.mode === 'local') {
    return ensureLocalPostgres({ dataDir: config.dataDir, log, allowRoot: config.allowRoot }).then(
      (r) => r.connection,
      (err: unknown) => Promise.reject(openError(config, serverRoot(config.dataDir), err)),
    );
  }
  throw new StoreError('Supabase mode has no direct database connection: set LAB_DATABASE_URL to the project\'s session-mode connection string');
}

/**
 * The pool's first connection, for the opening's own work (schema check, identity) as the
 * connection's login role. Locally it is also the "is the server up?" check: an agent whose
 * server is up makes one connection in all (a cron tick, every minute).
 */
async function firstConnection(pool: pg.Pool, config: Config, log: Logger): Promise<pg.PoolClient> {
  if (config.databaseUrl) return pool.connect();
  let first: pg.PoolClient | null = null;
  const probe = () => pool.connect().then((c) => Boolean((first = c)), () => false);
  await ensureLocalPostgres({ dataDir: config.dataDir, log, allowRoot: config.allowRoot, probe });
  return first ?? pool.connect(); // null: the server was started just now
}

/** ensureRow false: the caller's first call keeps the users row itself (agent_poll). */
interface OpenOptions {
  ensureRow?: boolean;
}

async function openPg(config: Config, log: Logger, opts: OpenOptions): Promise<LabStore> {
  const connection = config.databaseUrl ? { connectionString: config.databaseUrl } : localConnection(config.dataDir);
  const pool = agentPool(connection);
  let identity: Identity;
  try {
    const admin = await firstConnection(pool, config, log);
    let migrated = true; // until known otherwise: a connection a migration ran on is not reused
    try {
      migrated = await ensureSchema(admin, config, log);
      identity = await resolvePgIdentity(admin, config);
    } finally {
      admin.release(migrated);
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const kind = config.mode === 'local' ? 'local' : 'postgres';
  // The agent owns the local database: it starts it again when it finds it gone.
  const revive = config.databaseUrl ? undefined : async () => (await ensureLocalPostgres({ dataDir: config.dataDir, log, allowRoot: config.allowRoot })).startedNow;
  const store = new LabStore(new PgTransport({ connection, pool, userId: identity.userId, kind, log, revive }), identity.userId, identity);
  if (opts.ensureRow !== false) await ensureOwnRow(store, config);
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

async function openSupabase(config: Config, log: Logger, opts: OpenOptions): Promise<LabStore> {
  // Loaded only in Supabase mode: supabase-js is the heaviest import, and a cron tick pays for it.
  const { createSupabaseClient, SupabaseTransport } = await import('./supabase-transport.js');
  const { url, serviceKey, anonKey } = config.supabase;
  if (anonKey) {
    // The recommended identity: a member's own signed-in session (RLS applies as on the web).
    const session = { url, key: anonKey, sessionFile: sessionFile(config), log };
    const client = createSupabaseClient(session);
    let { data } = await client.auth.getSession();
    if (!data.session) {
      // Removed by a refused refresh in some process: restored when the refusal was passing.
      const { restoreSession, sessionEndedError } = await import('./session-recovery.js');
      const r = await restoreSession(client, session.sessionFile);
      if (r.restored) ({ data } = await client.auth.getSession());
      else if (r.hadSession || !serviceKey) throw sessionEndedError(session.sessionFile, r);
    }
    if (data.session) {
      const identity: Identity = { userId: data.session.user.id, proof: 'session', detail: `signed in as ${data.session.user.email ?? data.session.user.id} (session in ${sessionFile(config)})`, shared: false };
      const store = new LabStore(new SupabaseTransport(session, client), identity.userId, identity);
      if (opts.ensureRow !== false) await ensureOwnRow(store, config);
      return store;
    }
  }
  // The service key can act as anyone: whom for comes from the member's own .env, never from a
  // users row (any account can write its own row's linux_user).
  if (!config.userId) throw new StoreError(`SUPABASE_SERVICE_KEY mode needs LAB_USER_ID (your Supabase Auth user id) in .env: ${SERVICE_ID_HELP}`);
  const identity: Identity = { userId: config.userId, proof: 'user-id', detail: 'LAB_USER_ID in .env, with the service key', shared: true };
  const probe = createSupabaseClient({ url, key: serviceKey, log });
  const store = new LabStore(new SupabaseTransport({ url, key: serviceKey, serviceUserId: identity.userId, log }, probe), identity.userId, identity);
  if (opts.ensureRow !== false) await ensureOwnRow(store, config);
  return store;
}

export async function openStore(config: Config, log: Logger = silentLogger, opts: OpenOptions = {}): Promise<LabStore> {
  try {
    return await (config.mode === 'supabase' ? openSupabase(config, log, opts) : openPg(config, log, opts));
  } catch (err) {
    throw openError(config, serverRoot(config.dataDir), err); // one line naming the database, when it cannot be reached
  }
}
