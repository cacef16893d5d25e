// When the shared session file has no session any more: either a refresh was refused for a
// passing reason (a rate limit) and the backup's refresh token still works, or the session ended
// for good (revoked, reused, expired) and the member has to sign in again. Both are said plainly,
// in the agent log and by doctor.
import { isAuthRetryableFetchError, type SupabaseClient } from '@supabase/supabase-js';
import { writeFileSync } from 'node:fs';
import { backupPath, dropSessionBackup, readSessionBackup } from './file-session-storage.js';
import { LOGIN_AGAIN, StoreError } from './types.js';

export type Recovery = { restored: true } | { restored: false; reason: string; hadSession: boolean };

/** Tries the backup's refresh token once; on a refusal for good, records why beside it. */
export async function restoreSession(client: SupabaseClient, sessionFile: string): Promise<Recovery> {
  const backup = readSessionBackup(sessionFile);
  if (!backup) return { restored: false, reason: 'not signed in', hadSession: false };
  let refreshToken: string | undefined;
  try {
    refreshToken = (JSON.parse(backup.value) as { refresh_token?: string }).refresh_token;
  } catch {
    /* unreadable: treated as ended */
  }
  const ended = (backup as { reason?: string }).reason;
  if (!refreshToken || ended) return { restored: false, reason: ended ?? 'the saved session was unreadable', hadSession: true };
  const { data, error } = await client.auth.refreshSession({ refresh_token: refreshToken });
  if (!error && data.session) {
    dropSessionBackup(sessionFile);
    return { restored: true };
  }
  const reason = error ? `${error.code ?? 'error'}: ${error.message}` : 'no session in the answer';
  // A server out of reach or a rate limit is no verdict on the session: try again later.
  // Anything else (revoked, reused, not found, expired) is final.
  const passing = error && (isAuthRetryableFetchError(error) || error.status === 429);
  if (!passing) writeFileSync(backupPath(sessionFile), JSON.stringify({ ...backup, reason }), { mode: 0o600 });
  return { restored: false, reason, hadSession: true };
}

export function sessionEndedError(sessionFile: string, r: Extract<Recovery, { restored: false }>): StoreError {
  if (!r.hadSession) return new StoreError('not signed in to Supabase: run `lab-agent login`');
  const when = readSessionBackup(sessionFile)?.removedAt;
  return new StoreError(`the Supabase session on this machine ended${when ? ` at ${when}` : ''} (${r.reason}): ${LOGIN_AGAIN}`, 'session_ended');
}
