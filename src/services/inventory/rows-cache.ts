// Script inventory, cache part: the rows the database holds after this host's last sync, kept in
// the data folder. The agent's scheduled sync compares its scan with them first and asks the
// database nothing when nothing changed (on a hosted project every request is metered: an idle
// agent otherwise read every row every SYNC_INTERVAL_MIN). When the scan differs, the sync reads
// the real rows and applies the difference as before; once a day it reads them anyway, so a row
// changed from elsewhere is seen. `lab-agent sync` and --dry-run always read the database.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostFileName } from '../names.js';
import type { DbScriptRow } from '../scanner/diff.js';
import type { ScriptUpsert } from '../store/types.js';

/** After this long the cache is not trusted: the next scheduled sync reads the database's rows. */
const ROWS_CACHE_MAX_AGE_MS = 24 * 3600_000;

interface RowsCache {
  /** Which database and member the rows are of (the store's kind and user id). */
  key: string;
  at: number;
  rows: DbScriptRow[];
}

const cachePath = (dataDir: string, host: string): string => join(dataDir, `inventory-rows-${hostFileName(host)}.json`);

/** The cached rows when they are this key's and fresh; null otherwise (then the database is read). */
export function readRowsCache(dataDir: string, host: string, key: string, now = Date.now()): DbScriptRow[] | null {
  try {
    const c = JSON.parse(readFileSync(cachePath(dataDir, host), 'utf8')) as RowsCache;
    if (c.key !== key || !Array.isArray(c.rows) || !(now - c.at < ROWS_CACHE_MAX_AGE_MS && c.at <= now)) return null;
    return c.rows;
  } catch {
    return null; // none yet, or unreadable
  }
}

/** The rows as they are after applying a sync's upserts and deletes; written atomically. */
export function writeRowsCache(dataDir: string, host: string, key: string, before: readonly DbScriptRow[], applied: { upserts: ScriptUpsert[]; deletes: string[] }, now = Date.now()): void {
  const byPath = new Map<string, DbScriptRow>(before.map((r) => [r.path, { path: r.path, size: sizeText(r.size), mtime: r.mtime, kernel: r.kernel ?? null }]));
  for (const p of applied.deletes) byPath.delete(p);
  for (const u of applied.upserts) byPath.set(u.path, { path: u.path, size: u.size, mtime: u.mtime, kernel: u.kernel ?? null });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = cachePath(dataDir, host);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ key, at: now, rows: [...byPath.values()] } satisfies RowsCache), { mode: 0o600 });
  renameSync(tmp, file);
}

/** A bigint size as JSON can hold it. */
const sizeText = (size: DbScriptRow['size']): number | string | null => (typeof size === 'bigint' ? size.toString() : size);
