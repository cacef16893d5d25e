// Script inventory, scan phase 2: stat the listed paths, then read the kernels of the notebooks
// that changed since the last sync.
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';
import { readNotebookKernel } from './kernel.js';
import { giveTurn, type Turns } from './turns.js';
import { scriptType, type KnownFile, type ScannedFile, type ScriptType } from './types.js';

const STAT_CONCURRENCY = 64;
/** Synchronous stats between two turns of the event loop (~1–2 ms here): work waiting on a socket
 * meanwhile (the sync's store opening, its rows) goes on. */
const STATS_PER_TURN = 128;

export interface DescribeOptions {
  readKernels?: boolean;
  /** What the inventory holds; may still be on its way (the sync reads the rows while the scan
   * runs): it is awaited only after every path is stat'ed, when the notebooks are looked at. */
  known?: ReadonlyMap<string, KnownFile> | PromiseLike<ReadonlyMap<string, KnownFile> | undefined>;
  deadline?: number;
  /** Folders on file systems that may hang (list.ts, mounts.ts): their files are stat'ed
   * asynchronously, every other one with lstatSync. Absent: every file asynchronously. */
  asyncRoots?: readonly string[];
  logger?: Logger;
  warnings?: string[];
  /** Where the turns given to the event loop are counted (turns.ts). */
  turns?: Turns;
}

/** Phase 2: stat the listed paths, then read the kernels of notebooks not known unchanged. */
export async function describeFiles(paths: readonly string[], opts: DescribeOptions = {}): Promise<{ files: ScannedFile[]; timedOut: boolean; knownWaitMs: number }> {
  const { files, timedOut } = await statFiles(paths, opts);
  const notebooks = files.filter((f) => f.type === 'ipynb');
  if (notebooks.length === 0) return { files, timedOut, knownWaitMs: 0 };
  const waitStart = performance.now();
  const known = await opts.known;
  const knownWaitMs = performance.now() - waitStart;
  const toRead: ScannedFile[] = [];
  for (const file of notebooks) {
    const prev = known?.get(file.path);
    if (prev && prev.kernel !== undefined && prev.size === file.size && prev.mtimeMs === file.mtimeMs) {
      if (prev.kernel) file.kernel = prev.kernel; // unchanged since the last sync: not opened
    } else if (opts.readKernels ?? true) {
      toRead.push(file);
    }
  }
  // Every notebook stat'ed is read, even past the deadline: a missing kernel would read as a change.
  await forEachWindowed(toRead, STAT_CONCURRENCY, async (file) => {
    const kernel = await readNotebookKernel(file.path, file.size).catch(() => undefined); // unreadable: listed without a kernel
    if (kernel) file.kernel = kernel;
  });
  return { files, timedOut, knownWaitMs };
}

/** `fn` over `items`, at most `window` at a time. */
async function forEachWindowed<T>(items: readonly T[], window: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(window, items.length) }, worker));
}

/** lstat each listed path (a path swapped for a symlink is not followed). Paths that are gone or
 * no longer regular files are skipped silently. Stops at the deadline.
 * On a local file system a stat cannot hang, and lstatSync in a plain loop costs a third of the
 * asynchronous call; under a folder that may hang (a stat on a stuck network mount must not freeze
 * the agent) it is asynchronous, after the local ones: plain callbacks with a window of
 * STAT_CONCURRENCY in flight, since fs/promises was measurably slower here (bench/scan.ts). */
async function statFiles(paths: readonly string[], opts: DescribeOptions): Promise<{ files: ScannedFile[]; timedOut: boolean }> {
  const files: ScannedFile[] = [];
  const deadline = opts.deadline ?? Infinity;
  const asyncRoots = opts.asyncRoots?.map((r) => (r.endsWith('/') ? r : `${r}/`));
  const mayHang = !asyncRoots ? () => true : asyncRoots.length === 0 ? () => false : (path: string) => asyncRoots.some((r) => path.startsWith(r));
  const deniedDirs = new Set<string>();
  const failed = (path: string, err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EACCES' && err.code !== 'EPERM') return; // ENOENT, ENOTDIR: gone since the listing
    // A folder listable but not searchable (r without x): one warning for the folder.
    const dir = dirname(path);
    if (deniedDirs.has(dir)) return;
    deniedDirs.add(dir);
    const msg = `cannot read files in folder ${dir} (${err.code}): skipped`;
    opts.warnings?.push(msg);
    opts.logger?.warn({ folder: dir, code: err.code }, msg);
  };
  const take = (path: string, type: ScriptType, st: fs.Stats): void => {
    if (!st.isFile()) return; // replaced by a folder, a symlink, a FIFO ... since the listing
    const mtimeMs = st.mtime.getTime(); // whole ms (Node rounds mtimeMs into the Date it makes anyway)
    files.push({ path, type, size: st.size, mtime: st.mtime.toISOString(), mtimeMs });
  };
  const later: string[] = [];
  let n = 0;
  for (const path of paths) {
    // the clock read every 32 paths: per path it was a noticeable part of the loop
    if ((n & 31) === 0 && performance.now() >= deadline) return { files, timedOut: true };
    if (++n % STATS_PER_TURN === 0) await giveTurn(opts.turns);
    const type = scriptType(path);
    if (!type) continue;
    if (mayHang(path)) {
      later.push(path);
      continue;
    }
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(path, { throwIfNoEntry: false });
    } catch (err) {
      failed(path, err as NodeJS.ErrnoException);
      continue;
    }
    if (st) take(path, type, st);
  }
  const timedOut = later.length > 0 && !(await statAsync(later, deadline, (path, err, st) => {
    if (err) failed(path, err);
    else if (st) take(path, scriptType(path)!, st);
  }));
  return { files, timedOut };
}

/** lstat each path asynchronously, STAT_CONCURRENCY at a time; false if the deadline cut it short. */
function statAsync(paths: readonly string[], deadline: number, done: (path: string, err: NodeJS.ErrnoException | null, st?: fs.Stats) => void): Promise<boolean> {
  let next = 0;
  let active = 0;
  let finished = true;
  return new Promise((resolve) => {
    const pump = (): void => {
      while (active < STAT_CONCURRENCY && next < paths.length) {
        if (performance.now() >= deadline) {
          finished = false;
          next = paths.length;
          break;
        }
        const path = paths[next++]!;
        active++;
        fs.lstat(path, (err, st) => {
          active--;
          done(path, err, st);
          pump();
        });
      }
      if (active === 0 && next >= paths.length) resolve(finished);
    };
    pump();
  });
}
