// LabStore over real supabase-js and the PostgREST/GoTrue layer, as the agent builds it: signed in
// with a password into a 0600 session file (the member's own session, RLS applies), or with the
// service key naming the member (p_user_id). `storeAs` in db.ts hands these out when
// LAB_TEST_STORE is 'supabase-session' or 'supabase-service', so the store contract tests run
// unchanged through supabase-js.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabStore } from '../../../src/services/store/lab-store.js';
import { createSupabaseClient, SupabaseTransport } from '../../../src/services/store/supabase-transport.js';
import type { Transport, WakeEvent } from '../../../src/services/store/types.js';
import type { TestDb } from '../db.js';
import { startSupabaseLayer, type SupabaseLayer } from './layer.js';

export type SupabaseStoreMode = 'supabase-session' | 'supabase-service';

const layers = new Map<string, Promise<SupabaseLayer>>();
const started: SupabaseLayer[] = [];

/** Every function called through a layer in this process, with the status it answered. */
export const rpcCalls = () =>
  started.flatMap((l) => l.requests.filter((r) => r.kind === 'rpc').map((r) => ({ fn: r.name, status: r.status, role: r.role })));

/** One layer per test database, closed with it. */
function layerFor(db: TestDb): Promise<SupabaseLayer> {
  let l = layers.get(db.name);
  if (!l) {
    l = startSupabaseLayer({ connection: db.connection }).then((layer) => (started.push(layer), layer));
    layers.set(db.name, l);
    const drop = db.drop.bind(db);
    db.drop = async () => {
      await (await l!).close();
      layers.delete(db.name);
      await drop();
    };
  }
  return l;
}

async function supabaseTransport(db: TestDb, userId: string, mode: SupabaseStoreMode): Promise<SupabaseTransport> {
  const layer = await layerFor(db);
  if (mode === 'supabase-service') return new SupabaseTransport({ url: layer.url, key: layer.serviceKey, serviceUserId: userId });
  const email = (await db.admin.query('select email from auth.users where id = $1', [userId])).rows[0]?.email as string;
  const password = `pw-${userId}`;
  layer.gotrue.passwords.set(userId, password);
  const opts = { url: layer.url, key: layer.anonKey, sessionFile: join(mkdtempSync(join(tmpdir(), 'lab-sb-')), 'session.json') };
  const client = createSupabaseClient(opts);
  const { error } = await client.auth.signInWithPassword({ email, password });
  if (error) throw new Error(`signing ${email} in to the layer failed: ${error.message}`);
  return new SupabaseTransport(opts, client);
}

/** A Transport that is ready once its sign-in is: storeAs() stays synchronous for the tests. */
class PendingTransport implements Transport {
  readonly kind = 'supabase' as const;
  constructor(private readonly ready: Promise<Transport>) {
    ready.catch(() => undefined); // reported by the first call
  }
  async rpc<T>(fn: string, args: Record<string, unknown>): Promise<T> {
    return (await this.ready).rpc<T>(fn, args);
  }
  async rpcRows<T>(fn: string, args: Record<string, unknown>): Promise<T[]> {
    return (await this.ready).rpcRows<T>(fn, args);
  }
  async listen(onWake: (e: WakeEvent) => void): Promise<() => Promise<void>> {
    return (await this.ready).listen(onWake);
  }
  async close(): Promise<void> {
    await (await this.ready.catch(() => null))?.close();
  }
}

export function supabaseStoreAs(db: TestDb, userId: string, mode: SupabaseStoreMode): LabStore {
  return new LabStore(new PendingTransport(supabaseTransport(db, userId, mode)), userId);
}
