// Script scanner and inventory diff, on a real file system (temporary homes under os.tmpdir()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, chmodSync, statSync, unlinkSync, closeSync, openSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { scanScripts, listScripts, describeFiles, findKernel, readNotebookKernel, DEFAULT_EXCLUDED_DIRS, type ScannedFile } from '../src/services/scanner/scan.js';
import { diffInventory, instantMs, knownFromRows, type DbScriptRow } from '../src/services/scanner/diff.js';
import { tempDir, locked, put, rels, scanAsUnprivileged, setprivSkip } from './helpers/scan-home.js';

const nb = (kernel: string, cells = '[]'): string =>
  JSON.stringify({ cells: JSON.parse(cells), metadata: { kernelspec: { display_name: 'X', language: 'python', name: kernel } }, nbformat: 4, nbformat_minor: 5 });

test('finds scripts and keeps tricky names exactly', async () => {
  const home = tempDir('names');
  const names = [
    '日本語のノート.ipynb',
    'with space.py',
    `it's "quoted".py`,
    'emoji 🧪 test.py',
    'café.py', // NFC
    'cafe\u0301.py', // NFD: a different name, kept as is
    'プロジェクト 1/解析 (v2).py',
    '[brackets] {braces} *star?.py',
    '.hidden/dot.py',
    'deep/a/b/c/d/e/f.py',
    'tab\there.py',
  ];
  put(home, Object.fromEntries(names.map((n) => [n, n.endsWith('.ipynb') ? nb('python3') : 'print(1)\n'])));
  put(home, { 'data.csv': 'a,b\n', 'UPPER.PY': '', 'x.pyc': '', 'notes.py.txt': '', 'dir.py/inside.txt': '' });

  const r = await scanScripts({ home });
  assert.deepEqual(rels(home, r), [...names].sort());
  assert.deepEqual(r.warnings, []);
  assert.equal(r.truncated, undefined);
  for (const f of r.files) {
    const st = statSync(f.path);
    assert.equal(f.size, st.size);
    assert.equal(f.mtime, st.mtime.toISOString());
    assert.match(f.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(f.type, f.path.endsWith('.ipynb') ? 'ipynb' : 'py');
  }
  assert.equal(r.files.find((f) => f.type === 'ipynb')?.kernel, 'python3');
  assert.equal(r.files.find((f) => f.type === 'py')?.kernel, undefined);
});

test('excluded folders are pruned, never walked', async () => {
  const home = tempDir('prune');
  const files: Record<string, string> = {
    'keep/a.py': '',
    'keep/deep/b.py': '',
    'keep/envs_backup/c.py': '', // only the exact name `envs` is excluded
    'keep/x.tmp.py': '', // user glob *.tmp.py
    'proj/scratch/s.py': '', // user glob `scratch` (bare name: any depth)
    'old/o.py': '', // user glob old/**
    'lab_job_logs/j1/run.py': '',
    '.lab-agent/lib/agent.py': '',
  };
  // Each default folder, at the top and nested, holding scripts and sub-folders.
  for (const d of DEFAULT_EXCLUDED_DIRS) {
    files[`${d}/x.py`] = '';
    files[`${d}/sub/y.ipynb`] = nb('k');
    files[`proj/${d}/lib/z.py`] = '';
  }
  put(home, files);
  // This machine's mounts (a local disk: read synchronously), and none known (all asynchronously).
  for (const mountinfo of [undefined, null]) {
    const r = await scanScripts({
      home,
      logDir: join(home, 'lab_job_logs'),
      agentDir: join(home, '.lab-agent'),
      exclude: ['scratch', 'old/**', '*.tmp.py', '/elsewhere/**', ''],
      mountinfo,
    });
    assert.deepEqual(rels(home, r), ['keep/a.py', 'keep/deep/b.py', 'keep/envs_backup/c.py']);
    assert.deepEqual(r.warnings, []);
    // Folders read: home, keep, keep/deep, keep/envs_backup, proj. Nothing inside a pruned folder.
    assert.equal(r.dirsScanned, 5);
  }
});

test('the plain walk (no LAB_SYNC_EXCLUDE) and the glob walk (tinyglobby, with one) find the same files', async () => {
  const home = tempDir('two-walks');
  const outside = tempDir('two-walks-out');
  put(outside, { 'o.py': '' });
  put(home, {
    'a.py': '', '[x] {y} *z?.py': '', 'プロジェクト/解析 (v2).ipynb': nb('python3'), '.hidden/d.py': '',
    'deep/1/2/3/e.py': '', 'dir.py/inside.txt': '', 'data.csv': '', 'node_modules/n.py': '', 'deep/.git/g.py': '',
  });
  symlinkSync(home, join(home, 'loop')); // a folder symlink: never entered
  symlinkSync(outside, join(home, 'out'));
  symlinkSync('a.py', join(home, 'alias.py')); // a file symlink: never taken
  spawnSync('mkfifo', [join(home, 'pipe.py')]);
  const plain = await scanScripts({ home });
  const globbed = await scanScripts({ home, exclude: ['matches-nothing-*'] });
  const expected = ['.hidden/d.py', '[x] {y} *z?.py', 'a.py', 'deep/1/2/3/e.py', 'プロジェクト/解析 (v2).ipynb'];
  assert.deepEqual(rels(home, plain), expected);
  assert.deepEqual(rels(home, globbed), expected);
  assert.deepEqual(plain.files, globbed.files);
  assert.equal(plain.dirsScanned, globbed.dirsScanned);
});

test('symlinks are not followed: loops end, nothing outside home is reached', async () => {
  const home = tempDir('links');
  const outside = tempDir('outside');
  put(outside, { 'outside.py': '', 'sub/deeper.py': '' });
  put(home, { 'proj/real.py': '', 'proj/nb.ipynb': nb('python3') });
  symlinkSync(home, join(home, 'loop-abs')); // home -> home
  symlinkSync('.', join(home, 'proj', 'self')); // proj/self -> proj
  symlinkSync('..', join(home, 'proj', 'up'));
  mkdirSync(join(home, 'a'));
  symlinkSync('../b', join(home, 'a', 'to-b')); // a <-> b
  mkdirSync(join(home, 'b'));
  symlinkSync('../a', join(home, 'b', 'to-a'));
  symlinkSync(outside, join(home, 'out')); // folder outside home
  symlinkSync(join(outside, 'outside.py'), join(home, 'link.py')); // file outside home
  symlinkSync('proj/real.py', join(home, 'alias.py')); // file inside home: found under its real path
  symlinkSync('/nonexistent/x.py', join(home, 'dangling.py'));
  symlinkSync('/', join(home, 'root'));

  const r = await scanScripts({ home });
  assert.deepEqual(rels(home, r), ['proj/nb.ipynb', 'proj/real.py']);
  assert.deepEqual(r.warnings, []);
  assert.equal(r.dirsScanned, 4); // home, proj, a, b
});

test('an unreadable folder is skipped with one warning; inside a pruned folder it costs nothing', { skip: setprivSkip }, async () => {
  const home = tempDir('perm');
  put(home, {
    'ok.py': '',
    'locked/secret.py': '',
    'locked/inner/more.py': '',
    'noexec/listed-but-unstatable.py': '',
    'node_modules/locked/x.py': '',
    '.venv/lib/locked/y.py': '',
  });
  // A loop inside a pruned folder would be just as invisible; the symlink test covers loops.
  for (const rel of ['locked', 'node_modules/locked', '.venv/lib/locked']) {
    locked.push(join(home, rel));
    chmodSync(join(home, rel), 0o000);
  }
  locked.push(join(home, 'noexec'));
  chmodSync(join(home, 'noexec'), 0o644); // readable (names can be listed) but not searchable

  const r = await scanAsUnprivileged(home);
  assert.deepEqual(rels(home, r), ['ok.py']);
  assert.equal(r.warnings.length, 2, r.warnings.join('\n'));
  assert.equal(r.warnings.filter((w) => w.includes(join(home, 'locked'))).length, 1);
  assert.match(r.warnings.find((w) => w.includes(join(home, 'locked'))) ?? '', /EACCES/);
  assert.equal(r.warnings.filter((w) => w.includes(join(home, 'noexec'))).length, 1);
  assert.ok(!r.warnings.some((w) => w.includes('node_modules') || w.includes('.venv')));
});

test('a file replaced by a folder (or removed) between listing and stat is skipped', async () => {
  const home = tempDir('race');
  put(home, { 'stays.py': '', 'becomes-dir.py': '', 'removed.py': '', 'nb.ipynb': nb('k') });
  const listed = await listScripts({ home });
  assert.equal(listed.paths.length, 4);
  unlinkSync(join(home, 'becomes-dir.py'));
  put(home, { 'becomes-dir.py/inner.txt': '' });
  unlinkSync(join(home, 'removed.py'));
  const warnings: string[] = [];
  const { files, timedOut } = await describeFiles(listed.paths, { warnings });
  assert.deepEqual(files.map((f) => relative(home, f.path)).sort(), ['nb.ipynb', 'stays.py']);
  assert.equal(timedOut, false);
  assert.deepEqual(warnings, []);
});

test('maxFiles stops the scan and says so', async () => {
  const home = tempDir('max');
  const files: Record<string, string> = {};
  for (let d = 0; d < 6; d++) for (let i = 0; i < 5; i++) files[`d${d}/f${i}.py`] = '';
  put(home, files);

  const capped = await scanScripts({ home, maxFiles: 10 });
  assert.equal(capped.truncated, 'max-files');
  assert.equal(capped.files.length, 10);
  assert.equal(capped.warnings.length, 1);
  assert.match(capped.warnings[0] ?? '', /stopped early.*more than 10 scripts/);

  const exact = await scanScripts({ home, maxFiles: 30 });
  assert.equal(exact.truncated, undefined);
  assert.equal(exact.files.length, 30);
  assert.deepEqual(exact.warnings, []);
});

test('an exhausted time budget stops the scan and says so', async () => {
  const home = tempDir('time');
  put(home, { 'a/x.py': '', 'b/y.py': '' });
  const r = await scanScripts({ home, timeBudgetMs: 0 });
  assert.equal(r.truncated, 'time');
  assert.equal(r.files.length, 0);
  assert.match(r.warnings.at(-1) ?? '', /stopped early.*time budget of 0 ms/);
});

test('a missing home gives a warning, not an exception', async () => {
  const home = join(tempDir('gone'), 'no-such-home');
  const r = await scanScripts({ home });
  assert.deepEqual(r.files, []);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0] ?? '', /ENOENT/);
});

