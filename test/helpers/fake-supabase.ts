// Supabase's HTTP stack (GoTrue auth and PostgREST rpc) cannot run here: this local HTTP server
// stands in for the few endpoints the CLI calls, answering as the real ones do (same paths, bodies
// and error shapes), and records every request so tests check what went over the wire.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after } from 'node:test';
import { randomUUID } from 'node:crypto';
import { expectedVersion } from '../../src/services/store/migrate.js';

export interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | null;
}

export interface Reply {
  status: number;
  body?: unknown;
}

export interface FakeSupabase {
  url: string;
  seen: Seen[];
  userId: string;
  email: string;
  /** The code /verify accepts, and the password /token accepts. */
  code: string;
  password: string;
  /** Access tokens handed out, newest last. */
  tokens: string[];
  /** The users row user_ensure last wrote. */
  user: Record<string, unknown> | null;
  /** Auth accounts as the admin API lists them (the member's own, confirmed, to begin with). */
  accounts: { id: string; email: string; email_confirmed_at: string | null }[];
  /** Answers a request before the defaults when it returns something. */
  override: ((s: Seen) => Reply | null) | null;
  requests(prefix: string): Seen[];
  close(): Promise<void>;
}

function jwt(payload: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}.c2lnbmF0dXJl`;
}

// GoTrue's error body without the API-version header: { code, error_code, msg }.
const authError = (status: number, code: string, msg: string): Reply => ({ status, body: { code: status, error_code: code, msg } });

export async function startFakeSupabase(email = 'member@lab.example'): Promise<FakeSupabase> {
  const fake: FakeSupabase = {
    url: '', seen: [], userId: randomUUID(), email, code: '424242', password: 'correct horse', tokens: [], user: null, override: null, accounts: [],
    requests: (prefix) => fake.seen.filter((s) => s.path.startsWith(prefix)),
    close: async () => undefined,
  };
  fake.accounts.push({ id: fake.userId, email, email_confirmed_at: '2026-01-01T00:00:00Z' });
  const account = (a: FakeSupabase['accounts'][number]) => ({ ...a, aud: 'authenticated', role: 'authenticated' });
  const session = (): Reply => {
    const now = Math.floor(Date.now() / 1000);
    const access = jwt({ sub: fake.userId, role: 'authenticated', aud: 'authenticated', email: fake.email, exp: now + 3600, n: fake.tokens.length });
    fake.tokens.push(access);
    return {
      status: 200,
      body: {
        access_token: access, token_type: 'bearer', expires_in: 3600, expires_at: now + 3600, refresh_token: `refresh-${fake.tokens.length}`,
        user: { id: fake.userId, aud: 'authenticated', role: 'authenticated', email: fake.email },
      },
    };
  };
  const defaults = (s: Seen): Reply => {
    const body = s.body ?? {};
    const path = s.path.split('?')[0] ?? '';
    if (path === '/auth/v1/otp') return body.email === fake.email ? { status: 200, body: {} } : authError(422, 'otp_disabled', 'Signups not allowed for otp');
    if (path === '/auth/v1/verify') return body.token === fake.code && body.email === fake.email ? session() : authError(403, 'otp_expired', 'Token has expired or is invalid');
    if (path === '/auth/v1/token' && s.path.includes('grant_type=password')) {
      return body.password === fake.password && body.email === fake.email ? session() : authError(400, 'invalid_credentials', 'Invalid login credentials');
    }
    if (path === '/auth/v1/token' && s.path.includes('grant_type=refresh_token')) return session();
    if (path === '/auth/v1/logout') return { status: 204 };
    if (path === '/auth/v1/user') return { status: 200, body: { id: fake.userId, aud: 'authenticated', role: 'authenticated', email: fake.email } };
    if (path === '/rest/v1/rpc/user_ensure') {
      fake.user = { user_id: fake.userId, linux_user: body.p_linux_user, email: body.p_email };
      return { status: 200, body: fake.user };
    }
    if (path === '/rest/v1/rpc/user_whoami') return { status: 200, body: { user_id: fake.userId, user: fake.user } };
    if (path === '/rest/v1/rpc/user_verified_email') return { status: 200, body: fake.email };
    if (path === '/rest/v1/rpc/jupyter_list') return { status: 200, body: [] };
    if (path === '/auth/v1/admin/users') {
      const page = Number(new URL(s.path, 'http://x').searchParams.get('page') || 1);
      return { status: 200, body: { users: page === 1 ? fake.accounts.map(account) : [], aud: 'authenticated' } };
    }
    if (path.startsWith('/auth/v1/admin/users/')) {
      const found = fake.accounts.find((a) => a.id === path.slice('/auth/v1/admin/users/'.length));
      return found ? { status: 200, body: account(found) } : authError(404, 'user_not_found', 'User not found');
    }
    if (path === '/rest/v1/rpc/lab_schema_version') return { status: 200, body: expectedVersion() };
    if (path === '/rest/v1/users') {
      const row = { user_id: fake.userId };
      return { status: 200, body: String(s.headers.accept).includes('vnd.pgrst.object') ? row : [row] };
    }
    return { status: 404, body: { message: `no such endpoint in the stand-in: ${s.method} ${s.path}` } };
  };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const s: Seen = { method: req.method!, path: req.url!, headers: req.headers, body: raw ? (JSON.parse(raw) as Record<string, unknown>) : null };
      fake.seen.push(s);
      const r = fake.override?.(s) ?? defaults(s);
      res.writeHead(r.status, r.body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(r.body === undefined ? undefined : JSON.stringify(r.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  fake.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  after(() => fake.close());
  return fake;
}
