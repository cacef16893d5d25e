// Script inventory, diff part (pure): what the database must do to match a scan. Rows are kept
// by path and changed in place, never deleted and re-inserted, so script_ids stay stable.
import type { ScannedFile, KnownFile } from './types.js';

/** A `scripts` row as read back from the database. */
export interface DbScriptRow {
  /** Absent in the sync's compact rows (scripts_for_sync_pieces): the diff goes by path. */
  script_id?: number | string;
  path: string;
  /** bigint may arrive as a string (pg int8). null: not known yet (a row from the original agent). */
  size: number | string | bigint | null;
  /** Whole epoch milliseconds (scripts_for_sync_pieces), or timestamptz as a Date (pg) or as text in any
   * precision (scripts_list over PostgREST: µs, `...+00:00`). */
  mtime: number | string | Date | null;
  /** Compared only when the row carries the field; null means "no kernel". */
  kernel?: string | null;
}

export interface InventoryDiff {
  insert: ScannedFile[];
  update: ScannedFile[];
  /** Paths of rows whose file is gone. Empty when the scan was truncated. */
  delete: string[];
  unchanged: number;
}

export interface DiffOptions {
  /** The scan's `truncated`: a partial scan deletes nothing (unseen is not gone). */
  truncated?: string;
}

// 2024-05-01T12:34:56.123456+00:00, 2024-05-01 12:34:56.123+00, ...Z, no fraction, no zone (UTC).
const TS_RE = /^(\d{4,})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Epoch milliseconds, truncated to whole ms (a µs timestamp compares equal to its ms form). */
export function instantMs(value: number | string | Date | null | undefined): number | undefined {
  if (value == null) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? Math.floor(value) : undefined;
  if (value instanceof Date) {
    const t = value.getTime();
    return Number.isNaN(t) ? undefined : Math.floor(t);
  }
  const m = TS_RE.exec(value.trim());
  if (!m) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : Math.floor(t);
  }
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (frac) ms += Number(frac.slice(0, 3).padEnd(3, '0'));
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
    ms -= sign * offsetMin * 60_000;
  }
  return ms;
}

function sizeOf(v: DbScriptRow['size']): number | undefined {
  if (v == null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function changed(file: ScannedFile, row: DbScriptRow): boolean {
  if (sizeOf(row.size) !== file.size) return true;
  if (file.mtimeMs !== instantMs(row.mtime)) return true; // an unknown mtime is a change too
  if (row.kernel !== undefined && (row.kernel ?? undefined) !== file.kernel) return true;
  return false;
}

/** Compare a scan with the stored rows. Paths are compared exactly (no normalization). */
export function diffInventory(
  scanned: readonly ScannedFile[],
  dbRows: readonly DbScriptRow[],
  opts: DiffOptions = {},
): InventoryDiff {
  const byPath = new Map<string, DbScriptRow>();
  for (const row of dbRows) byPath.set(row.path, row);
  const out: InventoryDiff = { insert: [], update: [], delete: [], unchanged: 0 };
  const seen = new Set<string>();
  for (const file of scanned) {
    if (seen.has(file.path)) continue; // defensive: a path listed twice counts once
    seen.add(file.path);
    const row = byPath.get(file.path);
    if (!row) out.insert.push(file);
    else if (changed(file, row)) out.update.push(file);
    else out.unchanged++;
  }
  if (!opts.truncated) {
    for (const row of dbRows) if (!seen.has(row.path)) out.delete.push(row.path);
  }
  return out;
}

/** The stored rows as scanScripts' `known` option, so unchanged notebooks are not re-read. Rows
 * without a readable size or mtime, or without the kernel field, are left out. */
export function knownFromRows(rows: readonly DbScriptRow[]): Map<string, KnownFile> {
  const known = new Map<string, KnownFile>();
  for (const row of rows) {
    const size = sizeOf(row.size);
    const mtimeMs = instantMs(row.mtime);
    if (size === undefined || mtimeMs === undefined || row.kernel === undefined) continue;
    known.set(row.path, { size, mtimeMs, kernel: row.kernel });
  }
  return known;
}
