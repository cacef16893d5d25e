// Script inventory, scan part: find the user's *.py / *.ipynb files under their home folder.
// Phase 1 lists the candidates with a pruned walk (list.ts), phase 2 stats them and reads
// notebook kernels (describe.ts); both read local file systems synchronously and those that may
// hang asynchronously (mounts.ts).
import { listScripts, DEFAULT_MAX_FILES, DEFAULT_TIME_BUDGET_MS, type Budget } from './list.js';
import { describeFiles } from './describe.js';
import type { Turns } from './turns.js';
import type { ScanOptions, ScanResult } from './types.js';

export { readNotebookKernel, findKernel } from './kernel.js';
export { listScripts, DEFAULT_EXCLUDED_DIRS } from './list.js';
export { describeFiles } from './describe.js';
export type { ScannedFile, ScanTruncation, ScanOptions, KnownFile, ScanResult } from './types.js';

/** Scan home for scripts: list (pruned walk), then stat and read notebook kernels. */
export async function scanScripts(opts: ScanOptions): Promise<ScanResult> {
  const start = performance.now();
  const maxFiles = opts.maxFiles ?? DEFAULT_MAX_FILES;
  const timeBudgetMs = opts.timeBudgetMs ?? DEFAULT_TIME_BUDGET_MS;
  const budget: Budget = { start, deadline: start + timeBudgetMs };
  const turns: Turns = { givenMs: 0 };
  const listed = await listScripts({ ...opts, budget, turns });
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
    asyncRoots: listed.asyncRoots,
    logger: opts.logger,
    warnings,
    turns,
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
  return { files, truncated, warnings, elapsedMs: Math.round(performance.now() - start), knownWaitMs: described.knownWaitMs, turnsMs: turns.givenMs, dirsScanned: listed.dirsScanned };
}
