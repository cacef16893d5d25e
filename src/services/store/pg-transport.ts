// Postgres transport: each call runs in a transaction that does what PostgREST does for a signed-in
// user (role authenticated, request.jwt.claims with the user's id), so RLS and auth.uid() behave as
// on Supabase. Over a member's own login role (db add-member) the database ignores those claims and
// takes identity from the role. Wake-ups come from LISTEN on the member's secret channel.
import pg from 'pg';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { StoreError, type Transport, type WakeEvent } from './types.js';

const IDENT = /^[a-z_][a-z0-9_]*$/;

export interface PgTransportOptions {
  connection: pg.PoolConfig;
  userId: string;
  kind?: 'local' | 'postgres';
  log?: Logger;
  /** Pool size; an agent needs few connections. */
  max?: number;
}

export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as { message?: string; code?: string };
  return new StoreError(e.message ?? String(err), e.code);
}

/** jsonb parameters go over the wire as JSON text; scalars as they are. */
function wireValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) return JSON.stringify(value);
  return value;
}

export function rpcSql(fn: string, args: Record<string, unknown>): { text: string; values: unknown[] } {
  if (!IDENT.test(fn)) throw new StoreError(`invalid function name ${JSON.stringify(fn)}`);
  const keys = Object.keys(args);
  for (const k of keys) if (!IDENT.test(k)) throw new StoreError(`invalid argument name ${JSON.stringify(k)}`);
  const named = keys.map((k, i) => `${k} => $${i + 1}`).join(', ');
  return { text: `select public.${fn}(${named}) as r`, values: keys.map((k) => wireValue(args[k])) };
}

export class PgTransport implements Transport {
  readonly kind: 'local' | 'postgres';
  readonly pool: pg.Pool;
  private readonly claims: string;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly opts: PgTransportOptions) {
    this.kind = opts.kind ?? 'postgres';
    this.log = opts.log ?? silentLogger;
    this.pool = new pg.Pool({ ...opts.connection, max: opts.max ?? 4, idleTimeoutMillis: 10_000 });
    // An idle client's error (server restart) must not crash the agent; the next call reconnects.
    this.pool.on('error', (err) => this.log.warn({ err: err.message }, 'database connection lost'));
    this.claims = JSON.stringify({ sub: opts.userId, role: 'authenticated' });
  }

  async rpc<T>(fn: string, args: Record<string, unknown>): Promise<T> {
    const { text, values } = rpcSql(fn, args);
    const client = await this.pool.connect().catch((err) => {
      throw toStoreError(err);
    });
    try {
      await client.query('begin');
      await client.query(
        "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)",
        [this.claims],
      );
      const result = await client.query(text, values);
      await client.query('commit');
      return result.rows[0]?.r as T;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw toStoreError(err);
    } finally {
      client.release();
    }
  }

  async listen(onWake: (event: WakeEvent) => void): Promise<() => Promise<void>> {
    // Any role may LISTEN on any channel: the member's channel name is a secret the database hands
    // to the member's own calls only, and what is sent on it names no row.
    const channel = await this.rpc<string>('agent_wake_channel', {});
    let client: pg.Client | null = null;
    let stopped = false;
    let retryMs = 250;
    const connect = async (): Promise<void> => {
      if (stopped || this.closed) return;
      const c = new pg.Client(this.opts.connection);
      c.on('notification', (msg) => {
        try {
          onWake(JSON.parse(msg.payload ?? '{}') as WakeEvent);
        } catch {
          onWake({ subject: 'resync' });
        }
      });
      // A dropped connection loses notifications: reconnect, then tell the agent to catch up.
      const reconnect = (why: string) => {
        if (stopped || client !== c) return;
        client = null;
        this.log.warn({ why }, 'wake-up channel lost; reconnecting');
        c.end().catch(() => undefined);
        setTimeout(() => void connect().catch(() => undefined), retryMs).unref();
        retryMs = Math.min(retryMs * 2, 30_000);
      };
      c.on('error', (err) => reconnect(err.message));
      c.on('end', () => reconnect('connection ended'));
      client = c;
      try {
        await c.connect();
        await c.query('listen ' + pg.escapeIdentifier(channel)); // a channel name cannot be a parameter
        retryMs = 250;
        onWake({ subject: 'resync' });
      } catch (err) {
        reconnect((err as Error).message);
      }
    };
    await connect();
    return async () => {
      stopped = true;
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }
}
