// Signing a lab member in to Supabase Auth (GoTrue) through supabase-js: an emailed one-time code
// or a password. The session lands in the 0600 session file (FileSessionStorage), which the agent
// then refreshes on its own; it never signs in again, so no password is ever stored.
import { rmSync } from 'node:fs';
import type { SupabaseClient } from '@supabase/supabase-js';
import type { Config } from '../config.js';
import { dropSessionBackup, sessionFile } from './file-session-storage.js';
import { LabStore } from './lab-store.js';
import { createSupabaseClient, SupabaseTransport, type SupabaseTransportOptions } from './supabase-transport.js';
import { StoreError } from './types.js';

interface AuthFailure {
  message: string;
  code?: string | undefined;
  status?: number | undefined;
}

/** GoTrue's error codes as a sentence with what to do next. */
function explainAuthError(err: AuthFailure, email: string): string {
  switch (err.code) {
    case 'otp_expired':
      return 'the code is wrong or has expired: run `lab-agent login` again for a new one';
    case 'invalid_credentials':
      return `wrong password for ${email} (or no such account): try again, or sign in with an emailed code (without --password)`;
    case 'over_email_send_rate_limit':
    case 'over_request_rate_limit':
      return 'too many sign-in attempts: wait a minute and try again';
    case 'otp_disabled':
    case 'signup_disabled':
    case 'user_not_found':
      return `no account for ${email} on this Supabase project (or email sign-in is off): ask your lab admin to invite you`;
    case 'email_not_confirmed':
      return `${email} is not confirmed yet: open the confirmation email first`;
    default:
      return err.message || `sign-in failed (HTTP ${err.status ?? '?'})`;
  }
}

function authOptions(config: Config): SupabaseTransportOptions {
  if (config.mode !== 'supabase' || !config.supabase.anonKey) {
    throw new StoreError('`lab-agent login` is for Supabase mode: set SUPABASE_URL and SUPABASE_ANON_KEY in the agent\'s .env (local and Postgres mode need no sign-in)');
  }
  return { url: config.supabase.url, key: config.supabase.anonKey, sessionFile: sessionFile(config) };
}

export function authClient(config: Config): SupabaseClient {
  const client = createSupabaseClient(authOptions(config));
  // A CLI call: no background refresh timer keeping the process alive.
  void client.auth.stopAutoRefresh();
  return client;
}

function fail(err: AuthFailure, email: string): never {
  throw new StoreError(explainAuthError(err, email), err.code);
}

/** Asks GoTrue to email a one-time code; existing accounts only (a typo must not create one). */
export async function sendCode(client: SupabaseClient, email: string): Promise<void> {
  const { error } = await client.auth.signInWithOtp({ email, options: { shouldCreateUser: false } });
  if (error) fail(error, email);
}

export async function verifyCode(client: SupabaseClient, email: string, code: string): Promise<string> {
  const { data, error } = await client.auth.verifyOtp({ email, token: code, type: 'email' });
  if (error || !data.session) fail(error ?? { message: 'no session in the answer' }, email);
  return data.session.user.id;
}

type LinkType = 'magiclink' | 'email' | 'signup' | 'invite' | 'recovery' | 'email_change';

/**
 * What a member may paste instead of the code: the email's link (…/auth/v1/verify?token=<hash>
 * &type=magiclink…, verified here as a token hash), or the address the browser landed on after
 * opening it (…#access_token=…&refresh_token=…, taken over as the session). A new project's
 * email holds only the link, so this is how login works before the template is changed.
 */
export async function verifyPasted(client: SupabaseClient, email: string, pasted: string): Promise<string> {
  let url: URL;
  try {
    url = new URL(pasted.trim());
  } catch {
    throw new StoreError(`"${pasted}" is neither the code nor the link from the email`);
  }
  const fragment = new URLSearchParams(url.hash.replace(/^#/, ''));
  if (fragment.get('error_code')) fail({ message: fragment.get('error_description') ?? 'the link failed', code: fragment.get('error_code') ?? undefined }, email);
  const access = fragment.get('access_token');
  const refresh = fragment.get('refresh_token');
  if (access && refresh) {
    const { data, error } = await client.auth.setSession({ access_token: access, refresh_token: refresh });
    if (error || !data.session) fail(error ?? { message: 'no session in the answer' }, email);
    return data.session.user.id;
  }
  const hash = url.searchParams.get('token_hash') ?? url.searchParams.get('token');
  if (!hash) throw new StoreError('that link has no token in it: paste the whole link from the email, or the code');
  const type = (url.searchParams.get('type') ?? 'magiclink') as LinkType;
  const { data, error } = await client.auth.verifyOtp({ token_hash: hash, type });
  if (error || !data.session) fail(error ?? { message: 'no session in the answer' }, email);
  return data.session.user.id;
}

export async function signInWithPassword(client: SupabaseClient, email: string, password: string): Promise<string> {
  const { data, error } = await client.auth.signInWithPassword({ email, password });
  if (error || !data.session) fail(error ?? { message: 'no session in the answer' }, email);
  return data.session.user.id;
}

/** After signing in: this Linux user's users row (user_id from the token, linux_user, email). */
export async function recordUser(config: Config, client: SupabaseClient, userId: string, email: string) {
  dropSessionBackup(sessionFile(config)); // a new session: what ended the last one no longer matters
  const store = new LabStore(new SupabaseTransport(authOptions(config), client), userId);
  try {
    return await store.ensureUser({ linuxUser: config.user, email: config.email || email, host: config.host });
  } finally {
    await store.close();
  }
}

/**
 * Revokes this session on the server (scope local: the member's other sessions, e.g. the web
 * page, stay) and deletes it here. Unreachable server: deleted here anyway, and said so.
 */
export async function signOut(config: Config, client: SupabaseClient): Promise<{ hadSession: boolean; serverError: string | null }> {
  const { data } = await client.auth.getSession();
  if (!data.session) {
    rmSync(sessionFile(config), { force: true });
    dropSessionBackup(sessionFile(config));
    return { hadSession: false, serverError: null };
  }
  const { error } = await client.auth.signOut({ scope: 'local' });
  rmSync(sessionFile(config), { force: true });
  dropSessionBackup(sessionFile(config));
  return { hadSession: true, serverError: error ? error.message : null };
}
