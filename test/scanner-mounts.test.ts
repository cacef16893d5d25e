// The scan's plan by mount (mounts.ts): local file systems are walked and stat'ed synchronously,
// hang-prone ones (network, FUSE, autofs, unknown) asynchronously; and both ways find the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listScripts, scanScripts } from '../src/services/scanner/scan.js';
import { parseMountinfo, planScan } from '../src/services/scanner/mounts.js';
import { tempDir, locked, put, rels, scanAsUnprivileged, setprivSkip } from './helpers/scan-home.js';

/** A /proc/self/mountinfo line (proc(5)): id, parent, dev, root, mount point, options, optional fields, '-', type, source, super options. */
const line = (id: number, point: string, fsType: string, optional = 'shared:1'): string =>
  `${id} 1 0:${id} / ${point} rw,relatime ${optional} - ${fsType} src${id} rw`;
const table = (...mounts: [string, string][]): string => mounts.map(([point, fsType], i) => line(20 + i, point, fsType)).join('\n') + '\n';

test('plan: a network or FUSE mount inside home is read asynchronously, the rest synchronously', () => {
  const mounts = parseMountinfo([
    line(21, '/', 'ext4'),
    line(22, '/home/alice/nfs', 'nfs4', 'shared:5 master:2'), // two optional fields
    line(23, '/home/alice/nfs/local', 'ext4'), // inside a hang-prone mount: read with it
    line(24, '/home/alice/my\\040drive', 'fuse.sshfs', ''), // \040: a space in the mount point; no optional field
    line(25, '/home/alice/scratch', 'tmpfs'),
    line(26, '/home/alice/auto', 'autofs'), // a read there mounts a share on demand
    line(27, '/home/alice/odd', 'madeupfs'), // not known to be local
    line(28, '/home/alicex', 'nfs'), // a sibling that shares the prefix, not inside
    line(29, '/home/bob/nfs', 'cifs'),
  ].join('\n'));
  assert.ok(mounts);
  assert.deepEqual(planScan('/home/alice', '/home/alice', mounts), {
    homeMayHang: false,
    asyncRoots: ['/home/alice/auto', '/home/alice/my drive', '/home/alice/nfs', '/home/alice/odd'],
  });
  // Home named through a symlink (/u/alice -> /home/alice): the mounts are found by the real path
  // and read under the name the walk uses.
  assert.deepEqual(planScan('/u/alice', '/home/alice', mounts).asyncRoots, ['/u/alice/auto', '/u/alice/my drive', '/u/alice/nfs', '/u/alice/odd']);
});

test('plan: home on a network file system, an unknown one, or unknown mounts: all of it asynchronously', () => {
  const all = { homeMayHang: true, asyncRoots: [] };
  assert.deepEqual(planScan('/home/alice', '/home/alice', parseMountinfo(table(['/', 'ext4'], ['/home', 'nfs']))), all);
  assert.deepEqual(planScan('/home/alice', '/home/alice', parseMountinfo(table(['/', 'ext4'], ['/home/alice', 'fuse']))), all);
  assert.deepEqual(planScan('/home/alice', '/home/alice', parseMountinfo(table(['/', 'zzfs']))), all);
  // /home/alice is a symlink into an NFS share: its real path decides.
  assert.deepEqual(planScan('/home/alice', '/net/users/alice', parseMountinfo(table(['/', 'ext4'], ['/net/users', 'nfs4']))), all);
  assert.deepEqual(planScan('/home/alice', null, parseMountinfo(table(['/', 'ext4']))), all, 'real path not known (it did not answer)');
  assert.equal(parseMountinfo('garbage without a separator\n'), null);
  assert.equal(parseMountinfo(''), null);
  assert.equal(parseMountinfo(`${line(21, '/', 'ext4')}\n36 1 0:9 / relative rw - ext4 x rw\n`), null);
  assert.deepEqual(planScan('/home/alice', '/home/alice', null), all);
  // The last mount on a point hides the earlier one: a local file system mounted over an NFS one.
  assert.deepEqual(planScan('/home/alice', '/home/alice', parseMountinfo(table(['/', 'ext4'], ['/home/alice/d', 'nfs'], ['/home/alice/d', 'xfs']))),
    { homeMayHang: false, asyncRoots: [] });
  assert.deepEqual(planScan('/home/alice', '/home/alice', parseMountinfo(table(['/', 'btrfs'], ['/home', 'xfs'], ['/home/alice', 'overlay']))),
    { homeMayHang: false, asyncRoots: [] });
});

