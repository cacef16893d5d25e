// Script inventory, the scan's vocabulary: what it is asked, what it finds.
import type { Logger } from '../logger.js';

export type ScriptType = 'py' | 'ipynb';

export function scriptType(name: string): ScriptType | undefined {
  if (name.endsWith('.py')) return 'py';
  if (name.endsWith('.ipynb')) return 'ipynb';
  return undefined;
}

export interface ScannedFile {
  /** Absolute path, exactly as the file system returned it (no Unicode normalization). */
  path: string;
  type: ScriptType;
  size: number;
  /** ISO 8601, UTC, millisecond precision. */
  mtime: string;
  /** The same instant as whole epoch milliseconds (what the comparison with the rows uses). */
  mtimeMs: number;
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
   * mtime are unchanged keeps its stored kernel and is not opened. A promise is awaited only once
   * every file is stat'ed, so the rows can be read while the scan walks. */
  known?: ReadonlyMap<string, KnownFile> | PromiseLike<ReadonlyMap<string, KnownFile> | undefined>;
  /** The mount table to plan the walk with (mounts.ts), as /proc/self/mountinfo's text; read from
   * /proc when absent; null: not known, so every folder is read asynchronously. For tests. */
  mountinfo?: string | null;
  logger?: Logger;
}

export interface KnownFile {
  size: number;
  /** Whole epoch milliseconds, as in ScannedFile.mtimeMs (Node rounds stat times to the ms). */
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
  /** Of elapsedMs, the time spent waiting for `known` when it was given as a promise. */
  knownWaitMs: number;
  /** Of elapsedMs, the turns the scan gave the event loop for other work (turns.ts). */
  turnsMs: number;
  /** Folders read (pruned folders are never read): for diagnostics and the benchmark. */
  dirsScanned: number;
}
