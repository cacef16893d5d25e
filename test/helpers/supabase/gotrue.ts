// The GoTrue half of the layer: the auth endpoints supabase-js calls, answering with GoTrue's
// paths, bodies and error codes (API version 2024-01-01: { code, message }). Users live in the
// real database's auth.users; passwords, codes, sessions and refresh tokens live here.
import { randomInt, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { composeMagicLink, tokenHash, type MailTemplate, type SentMail } from './gotrue-mail.js';
import { TokenStore, type AuthSession, type RefreshToken } from './gotrue-state.js';
import { signJwt } from './jwt.js';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** GoTrue's [auth.rate_limit] buckets (per project here, per IP there): max requests per window. */
export interface RateLimits {
  tokenRefresh: { max: number; windowMs: number };
  signIn: { max: number; windowMs: number };
  verify: { max: number; windowMs: number };
  emailSent: { max: number; windowMs: number };
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  tokenRefresh: { max: 150, windowMs: 300_000 },
  signIn: { max: 30, windowMs: 300_000 },
  verify: { max: 30, windowMs: 300_000 },
  emailSent: { max: 30, windowMs: 3_600_000 },
};

export interface GotrueOptions {
  admin: pg.Pool;
  jwtSecret: string;
  jwtExpiryS: number;
  reuseIntervalS: number;
  template: MailTemplate;
  siteUrl: string;
  rateLimits: RateLimits;
  /** Seconds between two emails to one address (GoTrue's smtp max_frequency, 60 s hosted). */
  emailMaxFrequencyS: number;
}

interface AuthUser {
  id: string;
  email: string;
  created_at: string;
}

const err = (status: number, code: string, message: string): Reply => ({ status, body: { code, message } });

export class Gotrue {
  apiUrl = '';
  readonly tokens: TokenStore;
  readonly mail: SentMail[] = [];
  readonly passwords = new Map<string, string>();
  /** Accounts whose email nobody confirmed (GoTrue: email_confirmed_at null): anyone can sign up with any address. */
  readonly unconfirmed = new Set<string>();
  /** Hold each refresh this long before answering: lets tests line two processes up on one. */
  refreshDelayMs = 0;
  private readonly codes = new Map<string, { code: string; expiresAt: number; sentAt: number }>();
  private readonly hits = new Map<keyof RateLimits, number[]>();

  constructor(private readonly o: GotrueOptions) {
    this.tokens = new TokenStore(o.reuseIntervalS);
  }

  private limited(bucket: keyof RateLimits): boolean {
    const { max, windowMs } = this.o.rateLimits[bucket];
    const now = Date.now();
    const recent = (this.hits.get(bucket) ?? []).filter((t) => t > now - windowMs);
    recent.push(now);
    this.hits.set(bucket, recent);
    return recent.length > max;
  }

  async userByEmail(email: string): Promise<AuthUser | null> {
    const r = await this.o.admin.query('select id, email, created_at from auth.users where lower(email) = lower($1)', [email]);
    return (r.rows[0] as AuthUser | undefined) ?? null;
  }

  private async userById(id: string): Promise<AuthUser | null> {
    const r = await this.o.admin.query('select id, email, created_at from auth.users where id = $1', [id]);
    return (r.rows[0] as AuthUser | undefined) ?? null;
  }

  async createUser(email: string, password?: string, opts: { confirmed?: boolean } = {}): Promise<AuthUser> {
    const r = await this.o.admin.query('insert into auth.users (id, email) values ($1, $2) returning id, email, created_at', [randomUUID(), email]);
    const user = r.rows[0] as AuthUser;
    if (password) this.passwords.set(user.id, password);
    if (opts.confirmed === false) this.unconfirmed.add(user.id);
    return user;
  }

  private userJson(u: AuthUser) {
    return {
      id: u.id, aud: 'authenticated', role: 'authenticated', email: u.email, phone: '',
      email_confirmed_at: this.unconfirmed.has(u.id) ? null : u.created_at, confirmed_at: this.unconfirmed.has(u.id) ? null : u.created_at, last_sign_in_at: new Date().toISOString(),
      app_metadata: { provider: 'email', providers: ['email'] }, user_metadata: {}, identities: [],
      created_at: u.created_at, updated_at: u.created_at, is_anonymous: false,
    };
  }

  private async sessionReply(user: AuthUser, session: AuthSession, refresh: RefreshToken, method: string): Promise<Reply> {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + this.o.jwtExpiryS;
    const access = signJwt({
      aud: 'authenticated', exp, iat, iss: `${this.apiUrl}/auth/v1`, sub: user.id, email: user.email, phone: '',
      app_metadata: { provider: 'email', providers: ['email'] }, user_metadata: {}, role: 'authenticated',
      aal: 'aal1', amr: [{ method, timestamp: iat }], session_id: session.id, is_anonymous: false,
    }, this.o.jwtSecret);
    return {
      status: 200,
      body: { access_token: access, token_type: 'bearer', expires_in: this.o.jwtExpiryS, expires_at: exp, refresh_token: refresh.token, user: this.userJson(user) },
    };
  }

  private async signIn(user: AuthUser, method: string): Promise<Reply> {
    const { session, token } = this.tokens.startSession(user.id);
    return this.sessionReply(user, session, token, method);
  }

  /** POST /token?grant_type=password|refresh_token */
  async token(grant: string | null, body: Record<string, unknown>): Promise<Reply> {
    if (grant === 'password') {
      if (this.limited('signIn')) return err(429, 'over_request_rate_limit', 'Request rate limit reached');
      const user = await this.userByEmail(String(body.email ?? ''));
      if (!user || !this.passwords.has(user.id) || this.passwords.get(user.id) !== body.password) {
        return err(400, 'invalid_credentials', 'Invalid login credentials');
      }
      return this.signIn(user, 'password');
    }
    if (grant === 'refresh_token') {
      if (this.limited('tokenRefresh')) return err(429, 'over_request_rate_limit', 'Request rate limit reached');
      if (this.refreshDelayMs) await new Promise((r) => setTimeout(r, this.refreshDelayMs));
      const out = this.tokens.refresh(String(body.refresh_token ?? ''));
      if (!out.ok) return err(out.status, out.code, out.message);
      const user = await this.userById(out.session.userId);
      if (!user) return err(400, 'user_not_found', 'User not found');
      return this.sessionReply(user, out.session, out.token, 'token_refresh');
    }
    return err(400, 'unsupported_grant_type', `unsupported_grant_type: ${grant}`);
  }

  /** POST /otp: emails a code and a link to an existing account (or creates one when allowed). */
  async otp(body: Record<string, unknown>): Promise<Reply> {
    if (this.limited('signIn')) return err(429, 'over_request_rate_limit', 'Request rate limit reached');
    const email = String(body.email ?? '');
    let user = await this.userByEmail(email);
    if (!user) {
      if (body.create_user === false) return err(422, 'otp_disabled', 'Signups not allowed for otp');
      user = await this.createUser(email);
    }
    const last = this.codes.get(user.email);
    if (last && Date.now() - last.sentAt < this.o.emailMaxFrequencyS * 1000) {
      const wait = Math.ceil((last.sentAt + this.o.emailMaxFrequencyS * 1000 - Date.now()) / 1000);
      return err(429, 'over_email_send_rate_limit', `For security purposes, you can only request this after ${wait} seconds.`);
    }
    if (this.limited('emailSent')) return err(429, 'over_email_send_rate_limit', 'email rate limit exceeded');
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    this.codes.set(user.email, { code, expiresAt: Date.now() + 3_600_000, sentAt: Date.now() });
    this.mail.push(composeMagicLink(this.o.template, { email: user.email, code, apiUrl: this.apiUrl, siteUrl: this.o.siteUrl }));
    return { status: 200, body: {} };
  }

  /** A code (with its email) or a token hash (from the link), once, before it expires. */
  private async consume(body: { email?: string; token?: string; token_hash?: string }): Promise<AuthUser | null> {
    for (const [email, c] of this.codes) {
      const byCode = body.token !== undefined && body.email !== undefined && email.toLowerCase() === body.email.toLowerCase() && c.code === body.token;
      const byHash = body.token_hash !== undefined && tokenHash(email, c.code) === body.token_hash;
      if ((byCode || byHash) && c.expiresAt > Date.now()) {
        this.codes.delete(email);
        return this.userByEmail(email);
      }
    }
    return null;
  }

  /** POST /verify (code or token hash) → a session. */
  async verify(body: Record<string, unknown>): Promise<Reply> {
    if (this.limited('verify')) return err(429, 'over_request_rate_limit', 'Request rate limit reached');
    const user = await this.consume(body as { email?: string; token?: string; token_hash?: string });
    if (!user) return err(403, 'otp_expired', 'Token has expired or is invalid');
    return this.signIn(user, 'otp');
  }

  /** GET /verify?token=<hash>&type=magiclink&redirect_to=…: the link clicked in a browser. */
  async verifyLink(query: URLSearchParams): Promise<Reply> {
    const redirect = query.get('redirect_to') || this.o.siteUrl;
    const user = await this.consume({ token_hash: query.get('token') ?? '' });
    if (!user) {
      const q = new URLSearchParams({ error: 'access_denied', error_code: 'otp_expired', error_description: 'Email link is invalid or has expired' });
      return { status: 303, headers: { location: `${redirect}#${q}` } };
    }
    const s = (await this.signIn(user, 'otp')).body as Record<string, string | number>;
    const q = new URLSearchParams({
      access_token: String(s.access_token), expires_at: String(s.expires_at), expires_in: String(s.expires_in),
      refresh_token: String(s.refresh_token), token_type: 'bearer', type: 'magiclink',
    });
    return { status: 303, headers: { location: `${redirect}#${q}` } };
  }

  /** GET /user with a user's access token (already verified by the caller). */
  async user(claims: Record<string, unknown>): Promise<Reply> {
    if (typeof claims.session_id === 'string' && !this.tokens.sessions.has(claims.session_id)) {
      return err(403, 'session_not_found', 'Session from session_id claim in JWT does not exist');
    }
    const user = await this.userById(String(claims.sub ?? ''));
    if (!user) return err(403, 'user_not_found', 'User from sub claim in JWT does not exist');
    return { status: 200, body: this.userJson(user) };
  }

  /** POST /logout?scope=global|local|others */
  logout(claims: Record<string, unknown>, scope: string): Reply {
    const sessionId = String(claims.session_id ?? '');
    if (scope === 'local') this.tokens.endSession(sessionId);
    else this.tokens.endUserSessions(String(claims.sub ?? ''), scope === 'others' ? sessionId : null);
    return { status: 204 };
  }

  /** /admin/users: create (POST), list (GET), one (GET /admin/users/<id>), delete (DELETE /admin/users/<id>); service role only. */
  async admin(method: string, rest: string, body: Record<string, unknown>): Promise<Reply> {
    if (method === 'POST' && rest === '') {
      const email = String(body.email ?? '');
      if (await this.userByEmail(email)) return err(422, 'email_exists', 'A user with this email address has already been registered');
      const u = await this.createUser(email, typeof body.password === 'string' ? body.password : undefined);
      return { status: 200, body: this.userJson(u) };
    }
    if (method === 'GET' && rest === '') {
      const r = await this.o.admin.query('select id, email, created_at from auth.users order by created_at');
      return { status: 200, body: { users: (r.rows as AuthUser[]).map((u) => this.userJson(u)), aud: 'authenticated' } };
    }
    if (method === 'GET' && rest.startsWith('/')) {
      const u = await this.userById(rest.slice(1));
      return u ? { status: 200, body: this.userJson(u) } : err(404, 'user_not_found', 'User not found');
    }
    if (method === 'DELETE' && rest.startsWith('/')) {
      const id = rest.slice(1);
      this.tokens.endUserSessions(id);
      await this.o.admin.query('delete from auth.users where id = $1', [id]);
      return { status: 200, body: {} };
    }
    return err(404, 'not_found', 'Not found');
  }
}
