// A Supabase project's HTTP stack as far as it can run here: PostgREST's and GoTrue's rules over
// the real, migrated database, behind one node:http server on a free loopback port. Realtime
// cannot run here (its websocket is refused, as by a project whose Realtime is down).
//
// Gateway rules (Kong in front of a hosted project): every /rest/v1 and /auth/v1 request needs an
// `apikey` header (or ?apikey=) holding the anon or the service key, else 401 "No API key found
// in request" / "Invalid API key"; GET /auth/v1/verify (the emailed link) is open.
// PostgREST: the Authorization bearer JWT (HS256 with the project's secret) picks the role; none
// means anon; a bad one 401 PGRST301, an expired one 401 PGRST303 (see postgrest.ts for the rest).
// CORS for a page on another origin: the gateway answers preflights and marks every answer as
// Supabase's does (gateway-cors.ts).
//
// Reuse (e.g. a dashboard's Supabase data source):
//   const layer = await startSupabaseLayer({ connection });   // a migrated database (db.ts)
//   createClient(layer.url, layer.anonKey) ... ; await layer.close();
// `layer.requests` lists every request (path, status, role); with `recordSent: true` each also
// keeps the headers and JSON body it came with, for tests that check what a client sent.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';
import { corsHeaders, isPreflight, preflightHeaders, type AnsweredBy } from './gateway-cors.js';
import { DEFAULT_MAGIC_LINK, projectMagicLinkTemplate, type MailTemplate, type SentMail } from './gotrue-mail.js';
import { DEFAULT_RATE_LIMITS, Gotrue, type RateLimits, type Reply } from './gotrue.js';
import { projectKeys, verifyJwt } from './jwt.js';
import { pgrstError } from './postgrest-errors.js';
import { PostgrestApi, type RestAuth } from './postgrest.js';

export interface LayerOptions {
  /** A superuser (or supabase_admin-like) connection to the migrated database. */
  connection: pg.PoolConfig;
  jwtSecret?: string;
  /** GoTrue's jwt_expiry (s): access tokens live this long. */
  jwtExpiryS?: number;
  /** GoTrue's refresh_token_reuse_interval (s). */
  reuseIntervalS?: number;
  /** 'project': supabase/config.toml's template (with the code); 'default': a new hosted project's (link only). */
  template?: 'project' | 'default' | MailTemplate;
  rateLimits?: Partial<RateLimits>;
  emailMaxFrequencyS?: number;
  siteUrl?: string;
  /** Keep each request's headers and JSON body on its LayerRequest (`sent`); off, only the summary is kept. */
  recordSent?: boolean;
}

export interface LayerRequest {
  at: number;
  method: string;
  path: string;
  status: number;
  /** 'rpc' | 'table' | 'auth', or 'preflight' (a browser's CORS OPTIONS, answered by the gateway) */
  kind: string;
  /** The function (rpc), table, or auth endpoint. */
  name: string;
  role: string | null;
  /** Only with `recordSent`: what the client sent (the body parsed as JSON when it is JSON). */
  sent?: { headers: IncomingHttpHeaders; body: unknown };
}

export interface SupabaseLayer {
  url: string;
  anonKey: string;
  serviceKey: string;
  jwtSecret: string;
  requests: LayerRequest[];
  mail: SentMail[];
  gotrue: Gotrue;
  /** While true, requests to these parts get their connection reset (unreachable). */
  down: { auth: boolean; rest: boolean };
  /** A member with a password, as the dashboard's invitation and first sign-in would make one. */
  createUser(email: string, password?: string, opts?: { confirmed?: boolean }): Promise<{ id: string; email: string }>;
  close(): Promise<void>;
}

/** The login role PostgREST connects as: it may only switch to the API roles. */
async function ensureAuthenticator(admin: pg.Pool): Promise<void> {
  try {
    await admin.query(`do $$ begin
      if not exists (select 1 from pg_roles where rolname = 'authenticator') then
        create role authenticator login noinherit;
      end if; end $$`);
  } catch (e) {
    if ((e as { code?: string }).code !== '23505' && (e as { code?: string }).code !== '42710') throw e; // created meanwhile
  }
  await admin.query('grant anon, authenticated, service_role to authenticator');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (raw += d));
    req.on('end', () => resolve(raw));
    req.on('error', reject);
  });
}

/** What a path is: an auth endpoint, an rpc, or a table, and its name. */
function classify(path: string): { isAuth: boolean; kind: string; name: string } {
  const isAuth = path.startsWith('/auth/v1/');
  const kind = isAuth ? 'auth' : path.startsWith('/rest/v1/rpc/') ? 'rpc' : 'table';
  return { isAuth, kind, name: isAuth ? path.slice('/auth/v1/'.length) : path.replace(/^\/rest\/v1\/(rpc\/)?/, '') };
}

