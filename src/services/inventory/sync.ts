// Script inventory, sync part: scan home, compare with the stored rows, and apply the difference
// with one SQL call (public.scripts_sync). Rows are changed in place, so a script_id never changes
// while its path exists, and a sync with nothing changed makes no database call at all.
import { mkdirSync } from 'node:fs';
import { withFileLock, tryLock } from '../file-lock.js';
import type { Config } from '../config.js';
import { silentLogger, type Logger } from '../logger.js';
import { scanScripts, type ScanTruncation } from '../scanner/scan.js';
import { diffInventory, knownFromRows, type DbScriptRow } from '../scanner/diff.js';
import type { LabStore } from '../store/lab-store.js';
import type { ScriptUpsert } from '../store/types.js';
import { readRowsCache, writeRowsCache } from './rows-cache.js';
import { readSyncState, syncDue, syncLockPath, writeSyncState, type SyncState } from './sync-state.js';

type SyncStore = Pick<LabStore, 'scriptsForSync' | 'syncScripts'>;

export interface SyncDeps {
  /** A store still opening will do: the scan starts at once, the rows are read once it is open. */
  store: SyncStore | Promise<SyncStore>;
  /** The agent's scheduled sync: which database and member the cached rows must be of (rows-cache.ts); absent, the rows are read. */
  cacheKey?: string;
  config: Pick<Config, 'home' | 'logDir' | 'agentDir' | 'dataDir' | 'host' | 'syncExclude' | 'syncMaxFiles' | 'syncIntervalMin'>;
  log?: Logger;
}

export interface SyncOptions {
  /** Scan and compare only: no database write, no state file, no lock file. */
  dryRun?: boolean;
  /** Sync even when SYNC_INTERVAL_MIN has not passed since the last sync. */
  force?: boolean;
  /** How long to wait for another process's sync to finish; 0: skip at once (the agent's pass). */
  lockWaitMs?: number;
  /** Scan time budget (the scanner's default when absent). */
  timeBudgetMs?: number;
  now?: () => number;
}

export interface SyncResult {
  dryRun: boolean;
  /** Set when nothing was done: not due yet, or another sync holds the lock. */
  skipped?: 'not-due' | 'busy';
  nextDueAt?: string;
  /** Rows inserted, updated, deleted (a dry run: that would be). */
  inserted: number;
  updated: number;
  deleted: number;
  unchanged: number;
  paths: { insert: string[]; update: string[]; delete: string[] };
  /** The scan stopped early: nothing was deleted. */
  truncated: ScanTruncation | null;
  /** Rows not seen but kept, because a folder above them could not be read this time. */
  kept: number;
  warnings: string[];
  /**
   * readMs: from asking for the stored rows (and opening the store, when it was still opening) to
   * having them, while the scan runs; scanMs: the scan's own time, without its wait for the rows
   * and the turns it gave the event loop, in which the connection's and the read's work ran;
   * scanWallMs: the scan from start to end; rowsWaitMs: how long the sync waited for the rows, the
   * part of the read the scan did not hide; applyMs: the comparison and the one SQL call.
   */
  timings: { readMs: number; scanMs: number; scanWallMs: number; rowsWaitMs: number; applyMs: number; totalMs: number };
}

const DEFAULT_LOCK_WAIT_MS = 60_000;

function emptyResult(dryRun: boolean): SyncResult {
  return {
    dryRun, inserted: 0, updated: 0, deleted: 0, unchanged: 0, paths: { insert: [], update: [], delete: [] },
    truncated: null, kept: 0, warnings: [], timings: { readMs: 0, scanMs: 0, scanWallMs: 0, rowsWaitMs: 0, applyMs: 0, totalMs: 0 },
  };
}

/**
 * The scanner reports an unreadable folder through its logger as { folder }. Collect those: a row
 * under such a folder is unseen, not gone (a permission change, a mount that is down), so it is
 * kept rather than deleted, which would lose its id and detach its jobs.
 */
function folderCollector(base: Logger | undefined): { logger: Logger; folders: string[] } {
  const folders: string[] = [];
  const warn = (obj: unknown, ...rest: unknown[]): void => {
    const folder = (obj as { folder?: unknown } | null)?.folder;
    if (typeof folder === 'string') folders.push(folder);
    (base?.warn as ((...a: unknown[]) => void) | undefined)?.call(base, obj, ...rest);
  };
  const logger = base
    ? new Proxy(base, { get: (target, key) => (key === 'warn' ? warn : Reflect.get(target, key)) })
    : Object.assign(silentLogger.child({}), { warn });
  return { logger, folders };
}

function underAny(path: string, folders: readonly string[]): boolean {
  return folders.some((f) => path.startsWith(f.endsWith('/') ? f : `${f}/`));
}