test('50,000 scripts are all found', async () => {
  const home = tempDir('50k');
  const expected: string[] = [];
  for (let d = 0; d < 100; d++) {
    const dir = join(home, `p${d}`, 'src');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 500; i++) {
      const name = i % 10 === 0 ? `n${i}.ipynb` : `m${i}.py`;
      closeSync(openSync(join(dir, name), 'w')); // empty files: creation is all that costs
      expected.push(`p${d}/src/${name}`);
    }
  }
  const r = await scanScripts({ home });
  assert.equal(r.truncated, undefined);
  assert.equal(r.files.length, 50_000);
  assert.deepEqual(rels(home, r), expected.sort());
  assert.deepEqual(r.warnings, []);
});

test('notebook kernel: from the tail of a big notebook, the head, broken JSON; never guessed', async () => {
  const home = tempDir('kernel');
  const bigOutput = 'A'.repeat(3 * 1024 * 1024); // 3 MiB of "image" output before the metadata
  const cells = JSON.stringify([{ cell_type: 'code', source: ['print(1)'], outputs: [{ data: { 'image/png': bigOutput } }] }]);
  put(home, {
    'big.ipynb': nb('conda-env-torch-py', cells),
    'head.ipynb': `{"metadata": {"kernelspec": {"name": "julia-1.10", "display_name": "Julia"}}, "cells": [{"source": "${'B'.repeat(300_000)}"}]}`,
    'broken.ipynb': nb('ir').slice(0, -20) + '{{{', // cut mid-way: not JSON any more
    'tricky.ipynb': JSON.stringify({ cells: [{ source: ['"kernelspec": {"name": "fake"}'] }], metadata: {} }),
    'empty.ipynb': '',
    'unicode.ipynb': nb('python3 \u65e5\u672c'),
  });
  const r = await scanScripts({ home });
  const kernel = (n: string): string | undefined => r.files.find((f) => f.path.endsWith(`/${n}`))?.kernel;
  assert.equal(kernel('big.ipynb'), 'conda-env-torch-py');
  assert.equal(kernel('head.ipynb'), 'julia-1.10');
  assert.equal(kernel('broken.ipynb'), 'ir');
  assert.equal(kernel('tricky.ipynb'), undefined);
  assert.equal(kernel('empty.ipynb'), undefined);
  assert.equal(kernel('unicode.ipynb'), 'python3 日本');
  assert.equal(r.files.length, 6);
  assert.equal(await readNotebookKernel(join(home, 'big.ipynb'), statSync(join(home, 'big.ipynb')).size), 'conda-env-torch-py');
  assert.equal(findKernel('..."kernelspec": {"display_name": "P", "name": "a\\"b"}...'), 'a"b');
  assert.equal(findKernel('"kernelspec": {"name": "first"} ... "kernelspec": {"name": "last"}'), 'last');
});

