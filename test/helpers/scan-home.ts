// Temporary homes for the scanner tests (scanner.test.ts, scanner-mounts.test.ts): real folders
// under os.tmpdir(), removed after the file's tests, and a scan as an unprivileged user.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, chmodSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { scanScripts, type ScanOptions, type ScanResult, type ScannedFile } from '../../src/services/scanner/scan.js';
import { repoRoot, requirePart } from './required.js';

const made: string[] = [];
after(() => {
  for (const dir of made) {
    restorePerms(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A fresh temp folder, world-traversable so a child running as another uid can read it. */
export function tempDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `scan-${tag}-`));
  chmodSync(dir, 0o755);
  made.push(dir);
  return dir;
}

/** Folders a test made unreadable: given their permissions back before removal. */
export const locked: string[] = [];
function restorePerms(root: string): void {
  for (const p of locked) if (p.startsWith(root) && existsSync(p)) chmodSync(p, 0o755);
}

/** Create files (relative paths) with optional content; folders are made as needed. */
export function put(home: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(home, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

export const rels = (home: string, r: { files: ScannedFile[] }): string[] => r.files.map((f) => relative(home, f.path)).sort();

type ChildScanOptions = Pick<ScanOptions, 'mountinfo'>;

// Permission checks only bite for a non-root user: as root, run the scan in a child process with
// a throwaway uid (setpriv from util-linux); as any other user, chmod is enough in-process.
export async function scanAsUnprivileged(home: string, opts: ChildScanOptions = {}): Promise<ScanResult> {
  if (process.getuid?.() !== 0) return scanScripts({ home, ...opts });
  const dir = tempDir('child');
  const script = join(dir, 'child.mts');
  const scanUrl = pathToFileURL(join(repoRoot, 'src/services/scanner/scan.ts')).href;
  writeFileSync(script, [
    `import { scanScripts } from ${JSON.stringify(scanUrl)};`,
    'const r = await scanScripts({ home: process.argv[2], ...JSON.parse(process.argv[3]) });',
    'process.stdout.write(JSON.stringify(r));',
  ].join('\n'));
  const child = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '--import', 'tsx', script, home, JSON.stringify(opts)], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, HOME: dir },
  });
  assert.equal(child.status, 0, `child scan failed: ${child.error?.message ?? ''} ${child.stderr}`);
  return JSON.parse(child.stdout) as ScanResult;
}

const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;
/** Skip reason for the permission tests: as root they need setpriv (a FAIL under CI=true). */
export const setprivSkip = process.getuid?.() === 0 ? requirePart('setpriv', hasSetpriv, 'install util-linux (needed to test permissions when running as root)') : false;
