// A PostgreSQL set up like a hosted Supabase project, for the Supabase CLI tests: Debian's
// PostgreSQL 15 (the major version hosted projects run; config.toml says so too) with the
// plpgsql_check extension `supabase db lint` needs, a superuser named supabase_admin, TCP on a free
// loopback port, and each database bootstrapped by db/supabase-like-bootstrap.sql. The server
// lives under a temporary folder and stops when the test process ends.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { freePort } from '../smtp.js';
import { repoRoot } from '../required.js';

const pg15Bin = '/usr/lib/postgresql/15/bin';
export const hasHostedLikePostgres = existsSync(join(pg15Bin, 'initdb')) && existsSync('/usr/share/postgresql/15/extension/plpgsql_check.control');
const supabaseBootstrapFile = join(repoRoot, 'db', 'supabase-like-bootstrap.sql');

export interface HostedLikeDb {
  name: string;
  /** The superuser (supabase_admin) connection, for set-up and checks behind the API's back. */
  admin: pg.Client;
  connection: pg.PoolConfig;
  /** postgresql://<role>@127.0.0.1:<port>/<db>?sslmode=disable (trust auth: any password works). */
  url(role?: string): string;
  drop(): Promise<void>;
}

let server: Promise<{ port: number }> | null = null;

/** As root the server runs as the postgres system user (PostgreSQL refuses root). */
function asServerUser(): { uid: number; gid: number } | null {
  if (userInfo().uid !== 0) return null;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'))!;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

async function startServer(): Promise<{ port: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'lab-hosted-pg-'));
  const as = asServerUser();
  if (as) chownSync(dir, as.uid, as.gid);
  const data = join(dir, 'data');
  const opts = { stdio: 'pipe' as const, encoding: 'utf8' as const, ...(as ?? {}) };
  const init = spawnSync(join(pg15Bin, 'initdb'), ['-D', data, '-U', 'supabase_admin', '--auth=trust', '-E', 'UTF8', '--locale=C'], opts);
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  appendFileSync(join(data, 'postgresql.conf'), `\nlisten_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${dir}'\nfsync = off\nwal_level = logical\nmax_connections = 40\n`);
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
  const started = spawnSync(join(pg15Bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', 'start'], opts);
  if (started.status !== 0) throw new Error(`pg_ctl start failed: ${started.stderr}${started.stdout}`);
  process.on('exit', () => {
    spawn(join(pg15Bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'], { stdio: 'ignore', detached: true, ...(as ?? {}) }).unref();
  });
  return { port };
}

/** An empty database bootstrapped like a new hosted project: no project migration applied. */
export async function hostedLikeDatabase(): Promise<HostedLikeDb> {
  const { port } = await (server ??= startServer());
  const name = `h_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const root = new pg.Client({ host: '127.0.0.1', port, user: 'supabase_admin', database: 'postgres' });
  await root.connect();
  await root.query(`create database ${name}`);
  await root.end();
  const connection = { host: '127.0.0.1', port, user: 'supabase_admin', database: name };
  const admin = new pg.Client(connection);
  await admin.connect();
  await admin.query(readFileSync(supabaseBootstrapFile, 'utf8'));
  return {
    name, admin, connection,
    url: (role = 'postgres') => `postgresql://${role}:unused@127.0.0.1:${port}/${name}?sslmode=disable`,
    async drop() {
      await admin.end().catch(() => undefined);
      const c = new pg.Client({ ...connection, database: 'postgres' });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
