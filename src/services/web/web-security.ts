// Who may talk to `lab-agent web`, and the headers every answer carries. The server listens on a
// shared lab machine, where every other account can reach 127.0.0.1 too, so nothing is served to
// a caller without the session cookie, which only the fresh random token of the printed link buys.
import { nodeCrypto } from '../node-crypto.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { isLoopback } from '../host/address.js';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/** The host part of a Host header or an origin's authority: "[::1]:8700" → "::1". */
function hostnameOf(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']'));
  const colon = a.lastIndexOf(':');
  return colon > 0 && a.indexOf(':') === colon ? a.slice(0, colon) : a;
}


export interface AccessOptions {
  /** The address the server listens on. */
  ip: string;
  /** Names a browser may use to reach a server bound beyond loopback (host name, LAB_PUBLIC_HOST). */
  publicNames?: string[];
}

/**
 * Checks a request's Host header and Origin against DNS rebinding and cross-site requests, and
 * its session cookie against the sessions this process issued.
 */
export class WebAccess {
  /** The secret of the printed link; exchanged for a cookie, never accepted as a credential for the API. */
  readonly token = nodeCrypto().randomBytes(32).toString('base64url');
  private readonly sessions = new Set<string>();
  private readonly names: Set<string>;

  constructor(private readonly opts: AccessOptions, readonly cookieName: string) {
    const names = [...LOOPBACK_NAMES];
    // A tunnel may arrive on any local port: the name matters, not the port (as Jupyter checks).
    if (!isLoopback(opts.ip)) {
      if (opts.ip !== '0.0.0.0' && opts.ip !== '::') names.push(opts.ip);
      names.push(...(opts.publicNames ?? []).map((n) => n.toLowerCase()));
    }
    this.names = new Set(names);
  }

  /** A Host this server answers to: one of its own names, never an attacker's domain resolving here. */
  hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    if (!host) return false;
    const name = hostnameOf(host);
    if (this.names.has(name)) return true;
    // Bound to every address: any literal IP of this machine is fine; a domain name is not.
    return (this.opts.ip === '0.0.0.0' || this.opts.ip === '::') && isIP(name) !== 0;
  }

  /**
   * Same-origin only: an Origin, when sent, must be this very origin; a write must send one
   * (browsers always do for fetch POST) or at least say it is same-origin.
   */
  originAllowed(req: IncomingMessage, write: boolean): boolean {
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if (site && site !== 'same-origin' && site !== 'none') return false;
    if (origin === undefined) return !write || site === 'same-origin';
    return origin === `http://${req.headers.host}`;
  }

  tokenMatches(candidate: string | null): boolean {
    if (!candidate) return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    return a.length === b.length && nodeCrypto().timingSafeEqual(a, b);
  }

  /** A new session for a browser that showed the token; the cookie header that carries it. */
  newSession(): string {
    const id = nodeCrypto().randomBytes(32).toString('base64url');
    this.sessions.add(id);
    return `${this.cookieName}=${id}; HttpOnly; SameSite=Strict; Path=/`;
  }

  hasSession(req: IncomingMessage): boolean {
    const id = cookieValue(req.headers.cookie, this.cookieName);
    return id !== null && this.sessions.has(id);
  }
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** The page's policy: its own scripts and styles only, nothing from the network, no framing. */
const PAGE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "manifest-src 'self'", "frame-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
].join('; ');

/**
 * An executed notebook's outputs are untrusted HTML: served into a sandboxed frame (no scripts,
 * an opaque origin, so no cookie and no API), and sandboxed even when opened on its own.
 */
export const NOTEBOOK_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

export function securityHeaders(res: ServerResponse, csp = PAGE_CSP): void {
  res.setHeader('Content-Security-Policy', csp);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // No Referer: a Jupyter link opened from the page must not carry the page's address, nor the page its token.
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', csp === PAGE_CSP ? 'DENY' : 'SAMEORIGIN');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
}
