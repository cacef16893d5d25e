// Script inventory, scan part: find the user's *.py / *.ipynb files under their home folder.
//
// Walk: tinyglobby (fdir underneath). Excluded folders are pruned: tinyglobby turns `ignore`
// into fdir's `exclude(dirName, dirPath)` predicate, and fdir skips a directory for which it
// returns true without ever calling readdir on it (fdir 6.5 `Walker.walk`: `if (exclude(...))
// continue`). A pattern `**/name/**` also matches the folder `.../name` itself (picomatch), so
// that one pattern both prunes the folder and drops anything under it.
//
// Symlink policy: symlinks are never followed, neither to folders nor to files
// (`followSymbolicLinks: false` makes fdir skip every symlink entry). So nothing outside home is
// ever reached, a symlink loop cannot exist for the walk, and the result equals
// `find HOME ... -type f` (which does not follow symlinks either). A script reachable only via
// a symlink is found under its real path when that is inside home.
//
// Errors: fdir swallows readdir errors silently, so readdir goes through a small wrapper (the
// documented `fs` option) that records one warning per unreadable folder, counts folders, and
// enforces the file and time limits by aborting the walk.
import * as fs from 'node:fs';
import { isAbsolute, relative, dirname } from 'node:path';
import { glob, escapePath } from 'tinyglobby';
import type { Logger } from '../logger.js';
import { readNotebookKernel } from './kernel.js';

export { readNotebookKernel, findKernel } from './kernel.js';

type ScriptType = 'py' | 'ipynb';

export interface ScannedFile {
  /** Absolute path, exactly as the file system returned it (no Unicode normalization). */
  path: string;
  type: ScriptType;
  size: number;
  /** ISO 8601, UTC, millisecond precision. */
  mtime: string;
  /** Notebooks only: metadata.kernelspec.name, when found cheaply. */
  kernel?: string;
}

export type ScanTruncation = 'max-files' | 'time';

export interface ScanOptions {
  /** The home folder to scan (absolute). */
  home: string;
  /** Absolute paths of the job log folder and the agent's own folder: pruned when inside home. */
  logDir?: string;
  agentDir?: string;
  /** Extra user globs (LAB_SYNC_EXCLUDE), gitignore-like: relative to home; a pattern without
   * `/` matches at any depth; `~/x` and absolute paths inside home are accepted. */
  exclude?: readonly string[];
  /** Stop after this many scripts (default 50,000). */
  maxFiles?: number;
  /** Stop listing after this many milliseconds (default 20,000); describing what was listed may
   * take up to a quarter more. */
  timeBudgetMs?: number;
  /** Read notebook kernel names (default true). */
  readKernels?: boolean;
  /** What the inventory already holds (see knownFromRows in diff.ts): a notebook whose size and
   * mtime are unchanged keeps its stored kernel and is not opened. */
  known?: ReadonlyMap<string, KnownFile>;
  logger?: Logger;
}

export interface KnownFile {
  size: number;
  /** Whole epoch milliseconds, as in ScannedFile.mtime (Node rounds stat times to the ms). */
  mtimeMs: number;
  /** undefined: not known (the notebook is read); null: known to have none. */
  kernel?: string | null;
}

export interface ScanResult {
  /** Sorted by path (UTF-16 code unit order). */
  files: ScannedFile[];
  /** Set when the scan stopped early: the inventory is incomplete, so do not delete from it. */
  truncated?: ScanTruncation;
  warnings: string[];
  elapsedMs: number;
  /** Folders read (pruned folders are never read): for diagnostics and the benchmark. */
  dirsScanned: number;
}

/** Folder names pruned at any depth. The first six are the original agent's list. */
export const DEFAULT_EXCLUDED_DIRS: readonly string[] = [
  '.venv', '.cache', '.local', 'anaconda3', '__pycache__', '.git',
  'node_modules', 'miniconda3', 'mambaforge', '.conda', 'envs', 'site-packages', '.ipynb_checkpoints',
];
const DEFAULT_MAX_FILES = 50_000;
const DEFAULT_TIME_BUDGET_MS = 20_000;

