// Postgres transport: each call runs as PostgREST runs a signed-in user's (role authenticated,
// request.jwt.claims with the user's id, set once per pooled connection), so RLS and auth.uid()
// behave as on Supabase. Over a member's own login role (db add-member) the database ignores those claims and
// takes identity from the role. Wake-ups come from LISTEN on the member's secret channel.
import { Socket } from 'node:net';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { isServerGone, pgCallError } from './db-errors.js';
import { StoreError, type Transport, type WakeEvent } from './types.js';

const IDENT = /^[a-z_][a-z0-9_]*$/;

export interface PgTransportOptions {
  connection: pg.PoolConfig;
  userId: string;
  kind?: 'local' | 'postgres';
  log?: Logger;
  /** Pool size; an agent needs few connections. */
  max?: number;
  /** A pool made beforehand (agentPool) whose first connection did the opening's work. */
  pool?: pg.Pool;
  /**
   * Local mode: starts the embedded server again (true when it did) when a call finds it gone,
   * e.g. its main process was killed. PostgreSQL recovers from its own crash on that start.
   */
  revive?: () => Promise<boolean>;
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

function rpcSql(fn: string, args: Record<string, unknown>): { text: string; values: unknown[] } {
  if (!IDENT.test(fn)) throw new StoreError(`invalid function name ${JSON.stringify(fn)}`);
  const keys = Object.keys(args);
  for (const k of keys) if (!IDENT.test(k)) throw new StoreError(`invalid argument name ${JSON.stringify(k)}`);
  const named = keys.map((k, i) => `${k} => $${i + 1}`).join(', ');
  return { text: `select public.${fn}(${named}) as r`, values: keys.map((k) => wireValue(args[k])) };
}

/** The sockets of each pool agentPool made. */
const poolSockets = new WeakMap<pg.Pool, Set<Socket>>();

/**
 * The pool an agent's calls share: few connections, closed when idle for 10 s. A server that dies
 * (its postmaster killed) makes every open connection emit 'error'; a connection with no listener
 * at that moment (checked out between two statements, or before the transport exists) would end
 * the agent with an unhandled 'error'. So every connection and the pool get one from the start;
 * the call that uses a broken connection still sees the failure and revives the server.
 */
export function agentPool(connection: pg.PoolConfig, max = 4): pg.Pool {
  // The sockets are made here (pg's documented `stream` option, the same net.Socket it would make)
  // so that closing the store can let go of them: see PgTransport.close.
  const sockets = new Set<Socket>();
  const stream = (): Socket => {
    const socket = new Socket();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    return socket;
  };
  const pool = new pg.Pool({ ...connection, max, idleTimeoutMillis: 10_000, stream });
  poolSockets.set(pool, sockets);
  const ignore = () => undefined;
  pool.on('error', ignore);
  pool.on('connect', (client) => client.on('error', ignore));
  return pool;
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
    this.pool = opts.pool ?? agentPool(opts.connection, opts.max);
    // An idle client's error (server restart) must not crash the agent; the next call reconnects.
    this.pool.on('error', (err) => this.log.warn({ err: err.message }, 'database connection lost'));
    this.claims = JSON.stringify({ sub: opts.userId, role: 'authenticated' });
  }

  rpc<T>(fn: string, args: Record<string, unknown>): Promise<T> {
    return this.transaction<T>(fn, args, {});
  }

  rpcRows<T>(fn: string, args: Record<string, unknown>): Promise<T[]> {
    return this.transaction<T[]>(fn, args, { rows: true });
  }

  rpcCommittedAfter<T>(fn: string, args: Record<string, unknown>, action: (result: T) => Promise<void>): Promise<T> {
    return this.transaction<T>(fn, args, { action });
  }

  /**
   * One call as the acting user: a single statement (its own transaction), or with `action`
   * begin, call, action, commit. When the server is gone, a local one is started again; the call
   * is repeated only if nothing of it had reached the server (the connection failed, or its first
   * statement, the session set-up), never once the call itself was sent. `rows`: a set-returning
   * function, whose rows' values come as an array.
   */
  private async transaction<T>(fn: string, args: Record<string, unknown>, opts: { action?: (result: T) => Promise<void>; rows?: boolean }, retried = false): Promise<T> {
    const { text, values } = rpcSql(fn, args);
    const { action } = opts;
    const value = (r: pg.QueryResult): T => (opts.rows ? r.rows.map((row) => row.r) : r.rows[0]?.r) as T;
    let client: pg.PoolClient;
    try {
      client = await this.checkout();
    } catch (err) {
      if (!retried && (await this.revived(err))) return this.transaction(fn, args, opts, true);
      throw this.callError(err);
    }
    let actionFailed = false;
    // A checked-out client has no listener of the pool's: a server that dies between two queries
    // (e.g. during the action) would raise an unhandled 'error' and end the agent.
    let lost: unknown = null;
    const onLost = (err: unknown) => (lost = err);
    client.on('error', onLost);
    let broken = false;
    try {
      if (!action) return value(await client.query(text, values));
      await client.query('begin');
      const result = value(await client.query(text, values));
      await action(result).catch((err: unknown) => {
        actionFailed = true;
        throw err;
      });
      await client.query('commit');
      return result;
    } catch (caught) {
      const err = lost ?? caught; // "not queryable" says less than what broke it
      broken = isServerGone(err);
      if (broken) await this.revived(err);
      else if (action) await client.query('rollback').catch(() => undefined);
      if (actionFailed) throw caught; // the action's own error, as it was thrown
      throw this.callError(err);
    } finally {
      client.off('error', onLost);
      client.release(broken ? true : undefined); // a broken client leaves the pool
    }
  }

  /** A pooled connection, set up to act as the user. */
  private async checkout(): Promise<pg.PoolClient> {
    const client = await this.pool.connect();
    try {
      await this.actAsUser(client);
      return client;
    } catch (err) {
      client.release(true);
      throw err;
    }
  }

  private readonly sessions = new WeakSet<pg.PoolClient>();

  /**
   * Every connection of this pool acts for the one user, as PostgREST does per request: role
   * authenticated, the user's id in request.jwt.claims. Set once per connection (session level,
   * as the pool never serves another user), so that a call is one statement, not four.
   */
  private async actAsUser(client: pg.PoolClient): Promise<void> {
    if (this.sessions.has(client)) return;
    await client.query("select set_config('role', 'authenticated', false), set_config('request.jwt.claims', $1, false)", [this.claims]);
    this.sessions.add(client);
  }

  private callError(err: unknown): StoreError {
    return toStoreError(pgCallError(this.opts.connection, this.kind, err));
  }

  private reviving: Promise<boolean> | null = null;

  /** Starts a gone local server again (once for all the calls that found it gone); false if it cannot. */
  private async revived(err: unknown): Promise<boolean> {
    if (!this.opts.revive || !isServerGone(err)) return false;
    this.reviving ??= this.opts.revive().then(
      (started) => {
        if (started) this.log.warn({ err: (err as Error).message }, 'the local database had stopped; started it again');
        return true;
      },
      (e: Error) => {
        this.log.warn({ err: e.message }, 'the local database has stopped and could not be started again yet');
        return false;
      },
    ).finally(() => (this.reviving = null));
    return this.reviving;
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
    // Each connection's goodbye is on the wire now; the socket stays open until the server's
    // backend has exited (~8 ms here), which must not keep a finished command's process alive.
    for (const socket of poolSockets.get(this.pool) ?? []) socket.unref();
  }
}
