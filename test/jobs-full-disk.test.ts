// A full log disk loses no result: the exit record has its room reserved when the job starts, the
// row says the disk was full, and the next job is refused once with "no space left on <folder>"
// instead of being retried three times. The disk is a small tmpfs mounted by the test (root only).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { jobRow } from './helpers/fresh-db.js';
import { AgentEnv, eventually } from './helpers/agent-env.js';
import { requirePart, requireRoot } from './helpers/required.js';
import type { JobRow } from '../src/services/store/types.js';

const mountPoint = mkdtempSync(join(tmpdir(), 'lab-full-disk-'));
function mountSmallDisk(): boolean {
  if (userInfo().uid !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mountPoint]);
    return true;
  } catch {
    return false;
  }
}
const skip = requireRoot('mounts a 2 MiB tmpfs to fill the log disk') || requirePart('a 2 MiB tmpfs', mountSmallDisk(), 'mount -t tmpfs must work here');

let db: TestDb;
let a: AgentEnv;

before(async () => {
  db = await freshDatabase();
  a = new AgentEnv(db, 'mona', { LAB_LOG_DIR: mountPoint });
});
after(async () => {
  await db.drop();
  if (!skip) execFileSync('umount', [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

async function tickUntilEnded(id: string): Promise<JobRow> {
  return eventually('the job to end', async () => {
    await a.cli(['tick']);
    const j = await jobRow(db, id);
    return ['finished', 'failed', 'cancelled'].includes(j.status) ? j : null;
  }, 60_000, 200);
}

test('a job that fills the log disk keeps its exit code, and the row says the disk was full', { skip }, async () => {
  // Writes until the disk is full, then exits 3 at once (no flush at exit that could fail again).
  const fill = a.write('fill.py', [
    'import os, sys',
    'try:',
    '    while True:',
    '        os.write(1, b"x" * 65536)',
    'except OSError as e:',
    '    os._exit(3)',
  ].join('\n') + '\n');
  const id = (await a.cli(['submit', fill])).stdout.trim();
  const j = await tickUntilEnded(id);
  assert.equal(j.status, 'failed');
  assert.equal(j.retcode, 3, `the exit code survives the full disk: ${j.error}`);
  assert.doesNotMatch(j.error ?? '', /^lost/);
  assert.match(j.error ?? '', new RegExp(`no space left on ${mountPoint}`));
  const record = JSON.parse(readFileSync(join(j.log_dir!, 'exit.json'), 'utf8'));
  assert.equal(record.code, 3);
  assert.equal(record.diskFull, true);
});

test('with the disk still full, the next job is refused once, saying so', { skip }, async () => {
  const s = a.write('small.py', 'print("hi")\n');
  const id = (await a.cli(['submit', s])).stdout.trim();
  const j = await tickUntilEnded(id);
  assert.equal(j.status, 'failed');
  assert.match(j.error ?? '', new RegExp(`^no space left on ${mountPoint}`));
  assert.equal(j.claim_count, 1, 'failed once, not released and retried');
  assert.equal(j.pid, null);
});
