// GoTrue's sessions and refresh tokens, with its refresh rules copied from the auth server's
// source (internal/tokens/service.go, RefreshTokenGrant; models/refresh_token.go):
//  - every refresh revokes the token used and issues a child of it (rotation);
//  - a revoked token that is the parent of the session's active token gets that active token
//    back (the client lost the answer: "parent-token rule");
//  - any other revoked token is accepted within refresh_token_reuse_interval (10 s) of its
//    revocation and swapped again; after it, the whole family (the session) is revoked and the
//    answer is 400 refresh_token_already_used;
//  - an unknown token is 400 refresh_token_not_found; a token whose session is gone (logout) is
//    400 session_not_found.
import { randomBytes, randomUUID } from 'node:crypto';

export interface RefreshToken {
  token: string;
  sessionId: string;
  parent: string | null;
  revoked: boolean;
  /** When it was issued or revoked (GoTrue's updated_at), ms. */
  updatedAt: number;
}

export interface AuthSession {
  id: string;
  userId: string;
  createdAt: number;
}

export type RefreshOutcome =
  | { ok: true; session: AuthSession; token: RefreshToken; reused: boolean }
  | { ok: false; status: number; code: string; message: string };

export class TokenStore {
  readonly sessions = new Map<string, AuthSession>();
  readonly tokens = new Map<string, RefreshToken>();
  /** What happened to each refresh: for tests that check the rules were exercised. */
  readonly refreshLog: { token: string; outcome: string }[] = [];

  constructor(private readonly reuseIntervalS: number, private readonly now: () => number = Date.now) {}

  private issue(sessionId: string, parent: string | null): RefreshToken {
    // GoTrue's tokens are 12 random bytes, base64url-ish: opaque to the client.
    const t: RefreshToken = { token: randomBytes(9).toString('base64url'), sessionId, parent, revoked: false, updatedAt: this.now() };
    this.tokens.set(t.token, t);
    return t;
  }

  startSession(userId: string): { session: AuthSession; token: RefreshToken } {
    const session: AuthSession = { id: randomUUID(), userId, createdAt: this.now() };
    this.sessions.set(session.id, session);
    return { session, token: this.issue(session.id, null) };
  }

  /** The session's newest token that is not revoked. */
  private active(sessionId: string): RefreshToken | null {
    let best: RefreshToken | null = null;
    for (const t of this.tokens.values()) if (t.sessionId === sessionId && !t.revoked && (!best || t.updatedAt >= best.updatedAt)) best = t;
    return best;
  }

  private swap(token: RefreshToken): RefreshToken {
    token.revoked = true;
    token.updatedAt = this.now();
    return this.issue(token.sessionId, token.token);
  }

  endSession(sessionId: string): void {
    this.sessions.delete(sessionId);
    for (const [k, t] of this.tokens) if (t.sessionId === sessionId) this.tokens.delete(k);
  }

  endUserSessions(userId: string, except: string | null = null): void {
    for (const s of [...this.sessions.values()]) if (s.userId === userId && s.id !== except) this.endSession(s.id);
  }

  refresh(value: string): RefreshOutcome {
    const log = (outcome: string) => this.refreshLog.push({ token: value, outcome });
    const token = this.tokens.get(value);
    if (!token) {
      log('not_found');
      return { ok: false, status: 400, code: 'refresh_token_not_found', message: 'Invalid Refresh Token: Refresh Token Not Found' };
    }
    const session = this.sessions.get(token.sessionId);
    if (!session) {
      log('session_not_found');
      return { ok: false, status: 400, code: 'session_not_found', message: 'Invalid Refresh Token: No Valid Session Found' };
    }
    if (token.revoked) {
      const active = this.active(session.id);
      if (active && active.parent === token.token) {
        log('parent_of_active');
        return { ok: true, session, token: active, reused: true };
      }
      if (this.now() > token.updatedAt + this.reuseIntervalS * 1000) {
        // Rotation is on: the family is revoked, so whoever holds any of its tokens is signed out.
        for (const t of this.tokens.values()) if (t.sessionId === session.id) t.revoked = true;
        log('already_used_family_revoked');
        return { ok: false, status: 400, code: 'refresh_token_already_used', message: 'Invalid Refresh Token: Already Used' };
      }
      log('reused_within_interval');
      return { ok: true, session, token: this.swap(token), reused: true };
    }
    log('rotated');
    return { ok: true, session, token: this.swap(token), reused: false };
  }
}
