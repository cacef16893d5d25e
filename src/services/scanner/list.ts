// Script inventory, scan phase 1: list the candidate script paths under home.
//
// Walk: tinyglobby (fdir underneath), reading folders through a small wrapper (the documented `fs`
// option). Excluded folders are pruned: the wrapper leaves the default names and the agent's own
// folders out of each folder's entries, and tinyglobby turns the user's `ignore` globs into
// fdir's `exclude(dirName, dirPath)` predicate; either way fdir never calls readdir on them
// (fdir 6.5 `Walker.walk`: `if (exclude(...)) continue`). A glob `name/**` also matches the folder
// `name` itself (picomatch), so `name` plus `name/**` prunes the folder and drops what is under it.
//
// Symlink policy: symlinks are never followed, neither to folders nor to files
// (`followSymbolicLinks: false` makes fdir skip every symlink entry). So nothing outside home is
// ever reached, a symlink loop cannot exist for the walk, and the result equals
// `find HOME ... -type f` (which does not follow symlinks either). A script reachable only via
// a symlink is found under its real path when that is inside home.
//
// Sync and async (mounts.ts): the part of home on local file systems is walked synchronously,
// the rest (home on NFS, a FUSE mount inside home ...) with the async `glob` under the hang
// guard. The sync walk does not enter a hang-prone mount: its readdir answers "empty" for one
// without touching it and notes it, so only the mounts the walk reaches (not pruned) are walked
// asynchronously afterwards, with the same patterns. With no LAB_SYNC_EXCLUDE glob there is nothing
// to match (the wrapper has kept only folders to enter and scripts), so the sync walk is a plain
// recursion over the same wrapper (walkPlain): tinyglobby's matcher setup and per-path matching
// were half of a cold listing (bench/sync-dry-run.ts).
//
// Errors: fdir swallows readdir errors silently, so the wrapper records one warning per
// unreadable folder, counts folders, and enforces the file and time limits by aborting the walk.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { planScanHere } from './mounts.js';
import { giveTurn, type Turns } from './turns.js';
import { scriptType, type ScanOptions, type ScanTruncation } from './types.js';

/**
 * tinyglobby, loaded when a walk needs it (a LAB_SYNC_EXCLUDE glob, a hang-prone mount): a local
 * home without globs is walked without it, so a cron tick's sync does not load it. In the CLI's
 * bundle esbuild turns this literal require into tinyglobby's bundled code; the tick's bundle
 * leaves it in node_modules (scripts/bundle.mjs); unbundled (tsc's dist/, tsx) createRequire loads it.
 */
const tinyglobby = (): typeof import('tinyglobby') => (typeof require === 'function' ? require('tinyglobby') : createRequire(import.meta.url)('tinyglobby'));

/** Folder names pruned at any depth. The first six are the original agent's list. */
export const DEFAULT_EXCLUDED_DIRS: readonly string[] = [
  '.venv', '.cache', '.local', 'anaconda3', '__pycache__', '.git',
  'node_modules', 'miniconda3', 'mambaforge', '.conda', 'envs', 'site-packages', '.ipynb_checkpoints',
];
export const DEFAULT_MAX_FILES = 50_000;
export const DEFAULT_TIME_BUDGET_MS = 20_000;

// When a folder read hangs (dead network mount) the walk cannot finish even after the abort;
// give up waiting this long after the budget.
const HANG_GRACE_MS = 2_000;
// Resolving home's symlinks for the mount plan: a stat that may itself hang.
const PLAN_TIMEOUT_MS = 2_000;
/** Every file the walk is handed is a script candidate already (see `read` below). `**` alone
 * would not do: tinyglobby walks from a pattern's static prefix, but for `a/**` from a's parent
 * (the glob also matches `a` itself). */
const EVERYTHING = '**/*';
const PRUNED_NAMES: ReadonlySet<string> = new Set(DEFAULT_EXCLUDED_DIRS);
/** Folders the plain walk reads between two turns of the event loop (~1–2 ms here). */
const FOLDERS_PER_TURN = 8;

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

/** The folders pruned by path: the job log folder and the agent's own, when inside home (absolute,
 * under home as the walk names it). */