test('a notebook unchanged since the last sync keeps its stored kernel without being opened', async () => {
  const home = tempDir('known');
  put(home, { 'same.ipynb': nb('python3'), 'edited.ipynb': nb('python3'), 'new.ipynb': nb('python3') });
  const first = await scanScripts({ home });
  // Rows as the database returns them, with kernel names the files do not contain: a kernel that
  // shows up in the result can only have come from the row, not from reading the file.
  const rows: DbScriptRow[] = first.files
    .filter((f) => !f.path.endsWith('/new.ipynb'))
    .map((f, i) => ({ script_id: i + 1, path: f.path, size: f.size, mtime: f.mtime.replace('T', ' ').replace('Z', '000+00'), kernel: 'from-db' }));
  const edited = rows.find((r) => r.path.endsWith('/edited.ipynb'))!;
  edited.mtime = '2001-01-01 00:00:00+00';
  const r = await scanScripts({ home, known: knownFromRows(rows) });
  const kernel = (n: string): string | undefined => r.files.find((f) => f.path.endsWith(`/${n}`))?.kernel;
  assert.equal(kernel('same.ipynb'), 'from-db');
  assert.equal(kernel('edited.ipynb'), 'python3');
  assert.equal(kernel('new.ipynb'), 'python3');
  // A row without the kernel field says nothing about the kernel: the file is read.
  const noKernel = knownFromRows(rows.map(({ kernel: _k, ...rest }) => rest));
  assert.equal(noKernel.size, 0);

  // The rows still on their way (the sync reads them while the scan runs): the same result, the
  // rows awaited once the files are stat'ed; only that wait is counted in knownWaitMs.
  let resolveRows!: (m: ReturnType<typeof knownFromRows>) => void;
  const arriving = new Promise<ReturnType<typeof knownFromRows>>((res) => (resolveRows = res));
  setTimeout(() => resolveRows(knownFromRows(rows)), 150);
  const late = await scanScripts({ home, known: arriving });
  assert.deepEqual(late.files, r.files);
  assert.ok(late.knownWaitMs > 50 && late.knownWaitMs <= late.elapsedMs, `waited ${late.knownWaitMs} of ${late.elapsedMs} ms`);
  assert.ok(r.knownWaitMs < 1, `nothing to wait for when known is given as is (${r.knownWaitMs} ms)`);
});