function parsedOrRaw(raw: string): unknown {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function send(res: ServerResponse, r: Reply, cors: Record<string, string>): void {
  const headers: Record<string, string> = { 'x-supabase-api-version': '2024-01-01', ...(r.headers ?? {}), ...cors };
  if (r.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
  res.writeHead(r.status, headers);
  res.end(r.body === undefined ? undefined : JSON.stringify(r.body));
}

export async function startSupabaseLayer(opts: LayerOptions): Promise<SupabaseLayer> {
  const jwtSecret = opts.jwtSecret ?? randomBytes(32).toString('hex');
  const { anonKey, serviceKey } = projectKeys(jwtSecret);
  const admin = new pg.Pool({ ...opts.connection, max: 2 });
  await ensureAuthenticator(admin);
  const api = new pg.Pool({ ...opts.connection, user: 'authenticator', max: 6 });
  const rest = new PostgrestApi(api);
  const template = opts.template === 'default' ? DEFAULT_MAGIC_LINK : opts.template && opts.template !== 'project' ? opts.template : projectMagicLinkTemplate();
  const gotrue = new Gotrue({
    admin, jwtSecret, jwtExpiryS: opts.jwtExpiryS ?? 3600, reuseIntervalS: opts.reuseIntervalS ?? 10, template,
    siteUrl: opts.siteUrl ?? 'http://127.0.0.1:3000', rateLimits: { ...DEFAULT_RATE_LIMITS, ...opts.rateLimits },
    emailMaxFrequencyS: opts.emailMaxFrequencyS ?? 60,
  });
  const requests: LayerRequest[] = [];
  const down = { auth: false, rest: false };

  const route = async (req: IncomingMessage, u: URL, raw: string): Promise<Reply & { role: string | null; by: AnsweredBy }> => {
    const path = u.pathname;
    const { isAuth, kind, name } = classify(path);
    const out = (r: Reply, role: string | null = null, by: AnsweredBy = isAuth ? 'auth' : 'rest') => ({ ...r, role, by });
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return out(pgrstError(400, 'PGRST102', 'Empty or invalid json'));
    }
    if (isAuth && req.method === 'GET' && name === 'verify') return out(await gotrue.verifyLink(u.searchParams));
    // The gateway's key check.
    const apikey = (req.headers.apikey as string | undefined) ?? u.searchParams.get('apikey');
    if (!apikey) return out({ status: 401, body: { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' } }, null, 'gateway');
    if (apikey !== anonKey && apikey !== serviceKey) return out({ status: 401, body: { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' } }, null, 'gateway');
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? null;
    const checked = bearer ? verifyJwt(bearer, jwtSecret) : null;

    if (isAuth) {
      const grant = u.searchParams.get('grant_type');
      if (name === 'token' && req.method === 'POST') return out(await gotrue.token(grant, body));
      if (name === 'otp' && req.method === 'POST') return out(await gotrue.otp(body));
      if (name === 'verify' && req.method === 'POST') return out(await gotrue.verify(body));
      // The rest need a user's (or, for admin, the service role's) valid token.
      if (!checked?.ok) return out({ status: 403, body: { code: 'bad_jwt', message: `invalid JWT: unable to parse or verify signature, ${checked ? checked.message : 'token is missing'}` } });
      const claims = checked.claims;
      if (name === 'user' && req.method === 'GET') return out(await gotrue.user(claims), String(claims.role));
      if (name === 'logout' && req.method === 'POST') return out(gotrue.logout(claims, u.searchParams.get('scope') ?? 'global'), String(claims.role));
      if (name.startsWith('admin/users')) {
        if (claims.role !== 'service_role') return out({ status: 403, body: { code: 'not_admin', message: 'User not allowed' } });
        return out(await gotrue.admin(req.method!, name.slice('admin/users'.length), body), 'service_role');
      }
      return out({ status: 404, body: { code: 'not_found', message: 'Not Found' } });
    }

    if (!path.startsWith('/rest/v1/')) return out({ status: 404, body: { message: 'no Route matched with those values' } }, null, 'gateway');
    let auth: RestAuth = { role: 'anon', claims: { role: 'anon' } };
    if (checked && !checked.ok) {
      const www = `Bearer error="invalid_token", error_description="${checked.message}"`;
      return out(pgrstError(401, checked.code, checked.message, null, null, { 'www-authenticate': www }));
    }
    if (checked?.ok) auth = { role: String(checked.claims.role ?? 'anon'), claims: checked.claims };
    if (kind === 'rpc') {
      if (req.method !== 'POST') return out(pgrstError(405, 'PGRST101', 'Cannot use the GET method on RPC to call a volatile function'), auth.role);
      return out(await rest.rpc(name, body, auth, path), auth.role);
    }
    if (req.method !== 'GET') return out(pgrstError(405, 'PGRST117', `Unsupported HTTP method: ${req.method}`), auth.role);
    const singular = String(req.headers.accept ?? '').startsWith('application/vnd.pgrst.object+json');
    return out(await rest.select(name, u.searchParams, auth, singular, path), auth.role);
  };

  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://layer');
    if ((u.pathname.startsWith('/auth/') && down.auth) || (u.pathname.startsWith('/rest/') && down.rest)) {
      req.socket.destroy();
      return;
    }
    const { kind, name } = classify(u.pathname);
    const record = (status: number, as: string, role: string | null, raw: string) => {
      const entry: LayerRequest = { at: Date.now(), method: req.method!, path: u.pathname + u.search, status, kind: as, name, role };
      if (opts.recordSent) entry.sent = { headers: { ...req.headers }, body: parsedOrRaw(raw) };
      requests.push(entry);
    };
    if (isPreflight(req)) {
      record(200, 'preflight', null, '');
      res.writeHead(200, preflightHeaders(req));
      res.end();
      return;
    }
    let raw = '';
    readBody(req)
      .then((body) => route(req, u, (raw = body)))
      .then((r) => {
        record(r.status, kind, r.role, raw);
        send(res, r, corsHeaders(req, r.by));
      })
      .catch((e: Error) => send(res, { status: 500, body: { code: 'XX000', message: e.message, details: null, hint: null } }, corsHeaders(req, 'gateway')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  gotrue.apiUrl = url;
  return {
    url, anonKey, serviceKey, jwtSecret, requests, mail: gotrue.mail, gotrue, down,
    createUser: (email, password, opts) => gotrue.createUser(email, password, opts),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await api.end();
      await admin.end();
    },
  };
}
