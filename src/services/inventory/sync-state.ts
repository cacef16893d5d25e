// Script inventory, schedule part: when the last sync ran, kept in a small file in the data folder
// so that cron ticks (one process each) sync at most every SYNC_INTERVAL_MIN. Deliberately tiny and
// free of heavy imports: a cron tick reads it every minute and loads the scanner only when due.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostFileName } from '../names.js';

export interface SyncState {
  /** The last sync that completed (ISO 8601). */
  lastSyncAt?: string;
  /** The last sync attempted, completed or not: a failing sync is retried, but not every tick. */
  lastAttemptAt?: string;
  lastError?: string;
  /** Counts of the last completed sync, for `lab-agent status`-like displays and debugging. */
  last?: { inserted: number; updated: number; deleted: number; unchanged: number; truncated?: string };
}

/** A failed sync is tried again after this long (or the interval, if shorter). */
const RETRY_AFTER_FAILURE_MS = 60_000;

// Keyed by host like the agent lock: a home shared over NFS holds one state per machine, so each
// host's agent keeps its own schedule and no two hosts rewrite the same file.
export const syncStatePath = (dataDir: string, host: string): string => join(dataDir, `inventory-sync-${hostFileName(host)}.json`);
export const syncLockPath = (dataDir: string, host: string): string => join(dataDir, `inventory-sync-${hostFileName(host)}.lock`);

export function readSyncState(dataDir: string, host: string): SyncState {
  try {
    const parsed: unknown = JSON.parse(readFileSync(syncStatePath(dataDir, host), 'utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as SyncState) : {};
  } catch {
    return {}; // none yet, or unreadable: treated as "never synced", which only makes a sync due
  }
}

/** Atomic replace (write, then rename), so a tick killed mid-write never leaves half a file. */
export function writeSyncState(dataDir: string, host: string, state: SyncState): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = syncStatePath(dataDir, host);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

const ms = (iso: string | undefined): number | undefined => {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
};

/** Whether a scheduled sync is due now, and if not, from when. */
export function syncDue(state: SyncState, intervalMin: number, now = Date.now()): { due: boolean; nextAt?: Date } {
  const interval = Math.max(1, intervalMin) * 60_000;
  const last = ms(state.lastSyncAt);
  const attempt = ms(state.lastAttemptAt);
  let next = 0;
  if (last !== undefined && last <= now) next = last + interval;
  // A failure after the last success: retry soon, not on every tick.
  if (attempt !== undefined && attempt <= now && (last === undefined || attempt > last)) {
    next = Math.max(next, attempt + Math.min(interval, RETRY_AFTER_FAILURE_MS));
  }
  // Stamps in the future (the clock was set back) are ignored, so a sync cannot stall for that long.
  return next > now ? { due: false, nextAt: new Date(next) } : { due: true };
}