// When a folder read hangs (dead network mount) the walk cannot finish even after the abort;
// give up waiting this long after the budget.
const HANG_GRACE_MS = 2_000;

function scriptType(name: string): ScriptType | undefined {
  if (name.endsWith('.py')) return 'py';
  if (name.endsWith('.ipynb')) return 'ipynb';
  return undefined;
}

/** A path relative to home when it lies strictly inside home, else undefined. */
function insideHome(home: string, p: string): string | undefined {
  const tryRel = (h: string, q: string): string | undefined => {
    const rel = relative(h, q);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : undefined;
  };
  const direct = tryRel(home, p);
  if (direct !== undefined) return direct;
  try {
    return tryRel(fs.realpathSync(home), fs.realpathSync(p)); // home or the folder given via a symlink
  } catch {
    return undefined;
  }
}

/** The ignore globs (relative to home) for tinyglobby. */
function buildIgnorePatterns(opts: Pick<ScanOptions, 'home' | 'logDir' | 'agentDir' | 'exclude'>): string[] {
  // One brace pattern, not one per name: picomatch tests an array of patterns one by one, and this
  // runs for every folder and every candidate file.
  const patterns = [`**/{${DEFAULT_EXCLUDED_DIRS.map(escapePath).join(',')}}/**`];
  for (const dir of [opts.logDir, opts.agentDir]) {
    if (!dir) continue;
    const rel = insideHome(opts.home, dir);
    if (rel !== undefined) patterns.push(`${escapePath(rel)}/**`);
  }
  for (const raw of opts.exclude ?? []) {
    let g = raw.trim();
    if (!g) continue;
    if (g.startsWith('~/')) g = g.slice(2);
    else if (isAbsolute(g)) {
      const rel = relative(opts.home, g);
      if (!rel || rel.startsWith('..')) continue; // outside home: nothing to exclude
      g = rel;
    }
    g = g.replace(/\/+$/, '');
    if (!g) continue;
    if (!g.includes('/')) g = `**/${g}`;
    // `g` prunes a matching folder (and drops a matching file); `g/**` drops what is under it.
    patterns.push(g, `${g}/**`);
  }
  return patterns;
}

interface Budget {
  start: number;
  deadline: number;
}

