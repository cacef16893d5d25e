// The Auth admin API with the service key: finding a member's account by their verified email
// (`lab-agent login` in service-key mode writes its id as LAB_USER_ID once the member confirms)
// and reading the acting account's email for doctor. Only a confirmed address counts: anyone can
// sign up with someone else's address, nobody can confirm it.
import type { Config } from '../config.js';
import { createSupabaseClient } from './supabase-transport.js';
import { StoreError } from './types.js';

export interface AuthAccount {
  id: string;
  email: string;
  confirmedAt: string | null;
}

function adminClient(config: Config) {
  if (config.mode !== 'supabase' || !config.supabase.serviceKey) throw new StoreError('the Auth admin API needs SUPABASE_URL and SUPABASE_SERVICE_KEY');
  return createSupabaseClient({ url: config.supabase.url, key: config.supabase.serviceKey }).auth.admin;
}

/** The one account whose confirmed email is `email` (case-insensitive); fails clearly otherwise. */
export async function findVerifiedAccount(config: Config, email: string): Promise<AuthAccount> {
  const admin = adminClient(config);
  const wanted = email.toLowerCase();
  const found: AuthAccount[] = [];
  let unconfirmed = 0;
  // The admin API lists page by page; a lab has few accounts.
  for (let page = 1; page <= 100; page++) {
    const { data, error } = await admin.listUsers({ page, perPage: 1000 });
    if (error) throw new StoreError(`listing accounts with the service key failed: ${error.message}`);
    for (const u of data.users) {
      if (u.email?.toLowerCase() !== wanted) continue;
      if (u.email_confirmed_at) found.push({ id: u.id, email: u.email, confirmedAt: u.email_confirmed_at });
      else unconfirmed++;
    }
    if (data.users.length < 1000) break;
  }
  if (found.length === 1) return found[0]!;
  if (found.length > 1) throw new StoreError(`${found.length} accounts have the confirmed email ${email}: ask your lab admin which is yours and set LAB_USER_ID`);
  throw new StoreError(`no account with the confirmed email ${email}${unconfirmed ? ` (${unconfirmed} with it unconfirmed: open the confirmation email first)` : ''}: ask your lab admin to invite you`);
}

