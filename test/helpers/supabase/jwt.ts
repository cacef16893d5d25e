// HS256 JSON Web Tokens as Supabase issues them: the anon and service keys, and GoTrue's access
// tokens, all signed with the project's JWT secret; verified the way PostgREST verifies them.
import { createHmac, timingSafeEqual } from 'node:crypto';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export function signJwt(payload: Record<string, unknown>, secret: string): string {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

export type JwtCheck =
  | { ok: true; claims: Record<string, unknown> }
  | { ok: false; code: 'PGRST301' | 'PGRST303'; message: string };

/**
 * PostgREST's JWT rules (Error.hs, JwtError): a token that does not decode or whose signature
 * fails is PGRST301 "JWT cryptographic operation failed"; one past its `exp` is PGRST303 "JWT
 * expired". Both answer 401.
 */
export function verifyJwt(token: string, secret: string, nowS = Math.floor(Date.now() / 1000)): JwtCheck {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, code: 'PGRST301', message: `Expected 3 parts in JWT; got ${parts.length}` };
  const [head, body, sig] = parts as [string, string, string];
  const want = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, code: 'PGRST301', message: 'JWT cryptographic operation failed' };
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, code: 'PGRST301', message: 'JWT couldn\'t be decoded' };
  }
  if (typeof claims.exp === 'number' && claims.exp <= nowS) return { ok: false, code: 'PGRST303', message: 'JWT expired' };
  return { ok: true, claims };
}

/** A project's API keys: long-lived JWTs whose role claim is anon or service_role. */
export function projectKeys(secret: string): { anonKey: string; serviceKey: string } {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + 10 * 365 * 24 * 3600;
  return {
    anonKey: signJwt({ iss: 'supabase', ref: 'lab-test', role: 'anon', iat, exp }, secret),
    serviceKey: signJwt({ iss: 'supabase', ref: 'lab-test', role: 'service_role', iat, exp }, secret),
  };
}
