// The agent's lock file names its holder by pid and start time: a lock whose pid now belongs to
// another process (pid reuse after a crash) is stale and taken over; a live holder keeps it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
