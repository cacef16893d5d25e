// The agent's lock file names its holder by pid and start time: a lock whose pid now belongs to
// another process (pid reuse after a crash) is stale and taken over; a live holder keeps it. A
// lock is never seen empty while its holder writes it, and processes contending for one take
// turns: the member's first commands (a cron tick beside `lab-agent jupyter start`) settle their
// user id under it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { lockHolder, tryLock } from '../src/services/file-lock.js';
import { processStartTime } from '../src/services/host/process-identity.js';

test('a lock whose pid is alive but is another process (reused pid) is taken over; a live holder keeps it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-lock-'));
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => {
    other.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const pid = other.pid!;
  const path = join(dir, 'agent.lock');
  const realStart = processStartTime(pid)!;

  // What a crashed agent left, whose pid a later process got: same pid, another start time.
  writeFileSync(path, `${pid} ${Number(realStart) - 1}\n`);
  assert.equal(lockHolder(path), null, 'the recorded process is gone');
  const release = tryLock(path);
  assert.ok(release, 'the stale lock is taken over');
  assert.equal(readFileSync(path, 'utf8'), `${process.pid} ${processStartTime(process.pid)}\n`, 'the new holder names itself by pid and start time');
  assert.equal(lockHolder(path), process.pid);
  release();

  // The recorded process itself still runs: the lock is held.
  writeFileSync(path, `${pid} ${realStart}\n`);
  assert.equal(tryLock(path), null);
  assert.equal(lockHolder(path), pid);
  // A lock written by an older agent (pid alone) still counts while that pid lives.
  writeFileSync(path, `${pid}\n`);
  assert.equal(tryLock(path), null);
});

test('an empty lock file (made, not yet written, by an older agent) is held for a few seconds, then stale', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'agent.lock');
  writeFileSync(path, '');
  assert.equal(tryLock(path), null, 'a holder may be writing it: not taken');
  assert.equal(readFileSync(path, 'utf8'), '', 'and not removed');
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  const release = tryLock(path);
  assert.ok(release, 'left empty for a minute: its maker died before writing it');
  release();
});

test('processes contending for one lock take turns: none loses another\'s write', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'count'), '0');
  // Each adds one to a counter under the lock, reading it and writing it back a turn later; all
  // start together, once every one has loaded (tsx takes a while, and unevenly).
  const startAt = Date.now() + 8_000;
  const worker = `
    const { withFileLock } = await import(${JSON.stringify(new URL('../src/services/file-lock.ts', import.meta.url).href)});
    const { readFileSync, writeFileSync } = await import('node:fs');
    const dir = ${JSON.stringify(dir)};
    await new Promise((r) => setTimeout(r, Math.max(0, ${startAt} - Date.now())));
    for (let i = 0; i < 40; i++) {
      await withFileLock(dir + '/c.lock', 60_000, async () => {
        const v = Number(readFileSync(dir + '/count', 'utf8'));
        await new Promise((r) => setImmediate(r));
        writeFileSync(dir + '/count', String(v + 1));
      });
    }`;
  const run = () => promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', worker], { timeout: 120_000 });
  await Promise.all(Array.from({ length: 6 }, run));
  assert.equal(readFileSync(join(dir, 'count'), 'utf8'), '240', '6 processes x 40 turns');
});