test('rows that fail to arrive fail the scan only if it needs them (a notebook), and are never left unhandled', async () => {
  const home = tempDir('known-fails');
  put(home, { 'a.py': 'x = 1\n' });
  const failed = Promise.reject(new Error('database is down'));
  failed.catch(() => undefined); // handled by whoever awaits it: the sync does
  assert.equal((await scanScripts({ home, known: failed })).files.length, 1, 'no notebook: the rows are not needed');
  put(home, { 'b.ipynb': nb('python3') });
  await assert.rejects(scanScripts({ home, known: failed }), /database is down/);
});

// ---- diff ----

const file = (path: string, size: number, mtime: string, kernel?: string): ScannedFile =>
  ({ path, type: path.endsWith('.ipynb') ? 'ipynb' : 'py', size, mtime, mtimeMs: Date.parse(mtime), ...(kernel ? { kernel } : {}) });

test('diff: insert, update, delete, unchanged', () => {
  const t = '2024-05-01T12:34:56.123Z';
  const scanned = [
    file('/h/new.py', 1, t),
    file('/h/same.py', 10, t),
    file('/h/bigger.py', 20, t),
    file('/h/touched.py', 10, '2024-05-01T12:34:57.000Z'),
    file('/h/nb.ipynb', 5, t, 'python3'),
    file('/h/日本 語.py', 3, t),
  ];
  const rows: DbScriptRow[] = [
    { script_id: 1, path: '/h/same.py', size: 10, mtime: '2024-05-01 12:34:56.123456+00' }, // µs, pg text
    { script_id: 2, path: '/h/bigger.py', size: '10', mtime: t }, // int8 as text
    { script_id: 3, path: '/h/touched.py', size: 10, mtime: new Date(t) },
    { script_id: 4, path: '/h/nb.ipynb', size: 5, mtime: '2024-05-01T21:34:56.123+09:00', kernel: 'ir' },
    { script_id: 5, path: '/h/gone.py', size: 1, mtime: t },
    { script_id: 6, path: '/h/日本 語.py', size: 3n, mtime: '2024-05-01T12:34:56.123000Z' },
  ];
  const d = diffInventory(scanned, rows);
  assert.deepEqual(d.insert.map((f) => f.path), ['/h/new.py']);
  assert.deepEqual(d.update.map((f) => f.path).sort(), ['/h/bigger.py', '/h/nb.ipynb', '/h/touched.py']);
  assert.deepEqual(d.delete, ['/h/gone.py']);
  assert.equal(d.unchanged, 2);
});