/** One sync: scan, diff, apply in one call. Honors the interval unless `force` or `dryRun`. */
export async function syncInventory(deps: SyncDeps, opts: SyncOptions = {}): Promise<SyncResult> {
  const { config, log } = deps;
  const dryRun = Boolean(opts.dryRun);
  const now = opts.now ?? Date.now;
  const t0 = performance.now();
  const result = emptyResult(dryRun);

  if (!opts.force && !dryRun) {
    const due = syncDue(readSyncState(config.dataDir, config.host), config.syncIntervalMin, now());
    if (!due.due) return { ...result, skipped: 'not-due', nextDueAt: due.nextAt?.toISOString() };
  }
  if (dryRun) return run();

  const lock = syncLockPath(config.dataDir, config.host);
  const wait = opts.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  if (wait > 0) return withFileLock(lock, wait, recorded);
  const release = tryLock(lock);
  if (!release) return { ...result, skipped: 'busy' };
  try {
    return await recorded();
  } finally {
    release();
  }

  /** A real sync, with its outcome written to the state file (failures too, for the retry delay). */
  async function recorded(): Promise<SyncResult> {
    const startedAt = new Date(now()).toISOString();
    const prev = readSyncState(config.dataDir, config.host);
    try {
      const r = await run();
      const state: SyncState = {
        lastSyncAt: startedAt, lastAttemptAt: startedAt,
        last: { inserted: r.inserted, updated: r.updated, deleted: r.deleted, unchanged: r.unchanged, ...(r.truncated ? { truncated: r.truncated } : {}) },
      };
      writeSyncState(config.dataDir, config.host, state);
      return r;
    } catch (err) {
      try {
        writeSyncState(config.dataDir, config.host, { ...prev, lastAttemptAt: startedAt, lastError: (err as Error).message });
      } catch {
        // the sync's own error is the one worth reporting
      }
      throw err;
    }
  }

  async function run(): Promise<SyncResult> {
    // The rows are read while the scan runs (and the store opens, when it is still opening): the
    // database's part is the server's work, on another core, and the scan yields a turn of the
    // event loop every few folders and stats, so each answer is taken as it comes. The scan needs
    // the rows only for the notebooks, once every file is stat'ed (`known` lets an unchanged one
    // keep its kernel without being reopened).
    const cached = deps.cacheKey && !dryRun ? readRowsCache(config.dataDir, config.host, deps.cacheKey) : null;
    const t1 = performance.now();
    let readMs = 0;
    const opened = Promise.resolve(deps.store);
    const reading = cached ? Promise.resolve(cached) : opened.then((store) => store.scriptsForSync()).then((r) => {
      readMs = performance.now() - t1;
      return r;
    });
    const known = reading.then(knownFromRows);
    known.catch(() => undefined); // a failed read is thrown by `await reading` below, not left unhandled
    const collector = folderCollector(log);
    const scan = await scanScripts({
      home: config.home,
      logDir: config.logDir,
      agentDir: config.agentDir,
      exclude: config.syncExclude,
      maxFiles: config.syncMaxFiles,
      timeBudgetMs: opts.timeBudgetMs,
      known,
      logger: collector.logger,
    });
    const t2 = performance.now();
    let rows: DbScriptRow[] = await reading;
    const t2rows = performance.now(); // t2 unless the scan had no notebook to wait for them with
    let diff = diffInventory(scan.files, rows, { truncated: scan.truncated });
    if (cached && diff.insert.length + diff.update.length + diff.delete.length > 0) {
      rows = await (await opened).scriptsForSync(); // something changed here: the difference is taken from the database's rows
      diff = diffInventory(scan.files, rows, { truncated: scan.truncated });
    }
    // Home itself unreadable (ENOENT, a mount that is down): nothing seen means nothing known.
    const homeUnreadable = collector.folders.some((f) => f.replace(/\/+$/, '') === config.home.replace(/\/+$/, ''));
    const deletes = homeUnreadable ? [] : diff.delete.filter((p) => !underAny(p, collector.folders)).sort(byCodeUnit);
    result.kept = diff.delete.length - deletes.length;
    if (result.kept) {
      scan.warnings.push(`${result.kept} script(s) under unreadable folders kept in the inventory; they are removed once their folder is readable and they are gone`);
    }
    result.truncated = scan.truncated ?? null;
    result.warnings = scan.warnings;
    result.unchanged = diff.unchanged;
    result.paths = { insert: diff.insert.map((f) => f.path), update: diff.update.map((f) => f.path), delete: deletes };
    result.inserted = diff.insert.length;
    result.updated = diff.update.length;
    result.deleted = deletes.length;

    const upserts: ScriptUpsert[] = [...diff.insert, ...diff.update].map((f) => ({
      path: f.path, type: f.type, size: f.size, mtime: f.mtime, kernel: f.kernel ?? null,
    }));
    if (!dryRun && (upserts.length || deletes.length)) {
      // The function's own counts: a row a concurrent `submit` added meanwhile is not counted twice.
      const applied = await (await opened).syncScripts({ upserts, deletes });
      result.inserted = applied.inserted;
      result.updated = applied.updated;
      result.deleted = applied.deleted;
    }
    // Kept from the last read of the database's rows, as this sync left them (a cache-only sync changes nothing).
    if (!dryRun && deps.cacheKey && (rows !== cached || upserts.length + deletes.length > 0)) {
      try {
        writeRowsCache(config.dataDir, config.host, deps.cacheKey, rows, { upserts, deletes });
      } catch (err) {
        // A stale cache only costs a read: the next sync finds a difference and reads the rows.
        log?.warn({ err: (err as Error).message }, 'could not keep the inventory rows cache');
      }
    }
    const t3 = performance.now();
    result.timings = {
      readMs: round(readMs), scanMs: round(t2 - t1 - scan.knownWaitMs - scan.turnsMs), scanWallMs: round(t2 - t1),
      rowsWaitMs: round(scan.knownWaitMs + t2rows - t2),
      applyMs: round(t3 - t2rows), totalMs: round(t3 - t0),
    };
    const changed = result.inserted + result.updated + result.deleted;
    log?.[changed ? 'info' : 'debug']({
      inserted: result.inserted, updated: result.updated, deleted: result.deleted, unchanged: result.unchanged,
      truncated: result.truncated, kept: result.kept, ms: result.timings.totalMs, dryRun,
    }, dryRun ? 'script inventory dry run' : 'script inventory synced');
    return result;
  }
}

const round = (x: number): number => Math.round(x * 10) / 10;
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