/** Phase 1: list candidate script paths (absolute, unsorted). */
export async function listScripts(opts: ScanOptions & { budget?: Budget }): Promise<{
  paths: string[];
  truncated?: ScanTruncation;
  warnings: string[];
  dirsScanned: number;
}> {
  const maxFiles = opts.maxFiles ?? DEFAULT_MAX_FILES;
  const start = performance.now();
  const budget = opts.budget ?? { start, deadline: start + (opts.timeBudgetMs ?? DEFAULT_TIME_BUDGET_MS) };
  const warnings: string[] = [];
  const warn = (obj: Record<string, unknown>, msg: string): void => {
    warnings.push(msg);
    opts.logger?.warn(obj, msg);
  };
  const controller = new AbortController();
  let truncated: ScanTruncation | undefined;
  const stop = (why: ScanTruncation): void => {
    if (controller.signal.aborted) return;
    truncated = why;
    controller.abort();
  };
  let candidates = 0;
  let dirsScanned = 0;

  type ReaddirCb = (err: NodeJS.ErrnoException | null, entries?: fs.Dirent[]) => void;
  const readdir = (path: string, options: { withFileTypes: true }, cb: ReaddirCb): void => {
    if (!controller.signal.aborted && performance.now() >= budget.deadline) stop('time');
    if (controller.signal.aborted) {
      // The walk ignores entries once aborted; answer without touching the disk.
      process.nextTick(cb, null, []);
      return;
    }
    const isRoot = dirsScanned++ === 0; // fdir reads the root first
    fs.readdir(path, options, (err, entries) => {
      if (err) {
        const folder = path.length > 1 ? path.replace(/\/$/, '') : path;
        // A folder removed or replaced by a file since its parent was listed: not worth a word.
        const vanished = !isRoot && (err.code === 'ENOENT' || err.code === 'ENOTDIR');
        if (!vanished) warn({ folder, code: err.code }, `cannot read folder ${folder} (${err.code ?? err.message}): skipped`);
        cb(err, []);
        return;
      }
      // Candidates, not results: a file a user glob drops still counts, so with file-level
      // LAB_SYNC_EXCLUDE globs the walk may stop a little early (and says so).
      for (const e of entries) if (scriptType(e.name) && e.isFile()) candidates++;
      cb(null, entries); // the walk takes this folder's entries synchronously ...
      if (candidates > maxFiles) stop('max-files'); // ... so stopping after keeps them
    });
  };

  const ignore = buildIgnorePatterns(opts);
  const timer = setTimeout(() => stop('time'), Math.max(0, budget.deadline - performance.now()));
  timer.unref();
  let hang: NodeJS.Timeout | undefined;
  let paths: string[];
  try {
    const walk = glob('**/*.{py,ipynb}', {
      cwd: opts.home,
      absolute: true,
      dot: true,
      onlyFiles: true,
      followSymbolicLinks: false,
      expandDirectories: false,
      ignore,
      signal: controller.signal,
      // fs.readdir is overloaded; fdir only ever calls the (path, { withFileTypes: true }, cb) form.
      fs: { readdir: readdir as typeof fs.readdir },
    });
    const hung = new Promise<'hung'>((resolve) => {
      hang = setTimeout(() => resolve('hung'), Math.max(0, budget.deadline - performance.now()) + HANG_GRACE_MS);
      hang.unref();
    });
    walk.catch(() => {}); // if it loses the race, a late failure must not go unhandled
    const out = await Promise.race([walk, hung]);
    if (out === 'hung') {
      stop('time');
      warn({ home: opts.home }, `script scan of ${opts.home} did not finish: a folder read is hanging (network mount?)`);
      paths = [];
    } else {
      paths = out;
    }
  } finally {
    clearTimeout(timer);
    if (hang) clearTimeout(hang);
  }
  for (const p of paths) {
    // Node decodes names as UTF-8; an invalid name comes back with U+FFFD and cannot be opened
    // (nor stored as text), so say so instead of dropping it silently later.
    if (p.includes('\uFFFD')) warn({ path: p }, `file name is not valid UTF-8, skipped: ${p}`);
  }
  return { paths: paths.filter((p) => !p.includes('\uFFFD')), truncated, warnings, dirsScanned };
}

const STAT_CONCURRENCY = 64;

/** Phase 2: stat the listed paths (lstat: a path swapped for a symlink is not followed). Paths that
 * are gone or no longer regular files are skipped silently. Stops at the deadline.
 * Async (a stat on a stuck network mount must not freeze the agent), plain callbacks with a
 * window of STAT_CONCURRENCY in flight: this is the per-file hot path, and fs/promises was
 * measurably slower here (bench/scan.ts). */
