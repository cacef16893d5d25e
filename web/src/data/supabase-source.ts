// Supabase directly, for the static build: supabase-js rpc() as the signed-in member (row-level
// security decides what they see), email sign-in, Realtime for live changes with a poll behind it
// (Realtime drops events across reconnects and has no replay).
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { ApiError, type DataSource, type Identity } from './source.js';

export interface StaticConfig {
  supabaseUrl: string;
  supabaseAnonKey: string;
  /** Seconds between catch-up polls behind Realtime. */
  pollSeconds?: number;
}

const fail = (error: { message: string; code?: string; status?: number } | null): void => {
  if (error) throw new ApiError(error.message, error.status ?? 400, error.code ?? null);
};

export function supabaseSource(cfg: StaticConfig, client: SupabaseClient = createClient(cfg.supabaseUrl, cfg.supabaseAnonKey, {
  auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false },
})): DataSource {
  const userId = async () => (await client.auth.getSession()).data.session?.user.id ?? null;
  return {
    kind: 'supabase',
    caps: { fullLogs: false, notebook: false, notebookParams: false },
    async rpc<T>(fn: string, args: Record<string, unknown> = {}): Promise<T> {
      const { data, error } = await client.rpc(fn, args);
      fail(error);
      return data as T;
    },
    async identity(): Promise<Identity | null> {
      const { data } = await client.auth.getSession();
      const user = data.session?.user;
      return user ? { userId: user.id, label: user.email ?? user.id, mode: 'supabase' } : null;
    },
    subscribe(on, connected) {
      let stopped = false;
      let channel: ReturnType<SupabaseClient['channel']> | null = null;
      let retry: ReturnType<typeof setTimeout> | null = null;
      const subscribe = async () => {
        const uid = await userId();
        if (stopped || !uid) return;
        const ch = client.channel(`lab-web-${uid}-${Date.now()}`);
        ch.on('postgres_changes', { event: '*', schema: 'public', table: 'jobs', filter: `user_id=eq.${uid}` }, (p) => {
          if (p.new && 'job_id' in p.new) on({ type: 'job', row: p.new as never });
        });
        ch.on('postgres_changes', { event: '*', schema: 'public', table: 'jupyter_sessions', filter: `user_id=eq.${uid}` }, (p) => {
          if (p.new && 'session_id' in p.new) on({ type: 'session', row: p.new as never });
        });
        ch.subscribe((status) => {
          if (status === 'SUBSCRIBED') {
            connected(true);
            on({ type: 'resync' });
          } else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT' || status === 'CLOSED') {
            connected(false);
            if (stopped || channel !== ch) return;
            channel = null;
            void client.removeChannel(ch);
            retry = setTimeout(() => void subscribe(), 3000);
          }
        });
        channel = ch;
      };
      void subscribe();
      const poll = setInterval(() => on({ type: 'resync' }), (cfg.pollSeconds ?? 30) * 1000);
      return () => {
        stopped = true;
        clearInterval(poll);
        if (retry) clearTimeout(retry);
        if (channel) void client.removeChannel(channel);
      };
    },
    auth: {
      async sendCode(email) {
        fail((await client.auth.signInWithOtp({ email, options: { shouldCreateUser: false } })).error);
      },
      async verifyCode(email, code) {
        fail((await client.auth.verifyOtp({ email, token: code, type: 'email' })).error);
      },
      async password(email, password) {
        fail((await client.auth.signInWithPassword({ email, password })).error);
      },
      async signOut() {
        fail((await client.auth.signOut({ scope: 'local' })).error);
      },
    },
  };
}

/** The static page's settings: config.json beside index.html (written by `npm run build:web`). */
export async function supabaseSourceFromConfig(): Promise<DataSource> {
  const res = await fetch('config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error('config.json is missing beside index.html: build with SUPABASE_URL and SUPABASE_ANON_KEY set (see the README)');
  const cfg = (await res.json()) as StaticConfig;
  if (!cfg.supabaseUrl || !cfg.supabaseAnonKey) throw new Error('config.json needs supabaseUrl and supabaseAnonKey');
  return supabaseSource(cfg);
}