test('diff: kernel compared only when the row has it; unknown size or mtime is a change', () => {
  const t = '2024-05-01T12:34:56.000Z';
  const scanned = [file('/h/a.ipynb', 1, t, 'python3'), file('/h/b.ipynb', 1, t), file('/h/c.py', 1, t), file('/h/d.py', 1, t)];
  const d = diffInventory(scanned, [
    { script_id: 1, path: '/h/a.ipynb', size: 1, mtime: t }, // no kernel column: not compared
    { script_id: 2, path: '/h/b.ipynb', size: 1, mtime: '2024-05-01 12:34:56+00', kernel: null }, // no kernel both sides
    { script_id: 3, path: '/h/c.py', size: null, mtime: t }, // a row from the original agent
    { script_id: 4, path: '/h/d.py', size: 1, mtime: null },
  ]);
  assert.deepEqual(d.update.map((f) => f.path), ['/h/c.py', '/h/d.py']);
  assert.equal(d.unchanged, 2);
});

test('diff: a truncated scan deletes nothing; paths compare exactly', () => {
  const t = '2024-05-01T00:00:00.000Z';
  const rows: DbScriptRow[] = [{ script_id: 1, path: '/h/cafe\u0301.py', size: 1, mtime: t }, { script_id: 2, path: '/h/x.py', size: 1, mtime: t }];
  const scanned = [file('/h/café.py', 1, t)]; // NFC: not the same name as the NFD row
  assert.deepEqual(diffInventory(scanned, rows, { truncated: 'max-files' }).delete, []);
  const full = diffInventory(scanned, rows);
  assert.deepEqual(full.delete, ['/h/cafe\u0301.py', '/h/x.py']);
  assert.deepEqual(full.insert.map((f) => f.path), ['/h/café.py']);
});

test('instantMs reads the timestamp forms PostgreSQL and JavaScript produce', () => {
  const ms = Date.UTC(2024, 4, 1, 12, 34, 56, 123);
  for (const s of ['2024-05-01T12:34:56.123Z', '2024-05-01 12:34:56.123+00', '2024-05-01 12:34:56.123999+00:00', '2024-05-01T14:34:56.123+02', '2024-05-01T07:04:56.123-0530', '2024-05-01 12:34:56.123']) {
    assert.equal(instantMs(s), ms, s);
  }
  assert.equal(instantMs(new Date(ms)), ms);
  assert.equal(instantMs('2024-05-01 12:34:56+00'), ms - 123);
  assert.equal(instantMs('not a time'), undefined);
  assert.equal(instantMs(null), undefined);
});
