// GNU find with the script scan's pruning (DEFAULT_EXCLUDED_DIRS and the agent's two folders): the
// reference the scan is measured against (bench/scan.ts, bench/sync-dry-run.ts).
import { spawnSync } from 'node:child_process';
import { DEFAULT_EXCLUDED_DIRS } from '../../src/services/scanner/scan.js';

export function findArgsFor(home: { home: string; logDir: string; agentDir: string }): string[] {
  const args = [home.home, '('];
  DEFAULT_EXCLUDED_DIRS.forEach((d, i) => args.push(...(i ? ['-o'] : []), '-name', d));
  args.push('-o', '-path', home.logDir, '-o', '-path', home.agentDir, ')', '-prune', '-o',
    '(', '-name', '*.py', '-o', '-name', '*.ipynb', ')', '-type', 'f', '-print0');
  return args;
}

/** One find run, timed around the spawn (as a person would time it). */
export function runFind(args: string[]): { ms: number; out: string } {
  const t = performance.now();
  const r = spawnSync('find', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`find failed (${r.status}): ${r.stderr}`);
  return { ms, out: r.stdout };
}
