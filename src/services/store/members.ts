// Member login roles on a lab's own PostgreSQL (`lab-agent db add-member` / `remove-member`): one
// LOGIN role per member, granted `authenticated`, recorded in lab_private.member_roles so the SQL
// functions take identity from the role a connection logged in with, never from the claims it sets.
// The rules live in SQL (lab_private.member_add / member_remove); this file names the role, makes
// the password and its SCRAM verifier (the password itself never reaches the server), and writes
// the member's connection string.
import { nodeCrypto } from '../node-crypto.js';
import type pg from 'pg';
import { toStoreError } from './pg-transport.js';
import { StoreError } from './types.js';

export interface MemberSpec {
  linuxUser: string;
  host?: string | null;
  email?: string | null;
  /** Keep an existing member's id (rows already in the database stay theirs). */
  userId?: string | null;
}

export interface AddedMember {
  role: string;
  user_id: string;
  /** False when the role existed: its password was replaced. */
  created: boolean;
  password: string;
  connectionString: string;
}

const LINUX_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/i;

/** lab_<linux user>[_<host>]: lower case, [a-z0-9_] only, at most 63 bytes (PostgreSQL's limit). */
function memberRoleName(linuxUser: string, host?: string | null): string {
  if (!LINUX_NAME.test(linuxUser)) throw new StoreError(`"${linuxUser}" is not a Linux user name`);
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return `lab_${clean(linuxUser)}${host ? `_${clean(host)}` : ''}`.slice(0, 63);
}

/** The verifier PostgreSQL stores for SCRAM-SHA-256 (RFC 5802/7677), as `\password` computes it. */
export function scramVerifier(password: string, iterations = 4096, salt = nodeCrypto().randomBytes(16)): string {
  const crypto = nodeCrypto();
  const salted = crypto.pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = crypto.createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = crypto.createHash('sha256').update(clientKey).digest();
  const serverKey = crypto.createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** The admin's connection string with the member's role and password in place of the admin's. */
function memberConnectionString(adminUrl: string, role: string, password: string): string {
  const u = new URL(adminUrl);
  u.username = encodeURIComponent(role);
  u.password = encodeURIComponent(password);
  return u.toString();
}

export async function addMember(admin: pg.ClientBase, adminUrl: string, spec: MemberSpec): Promise<AddedMember> {
  const role = memberRoleName(spec.linuxUser, spec.host);
  // URL-safe and long: the member pastes it once into their 0600 .env.
  const password = nodeCrypto().randomBytes(24).toString('base64url');
  const r = await admin.query('select lab_private.member_add($1, $2, $3, $4, $5, $6) as r', [
    role, scramVerifier(password), spec.linuxUser, spec.host || null, spec.email || null, spec.userId || null,
  ]).catch((err: unknown) => {
    throw toStoreError(err);
  });
  const added = r.rows[0].r as { role: string; user_id: string; created: boolean };
  return { ...added, password, connectionString: memberConnectionString(adminUrl, role, password) };
}

export async function removeMember(admin: pg.ClientBase, linuxUser: string, host?: string | null): Promise<{ role: string; user_id: string; connections_ended: number }> {
  const r = await admin.query('select lab_private.member_remove($1) as r', [memberRoleName(linuxUser, host)]).catch((err: unknown) => {
    throw toStoreError(err);
  });
  return r.rows[0].r;
}