function prunedFolders(opts: Pick<ScanOptions, 'home' | 'logDir' | 'agentDir'>): Set<string> {
  const folders = new Set<string>();
  for (const dir of [opts.logDir, opts.agentDir]) {
    const rel = dir ? insideHome(opts.home, dir) : undefined;
    if (rel !== undefined) folders.add(join(opts.home, rel));
  }
  return folders;
}

/** The user's LAB_SYNC_EXCLUDE as tinyglobby ignore globs (relative to home). */
function userIgnorePatterns(opts: Pick<ScanOptions, 'home' | 'exclude'>): string[] {
  const patterns: string[] = [];
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

export interface Budget {
  start: number;
  deadline: number;
}

export interface Listing {
  paths: string[];
  truncated?: ScanTruncation;
  warnings: string[];
  dirsScanned: number;
  /** Folders whose files may hang a stat (mounts.ts): stat them asynchronously. */
  asyncRoots: string[];
}

/**
 * The sync walk when there is no glob to match: `readdir` (list's wrapper) hands back only folders
 * to enter and scripts, so what tinyglobby would do with them is to enter the one and keep the
 * other. Folders are named with a trailing slash and paths absolute, as fdir names them. Every
 * FOLDERS_PER_TURN folders it lets the event loop turn (the sync's database work goes on meanwhile).
 */
async function walkPlain(home: string, readdir: (folder: string) => fs.Dirent[], turns: Turns | undefined): Promise<string[]> {
  const found: string[] = [];
  const pending: string[] = [];
  const root = resolve(home);
  pending.push(root.endsWith('/') ? root : `${root}/`);
  for (let read = 1; pending.length; read++) {
    const folder = pending.pop()!;
    for (const entry of readdir(folder)) {
      if (entry.isDirectory()) pending.push(`${folder}${entry.name}/`);
      else found.push(folder + entry.name);
    }
    if (read % FOLDERS_PER_TURN === 0) await giveTurn(turns);
  }
  return found;
}

const folderName = (path: string): string => (path.length > 1 ? path.replace(/\/$/, '') : path);

/** Phase 1: list candidate script paths (absolute, unsorted). */
export async function listScripts(opts: ScanOptions & { budget?: Budget; turns?: Turns }): Promise<Listing> {
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
  /** Checked before every folder read: true when the walk is over (limit or time reached). */
  const over = (): boolean => {
    if (!controller.signal.aborted && performance.now() >= budget.deadline) stop('time');
    return controller.signal.aborted;
  };
  let candidates = 0;
  let dirsScanned = 0;
  /**
   * One folder read: counted, its candidates counted; an error is one warning. Only what the scan
   * wants goes on to the walk: folders not pruned by name (DEFAULT_EXCLUDED_DIRS, at any depth)
   * or path (the log and agent folders), and `*.py` / `*.ipynb` regular files. So a pruned
   * folder is never read, and tinyglobby's matcher (picomatch, a regular expression per path,
   * most of a fresh process's walk time) sees only the user's LAB_SYNC_EXCLUDE globs. Symlinks,
   * FIFOs ... were never taken by the walk.
   */
  const read = (path: string, isRoot: boolean, err: NodeJS.ErrnoException | null, entries: fs.Dirent[] | undefined): fs.Dirent[] => {
    dirsScanned++;
    if (err || !entries) {
      const folder = folderName(path);
      // A folder removed or replaced by a file since its parent was listed: not worth a word.
      const vanished = !isRoot && (err?.code === 'ENOENT' || err?.code === 'ENOTDIR');
      if (!vanished) warn({ folder, code: err?.code }, `cannot read folder ${folder} (${err?.code ?? err?.message}): skipped`);
      return [];
    }
    const base = path.endsWith('/') ? path : `${path}/`; // fdir names folders with a trailing slash
    const kept: fs.Dirent[] = [];
    for (const e of entries) {
      if (e.isDirectory()) {
        if (!PRUNED_NAMES.has(e.name) && !(pruned.size && pruned.has(base + e.name))) kept.push(e);
      } else if (scriptType(e.name) && e.isFile()) {
        // Candidates, not results: a file a user glob drops still counts, so with file-level
        // LAB_SYNC_EXCLUDE globs the walk may stop a little early (and says so).
        candidates++;
        kept.push(e);
      }
    }
    return kept;
  };

  const pruned = prunedFolders(opts);
  const globOptions = {
    cwd: opts.home, absolute: true, dot: true, onlyFiles: true, followSymbolicLinks: false, expandDirectories: false,
    ignore: userIgnorePatterns(opts), signal: controller.signal,
  };
  const plan = await planScanHere(opts.home, { mountinfo: opts.mountinfo, timeoutMs: PLAN_TIMEOUT_MS });
  const paths: string[] = [];
  const asyncRoots = plan.homeMayHang ? [opts.home] : [];

  if (!plan.homeMayHang) {
    const deferred = new Set(plan.asyncRoots);
    let first = true;
    const readdirSync = (path: string, options: { withFileTypes: true }): fs.Dirent[] => {
      if (candidates > maxFiles) stop('max-files'); // after the folder that crossed the limit was taken whole
      if (over()) return [];
      if (deferred.has(folderName(path))) {
        asyncRoots.push(folderName(path)); // reached, not pruned: read asynchronously below
        return [];
      }
      const isRoot = first;
      first = false;
      try {
        return read(path, isRoot, null, fs.readdirSync(path, options));
      } catch (err) {
        return read(path, isRoot, err as NodeJS.ErrnoException, undefined);
      }
    };
    const withTypes = { withFileTypes: true } as const;
    paths.push(...(globOptions.ignore.length === 0
      ? await walkPlain(opts.home, (path) => readdirSync(path, withTypes), opts.turns)
      // fs.readdirSync is overloaded; fdir only ever calls the (path, { withFileTypes: true }) form.
      : tinyglobby().globSync(EVERYTHING, { ...globOptions, fs: { readdirSync: readdirSync as typeof fs.readdirSync } })));
    if (candidates > maxFiles) stop('max-files');
  }

  if (asyncRoots.length && !controller.signal.aborted) {
    const timer = setTimeout(() => stop('time'), Math.max(0, budget.deadline - performance.now()));
    timer.unref();
    let hang: NodeJS.Timeout | undefined;
    try {
      const walks = asyncRoots.map((root) => walkAsync(root).then((found) => void paths.push(...found)));
      const hung = new Promise<'hung'>((resolve) => {
        hang = setTimeout(() => resolve('hung'), Math.max(0, budget.deadline - performance.now()) + HANG_GRACE_MS);
        hang.unref();
      });
      const all = Promise.all(walks);
      all.catch(() => {}); // if it loses the race, a late failure must not go unhandled
      if ((await Promise.race([all, hung])) === 'hung') {
        stop('time');
        warn({ home: opts.home }, `script scan of ${opts.home} did not finish: a folder read is hanging (network mount?)`);
      }
    } finally {
      clearTimeout(timer);
      if (hang) clearTimeout(hang);
    }
  }

  /** One hang-prone folder (home, or a mount inside it), walked with the async glob. */
  function walkAsync(root: string): Promise<string[]> {
    type ReaddirCb = (err: NodeJS.ErrnoException | null, entries?: fs.Dirent[]) => void;
    let first = true;
    const readdir = (path: string, options: { withFileTypes: true }, cb: ReaddirCb): void => {
      if (over()) {
        // The walk ignores entries once aborted; answer without touching the disk.
        process.nextTick(cb, null, []);
        return;
      }
      const isRoot = first; // fdir reads the root first
      first = false;
      fs.readdir(path, options, (err, entries) => {
        cb(err, read(path, isRoot, err, entries)); // the walk takes this folder's entries synchronously ...
        if (candidates > maxFiles) stop('max-files'); // ... so stopping after keeps them
      });
    };
    const rel = relative(opts.home, root);
    // A mount inside home: the same patterns, rooted there (tinyglobby walks from a pattern's static prefix).
    const { glob, escapePath } = tinyglobby();
    return glob(rel ? `${escapePath(rel)}/${EVERYTHING}` : EVERYTHING, {
      ...globOptions,
      // fs.readdir is overloaded; fdir only ever calls the (path, { withFileTypes: true }, cb) form.
      fs: { readdir: readdir as typeof fs.readdir },
    });
  }

  for (const p of paths) {
    // Node decodes names as UTF-8; an invalid name comes back with U+FFFD and cannot be opened
    // (nor stored as text), so say so instead of dropping it silently later.
    if (p.includes('\uFFFD')) warn({ path: p }, `file name is not valid UTF-8, skipped: ${p}`);
  }
  return { paths: paths.filter((p) => !p.includes('\uFFFD')), truncated, warnings, dirsScanned, asyncRoots };
}
