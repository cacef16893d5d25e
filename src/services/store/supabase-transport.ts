// Supabase transport: rpc() over PostgREST, wake-ups from Realtime postgres_changes filtered by the
// user's id. Kept thin on purpose: every rule lives in the SQL functions.
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { FileSessionStorage } from './file-session-storage.js';
import { sessionFileLock } from './session-lock.js';
import { restoreSession, sessionEndedError } from './session-recovery.js';
import { LOGIN_AGAIN, StoreError, type Transport, type WakeEvent } from './types.js';

export interface SupabaseTransportOptions {
  url: string;
  /** The anon (publishable) key with a signed-in session, or the service key. */
  key: string;
  /** Service-key mode: the user every call acts for (passed as p_user_id). */
  serviceUserId?: string | null;
  /** File for the signed-in session (mode 0600); absent in service-key mode. */
  sessionFile?: string;
  log?: Logger;
  /** Delay before resubscribing after a Realtime error. */
  resubscribeMs?: number;
}

export function createSupabaseClient(opts: SupabaseTransportOptions): SupabaseClient {
  const storage = opts.sessionFile ? new FileSessionStorage(opts.sessionFile) : undefined;
  return createClient(opts.url, opts.key, {
    auth: storage
      ? {
          storage, persistSession: true, autoRefreshToken: true, detectSessionInUrl: false,
          // Every auth step under a lock shared by all of this member's processes: one refreshes.
          lock: sessionFileLock(`${opts.sessionFile}.lock`), lockAcquireTimeout: 30_000,
        }
      : { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    // Node 20 has no global WebSocket: Realtime needs the ws package as its transport.
    realtime: { transport: WebSocket as never },
  });
}

const isEnded = (status: string | undefined) => ['finished', 'failed', 'cancelled', 'stopped'].includes(status ?? '');

export class SupabaseTransport implements Transport {
  readonly kind = 'supabase' as const;
  readonly client: SupabaseClient;
  private readonly log: Logger;

  private lastRestore = 0;
  /** Realtime's channel is subscribed: wake-ups arrive. */
  private subscribed = false;
  /** A Realtime channel was opened by this process: its socket may be retrying, so close() ends it. */
  private listened = false;

  constructor(private readonly opts: SupabaseTransportOptions, client?: SupabaseClient) {
    this.client = client ?? createSupabaseClient(opts);
    this.log = opts.log ?? silentLogger;
    if (opts.sessionFile) {
      this.client.auth.onAuthStateChange((event) => {
        if (event === 'SIGNED_OUT') this.log.error(`the Supabase session was removed (its refresh was refused); ${LOGIN_AGAIN} if it does not come back`);
      });
    }
  }

  async rpc<T>(fn: string, args: Record<string, unknown>): Promise<T> {
    const body = this.opts.serviceUserId ? { ...args, p_user_id: this.opts.serviceUserId } : args;
    const { data, error, status } = await this.client.rpc(fn, body);
    if (!error) return data as T;
    // 401: no valid session went with the call. Another process may have lost the shared session.
    if (status === 401 && this.opts.sessionFile && (await this.sessionGone())) return this.rpc<T>(fn, args);
    throw new StoreError(error.message, error.code);
  }

  /** PostgREST answers a set-returning function with a JSON array of its rows' values. */
  async rpcRows<T>(fn: string, args: Record<string, unknown>): Promise<T[]> {
    return (await this.rpc<T[] | null>(fn, args)) ?? [];
  }

  /** After a 401: false when a session is there (or came back from its backup); throws when it ended. */
  private async sessionGone(): Promise<boolean> {
    if ((await this.client.auth.getSession()).data.session) return false;
    if (Date.now() - this.lastRestore < 60_000) throw sessionEndedError(this.opts.sessionFile!, { restored: false, reason: 'its refresh was refused', hadSession: true });
    this.lastRestore = Date.now();
    const r = await restoreSession(this.client, this.opts.sessionFile!);
    if (r.restored) {
      this.log.warn('the Supabase session was restored from its backup after a refused refresh');
      return true;
    }
    const err = sessionEndedError(this.opts.sessionFile!, r);
    this.log.error({ reason: r.reason }, err.message);
    throw err;
  }

  /** Realtime drops events across reconnects and has no replay: resubscribe, then catch up. */
  async listen(onWake: (event: WakeEvent) => void): Promise<() => Promise<void>> {
    this.listened = true;
    // From the session file, not from GoTrue (getUser): wake-ups start even while auth is unreachable.
    const userId = this.opts.serviceUserId ?? (await this.client.auth.getSession()).data.session?.user.id;
    if (!userId) throw new StoreError('not signed in: run `lab-agent login`');
    let stopped = false;
    let channel: ReturnType<SupabaseClient['channel']> | null = null;
    const subscribe = () => {
      if (stopped) return;
      const ch = this.client.channel(`lab-agent-${userId}-${Date.now()}`);
      for (const table of ['jobs', 'jupyter_sessions'] as const) {
        ch.on('postgres_changes', { event: '*', schema: 'public', table, filter: `user_id=eq.${userId}` }, (payload) => {
          const row = (payload.new ?? {}) as Record<string, unknown>;
          const status = typeof row.status === 'string' ? row.status : undefined;
          const asked = Boolean(row.cancel_requested_at ?? row.stop_requested_at);
          onWake({
            subject: table === 'jobs' ? 'job' : 'jupyter',
            id: String(row.job_id ?? row.session_id ?? ''),
            status,
            // Realtime sends no old row by default: a pending request on a live row is the best sign.
            action: payload.eventType === 'INSERT' ? 'created' : asked && !isEnded(status) ? 'request' : 'status',
          });
        });
      }
      ch.subscribe((status) => {
        if (status === 'SUBSCRIBED') {
          this.subscribed = true;
          onWake({ subject: 'resync' });
        } else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT' || status === 'CLOSED') {
          if (stopped || channel !== ch) return;
          this.subscribed = false;
          this.log.warn({ status }, 'Realtime channel lost; resubscribing');
          channel = null;
          void this.client.removeChannel(ch);
          setTimeout(subscribe, this.opts.resubscribeMs ?? 2000).unref();
        }
      });
      channel = ch;
    };
    subscribe();
    return async () => {
      stopped = true;
      this.subscribed = false;
      if (channel) await this.client.removeChannel(channel);
      channel = null;
    };
  }

  wakeUpsLive(): boolean {
    return this.subscribed;
  }

  async close(): Promise<void> {
    // realtime-js's disconnect leaves a 10 s timer that is never cleared, holding a CLI process
    // open for 10 s after its work: only a socket that was used is disconnected.
    const rt = this.client.realtime;
    // A socket that was used may be between reconnect attempts (Realtime refused or down): it is
    // neither connected nor connecting then, but its retry timer would keep the process alive.
    if (!this.listened && rt.getChannels().length === 0 && !rt.isConnected() && !rt.isConnecting()) return;
    await this.client.removeAllChannels();
    this.client.realtime.disconnect();
  }
}
