// Whom the agent acts for, and its proof. Never a value read from a row another account can write
// (the original agent's lookup of users by linux_user let any account adopt a victim's agent).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { nodeCrypto } from '../node-crypto.js';
import { join } from 'node:path';
import type pg from 'pg';
import type { Config } from '../config.js';
import { withFileLock } from '../file-lock.js';
import { isUuid } from '../names.js';
import { IS_SUPABASE_SQL } from './migrate.js';
import { StoreError } from './types.js';

/**
 * session: a signed-in Supabase session (`lab-agent login`); member-role: the database role the
 * connection logged in with (`db add-member`); user-id: LAB_USER_ID in the member's 0600 .env;
 * data-folder: an id kept in the member's own 0700 data folder.
 */
type Proof = 'session' | 'member-role' | 'user-id' | 'data-folder';

export interface Identity {
  userId: string;
  proof: Proof;
  /** One line for people: how the proof was made. */
  detail: string;
  /** The credential lets its holder act as any member (service key, one shared database URL). */
  shared: boolean;
}

const userIdFile = (config: Config): string => join(config.dataDir, 'user-id');

/**
 * The id kept in the data folder, made on first use. In local mode a database that already holds
 * exactly one member is adopted: that database is reachable by this Linux user alone, so every row
 * in it was written by them. A shared database adopts nothing: its rows are anyone's to write.
 */
async function dataFolderId(config: Config, client: pg.ClientBase): Promise<string> {
  const file = userIdFile(config);
  const read = (): string | null => {
    try {
      const id = readFileSync(file, 'utf8').trim();
      return isUuid(id) ? id : null;
    } catch {
      return null; // first use
    }
  };
  const kept = read();
  if (kept) return kept;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Processes starting together (cron tick, CLI) must settle on one id.
  return withFileLock(`${file}.lock`, 30_000, async () => {
    const won = read();
    if (won) return won;
    let id: string = nodeCrypto().randomUUID();
    if (config.mode === 'local') {
      const rows = (await client.query('select user_id from public.users limit 2')).rows;
      if (rows.length === 1) id = rows[0].user_id as string;
    }
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${id}\n`, { mode: 0o600 });
    renameSync(tmp, file);
    return id;
  });
}

export const SERVICE_ID_HELP =
  'run `lab-agent login`: with the service key it finds your account by your verified email and, once you confirm, writes LAB_USER_ID to .env ' +
  '(or copy your id from Supabase: Authentication > Users). Better still: set SUPABASE_ANON_KEY and sign in with `lab-agent login`';

const CONNECTION_IDENTITY = `select public.db_connection_identity() as r, ${IS_SUPABASE_SQL} as supabase`;

/** Identity on a pg connection (local, a lab's own PostgreSQL, Supabase's direct connection). */
export async function resolvePgIdentity(client: pg.ClientBase, config: Config): Promise<Identity> {
  // with whether it is Supabase's, which the shared case below needs: one round trip for both
  const row = (await client.query(CONNECTION_IDENTITY)).rows[0];
  const conn = row.r as { role: string; member_user_id: string | null };
  if (conn.member_user_id) {
    if (config.userId && config.userId !== conn.member_user_id) {
      throw new StoreError(`LAB_DATABASE_URL logs in as member role ${conn.role}, which acts for user ${conn.member_user_id}, not LAB_USER_ID=${config.userId}: remove LAB_USER_ID from .env (the role is the proof)`);
    }
    return { userId: conn.member_user_id, proof: 'member-role', detail: `database role ${conn.role} (db add-member)`, shared: false };
  }
  // Local: one database per Linux user, reachable by that user alone (a 0700 socket folder).
  const shared = config.mode !== 'local';
  if (config.userId) return { userId: config.userId, proof: 'user-id', detail: `LAB_USER_ID in .env${shared ? `, over role ${conn.role}` : ''}`, shared };
  if (shared && (row.supabase as boolean)) {
    throw new StoreError(`LAB_DATABASE_URL reaches a Supabase database as ${conn.role}, which can act as any member: set LAB_USER_ID to your Supabase Auth user id; ${SERVICE_ID_HELP}`);
  }
  const userId = await dataFolderId(config, client);
  return { userId, proof: 'data-folder', detail: `the id in ${userIdFile(config)}${shared ? `, over role ${conn.role}` : ''}`, shared };
}

/** What a credential that can act as any member means: said once per agent process, and by doctor. */
export function sharedWarning(config: Config): string {
  return config.mode === 'supabase'
    ? 'running with SUPABASE_SERVICE_KEY: anyone holding this key can act as any lab member; prefer SUPABASE_ANON_KEY with `lab-agent login`'
    : 'LAB_DATABASE_URL is shared (its role is no lab member role): anyone holding it can act as any lab member; ask the database administrator for your own role (`lab-agent db add-member`)';
}
