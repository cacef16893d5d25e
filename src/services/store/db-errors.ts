// A database that cannot be reached is one line for the member: which database (its URL with the
// password masked, or the local database's folder), what failed, and what to check. The error
// object keeps the underlying error for the agent log.
import { dirname } from 'node:path';
import type pg from 'pg';
import { maskDatabaseUrl, type Config } from '../config.js';
import { StoreError } from './types.js';

// The server is not there (refused, no socket, shut down, still starting) or cannot be reached.
const GONE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03']);
const GONE_MESSAGE = /connection terminated|connection ended unexpectedly|timeout expired|fetch failed/i;
// The server is there but refuses this login.
const LOGIN_CODES: Record<string, string> = { '28P01': 'the user name and password', '28000': 'the user name and password', '3D000': 'the database name' };

/** The embedded server would not start: raised by ensureLocalPostgres. */
export const LOCAL_START_FAILED = 'LOCAL_START_FAILED';

const codeOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};
const messageOf = (err: unknown): string => String((err as { message?: unknown } | null)?.message ?? err);

/** The connection failed or broke because the server is gone: worth starting a local one again. */
export function isServerGone(err: unknown): boolean {
  const code = codeOf(err);
  return (code !== undefined && GONE_CODES.has(code)) || GONE_MESSAGE.test(messageOf(err));
}

function isUnreachable(err: unknown): boolean {
  const code = codeOf(err);
  return isServerGone(err) || code === LOCAL_START_FAILED || (code !== undefined && code in LOGIN_CODES);
}

export class DatabaseUnreachableError extends StoreError {
  override name = 'DatabaseUnreachableError';
  constructor(readonly database: string, failure: string, hint: string, readonly detail: unknown) {
    super(`cannot reach ${database}: ${failure}; ${hint}`, codeOf(detail));
  }
}

type Where = { kind: 'local'; root: string } | { kind: 'postgres'; name: string } | { kind: 'supabase'; url: string };

/** How the member knows the database: its masked URL, the local database's folder, or the Supabase project. */
function describe(where: Where): string {
  if (where.kind === 'local') return `the local database at ${where.root}`;
  if (where.kind === 'supabase') return `Supabase at ${where.url}`;
  return `the database at ${where.name}`;
}

function hint(where: Where, err: unknown): string {
  const code = codeOf(err) ?? '';
  if (where.kind === 'local') return `see ${where.root}/postgres.log; \`lab-agent doctor\` checks the rest`;
  if (where.kind === 'supabase') return 'check SUPABASE_URL and this host\'s network';
  if (code in LOGIN_CODES) return `check ${LOGIN_CODES[code]} in LAB_DATABASE_URL`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'check the host name in LAB_DATABASE_URL and this host\'s network';
  return 'check that the server is running and reachable from this host, and LAB_DATABASE_URL';
}

function unreachable(where: Where, err: unknown): DatabaseUnreachableError {
  const first = messageOf(err).split('\n').find((l) => l.trim() !== '')?.trim() ?? 'no answer';
  return new DatabaseUnreachableError(describe(where), first, hint(where, err), err);
}

/** Where a pg connection goes, as the transport sees it (the local server listens on a socket in <root>/run). */
function pgWhere(connection: pg.PoolConfig, kind: 'local' | 'postgres'): Where {
  if (kind === 'local') return { kind: 'local', root: dirname(String(connection.host ?? '')) };
  if (connection.connectionString) return { kind: 'postgres', name: maskDatabaseUrl(connection.connectionString) };
  return { kind: 'postgres', name: `${connection.host ?? 'localhost'}:${connection.port ?? 5432}/${connection.database ?? ''}` };
}

/** As a transport reports a failed call: unreachable, or the error as it is. */
export function pgCallError(connection: pg.PoolConfig, kind: 'local' | 'postgres', err: unknown): unknown {
  return err instanceof DatabaseUnreachableError || !isUnreachable(err) ? err : unreachable(pgWhere(connection, kind), err);
}

/** As opening the store reports it: one line naming the configured database, when it cannot be reached. */
export function openError(config: Config, root: string, err: unknown): unknown {
  if (err instanceof DatabaseUnreachableError || !isUnreachable(err)) return err;
  const where: Where = config.mode === 'supabase' ? { kind: 'supabase', url: config.supabase.url }
    : config.databaseUrl ? { kind: 'postgres', name: maskDatabaseUrl(config.databaseUrl) } : { kind: 'local', root };
  return unreachable(where, err);
}