export function describeFiles(
  paths: readonly string[],
  opts: { readKernels?: boolean; known?: ReadonlyMap<string, KnownFile>; deadline?: number; logger?: Logger; warnings?: string[] } = {},
): Promise<{ files: ScannedFile[]; timedOut: boolean }> {
  const files: ScannedFile[] = [];
  const readKernels = opts.readKernels ?? true;
  const deadline = opts.deadline ?? Infinity;
  const deniedDirs = new Set<string>();
  let next = 0;
  let active = 0;
  let timedOut = false;
  return new Promise((resolve) => {
    const denied = (path: string, code: string): void => {
      // A folder listable but not searchable (r without x): one warning for the folder.
      const dir = dirname(path);
      if (deniedDirs.has(dir)) return;
      deniedDirs.add(dir);
      const msg = `cannot read files in folder ${dir} (${code}): skipped`;
      opts.warnings?.push(msg);
      opts.logger?.warn({ folder: dir, code }, msg);
    };
    const done = (): void => {
      active--;
      pump();
    };
    const describe = (path: string, type: ScriptType, err: NodeJS.ErrnoException | null, st: fs.Stats): void => {
      if (err) {
        if (err.code === 'EACCES' || err.code === 'EPERM') denied(path, err.code);
        return done(); // ENOENT, ENOTDIR: gone since the listing
      }
      if (!st.isFile()) return done(); // replaced by a folder, a symlink, a FIFO ... since the listing
      const file: ScannedFile = { path, type, size: st.size, mtime: st.mtime.toISOString() };
      files.push(file);
      if (type !== 'ipynb') return done();
      const prev = opts.known?.get(path);
      if (prev && prev.kernel !== undefined && prev.size === st.size && prev.mtimeMs === st.mtime.getTime()) {
        if (prev.kernel) file.kernel = prev.kernel; // unchanged since the last sync: not opened
        return done();
      }
      if (!readKernels) return done();
      readNotebookKernel(path, st.size).then(
        (kernel) => {
          if (kernel) file.kernel = kernel;
          done();
        },
        done, // unreadable notebook: still listed, just without a kernel
      );
    };
    const pump = (): void => {
      while (active < STAT_CONCURRENCY && next < paths.length) {
        if (performance.now() >= deadline) {
          timedOut = true;
          next = paths.length;
          break;
        }
        const path = paths[next++]!;
        const type = scriptType(path);
        if (!type) continue;
        active++;
        fs.lstat(path, (err, st) => describe(path, type, err, st));
      }
      if (active === 0 && next >= paths.length) resolve({ files, timedOut });
    };
    pump();
  });
}

/** Scan home for scripts: list (pruned walk), then stat and read notebook kernels. */
export async function scanScripts(opts: ScanOptions): Promise<ScanResult> {
  const start = performance.now();
  const maxFiles = opts.maxFiles ?? DEFAULT_MAX_FILES;
  const timeBudgetMs = opts.timeBudgetMs ?? DEFAULT_TIME_BUDGET_MS;
  const budget: Budget = { start, deadline: start + timeBudgetMs };
  const listed = await listScripts({ ...opts, budget });
  const warnings = listed.warnings;
  let truncated = listed.truncated;
  // Sort before cutting so a truncated inventory is at least a stable prefix.
  const paths = listed.paths.sort();
  if (paths.length > maxFiles) {
    truncated ??= 'max-files';
    paths.length = maxFiles;
  }
  // A walk that ran out of time still yields what it found: the stat phase gets at least a quarter
  // of the budget (so the bound is 1.25 x budget), else a huge home would never be inventoried.
  const deadline = Math.max(budget.deadline, performance.now() + timeBudgetMs / 4);
  const described = await describeFiles(paths, {
    readKernels: opts.readKernels,
    known: opts.known,
    deadline,
    logger: opts.logger,
    warnings,
  });
  if (described.timedOut) truncated ??= 'time';
  const files = described.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (truncated) {
    const why = truncated === 'max-files'
      ? `more than ${maxFiles} scripts`
      : `time budget of ${timeBudgetMs} ms spent`;
    const msg = `script scan of ${opts.home} stopped early (${why}); the inventory is incomplete. Exclude big folders with LAB_SYNC_EXCLUDE.`;
    warnings.push(msg);
    opts.logger?.warn({ home: opts.home, truncated, found: files.length }, msg);
  }
  return { files, truncated, warnings, elapsedMs: Math.round(performance.now() - start), dirsScanned: listed.dirsScanned };
}