/** A real tree with every case the walk handles: names, pruned folders, symlinks, unreadable folders, an invalid UTF-8 name. */
function trickyHome(tag: string): string {
  const home = tempDir(tag);
  put(home, {
    'a.py': 'print(1)\n', 'nb.ipynb': JSON.stringify({ metadata: { kernelspec: { name: 'ir' } } }),
    'プロジェクト/解析 (v2).py': '', '[x] {y}.py': '', '.hidden/d.py': '', 'deep/a/b/c/e.py': '',
    'node_modules/m.py': '', '.venv/lib/v.py': '', 'deep/__pycache__/c.py': '',
    'mnt/share/s.py': '', 'mnt/share/inner/t.ipynb': '{}', 'mnt/share/node_modules/no.py': '',
    'mnt/share/locked/hidden.py': '', 'locked/secret.py': '', 'noexec/listed.py': '',
  });
  writeFileSync(Buffer.from(join(home, 'bad-\xff.py'), 'latin1'), '');
  symlinkSync(join(home, 'a.py'), join(home, 'alias.py'));
  symlinkSync('..', join(home, 'deep', 'up'));
  for (const rel of ['locked', 'mnt/share/locked']) {
    locked.push(join(home, rel));
    chmodSync(join(home, rel), 0o000);
  }
  locked.push(join(home, 'noexec'));
  chmodSync(join(home, 'noexec'), 0o644); // names listable, files not stat-able
  return home;
}

test('a synchronous, an asynchronous and a mixed scan of the same tree find the same, warnings included', { skip: setprivSkip }, async () => {
  const home = realpathSync(trickyHome('same'));
  const local = table(['/', 'ext4']);
  const mixed = table(['/', 'ext4'], [join(home, 'mnt', 'share'), 'nfs4']);
  const [sync, async, both] = [
    await scanAsUnprivileged(home, { mountinfo: local }),
    await scanAsUnprivileged(home, { mountinfo: null }),
    await scanAsUnprivileged(home, { mountinfo: mixed }),
  ];
  const expected = ['.hidden/d.py', '[x] {y}.py', 'a.py', 'deep/a/b/c/e.py', 'mnt/share/inner/t.ipynb', 'mnt/share/s.py', 'nb.ipynb', 'プロジェクト/解析 (v2).py'];
  assert.deepEqual(rels(home, sync), expected);
  for (const [name, r] of [['async', async], ['mixed', both]] as const) {
    assert.deepEqual(r.files, sync.files, `${name}: files, sizes, mtimes, kernels`);
    assert.deepEqual([...r.warnings].sort(), [...sync.warnings].sort(), `${name}: warnings`);
    assert.equal(r.dirsScanned, sync.dirsScanned, name);
    assert.equal(r.truncated, undefined);
  }
  assert.equal(sync.files.find((f) => f.path.endsWith('/nb.ipynb'))?.kernel, 'ir');
  const warned = sync.warnings.join('\n');
  for (const what of [/cannot read folder .*\/locked \(EACCES\)/, /cannot read folder .*mnt\/share\/locked \(EACCES\)/, /cannot read files in folder .*\/noexec/, /not valid UTF-8/]) {
    assert.match(warned, what);
  }
  assert.equal(sync.warnings.length, 4, warned);
});

test('which folders are read asynchronously: the hang-prone mounts the walk reaches, never a pruned one', async () => {
  const home = realpathSync(tempDir('reach'));
  put(home, { 'x.py': '', 'data/nfs/n.py': '', 'node_modules/fuse/f.py': '', 'gone/.keep': '' });
  const mountinfo = table(['/', 'ext4'], [join(home, 'data', 'nfs'), 'nfs'], [join(home, 'node_modules', 'fuse'), 'fuse.sshfs'], [join(home, 'nowhere'), 'cifs']);
  const mixed = await listScripts({ home, mountinfo });
  assert.deepEqual(mixed.asyncRoots, [join(home, 'data', 'nfs')], 'the pruned mount and the one not in the tree are never read');
  assert.deepEqual(mixed.paths.map((p) => p.slice(home.length + 1)).sort(), ['data/nfs/n.py', 'x.py']);
  assert.deepEqual((await listScripts({ home, mountinfo: table(['/', 'ext4']) })).asyncRoots, []);
  assert.deepEqual((await listScripts({ home, mountinfo: null })).asyncRoots, [home]);
});

test('asynchronously too: maxFiles and the time budget stop the scan and say so', async () => {
  const home = tempDir('limits');
  const files: Record<string, string> = {};
  for (let d = 0; d < 6; d++) for (let i = 0; i < 5; i++) files[`d${d}/f${i}.py`] = '';
  put(home, files);
  for (const mountinfo of [null, table(['/', 'ext4'])]) {
    const capped = await scanScripts({ home, maxFiles: 10, mountinfo });
    assert.equal(capped.truncated, 'max-files');
    assert.equal(capped.files.length, 10);
    assert.match(capped.warnings.join('\n'), /stopped early.*more than 10 scripts/);
    const timed = await scanScripts({ home, timeBudgetMs: 0, mountinfo });
    assert.equal(timed.truncated, 'time');
    assert.deepEqual(timed.files, []);
  }
});
