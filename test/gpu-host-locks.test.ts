// Local mode's host GPU locks (src/services/gpu/host-locks.ts) between two real Linux users in a
// root-owned sticky folder, as /tmp is: one member's live lock keeps the other off the GPU; the
// other cannot remove it, forge one naming someone else's process, or hold a GPU after their own
// holder process has ended. (No GPU here: the locks name GPU UUIDs only.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostGpuLocks, lockDirProblem, selfHolder } from '../src/services/gpu/host-locks.js';
import { processStartTime } from '../src/services/host/process-identity.js';
import { addLinuxUser, deleteLinuxUser, killUserProcesses, type LinuxUser } from './helpers/linux-users.js';
import { repoRoot, requirePart, requireRoot } from './helpers/required.js';

const hasRunuser = () => spawnSync('sh', ['-c', 'command -v runuser && command -v useradd'], { env: { PATH: `${process.env.PATH}:/usr/sbin:/sbin` } }).status === 0;
const skip = requireRoot('creates a second Linux user to hold GPU locks') || requirePart('useradd and runuser', hasRunuser(), 'apt-get install passwd util-linux');

const A = 'GPU-aaaaaaaa-0000-4000-8000-000000000000';
const B = 'GPU-bbbbbbbb-0000-4000-8000-000000000000';
const C = 'GPU-cccccccc-0000-4000-8000-000000000000';
const module = join(repoRoot, 'dist', 'services', 'gpu', 'host-locks.js');

describe('host GPU locks between two members', { skip, timeout: 60_000 }, () => {
  let dir: string;
  let other: LinuxUser;

  /** Runs `code` as the other member with `locks` (HostGpuLocks on dir) and `self` (its own holder); prints its result as JSON. */
  function asOther(code: string): unknown {
    const script = `const { HostGpuLocks, selfHolder } = await import(${JSON.stringify(module)});
      const locks = new HostGpuLocks(${JSON.stringify(dir)}); const self = selfHolder();
      const out = await (async () => { ${code} })(); console.log(JSON.stringify(out ?? null));`;
    const out = execFileSync('runuser', ['-u', other.name, '--', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').pop()!);
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lab-gpu-locks-'));
    chmodSync(dir, 0o1777);
    other = addLinuxUser('labl');
  });
  after(() => {
    killUserProcesses(other.name);
    deleteLinuxUser(other.name);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a live lock keeps the other member off; they can neither remove it nor forge one', () => {
    const mine = new HostGpuLocks(dir);
    assert.equal(mine.take(A, selfHolder()), true);
    assert.deepEqual(asOther(`return [...locks.held()];`), [A]);
    assert.equal(asOther(`return locks.take(${JSON.stringify(A)}, self);`), false, 'the other member cannot take a held GPU');
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes(A)).length, 1, 'their attempt left nothing behind');
    // Breaking it by hand: the folder is sticky, so removing or renaming my file is refused.
    const file = readdirSync(dir).find((n) => n.includes(A))!;
    const rm = spawnSync('runuser', ['-u', other.name, '--', 'rm', '-f', join(dir, file)], { encoding: 'utf8' });
    assert.notEqual(rm.status, 0, `rm by another member must fail: ${rm.stderr}`);
    assert.equal(mine.take(B, selfHolder()), true);
    // Forging: a file of theirs that names my (root's) live process holds nothing.
    const forged = asOther(`const fs = await import('node:fs');
      fs.writeFileSync(${JSON.stringify(join(dir, `lab-gpu-${C}.0123456789abcdef.lock`))}, JSON.stringify({ pid: ${process.pid}, start: ${JSON.stringify(processStartTime(process.pid))} }));
      return 'written';`);
    assert.equal(forged, 'written');
    assert.ok(!mine.held().has(C), 'a lock naming another user\'s process holds nothing');
    assert.equal(mine.take(C, selfHolder()), true);
    mine.release([A, B, C]);
    assert.deepEqual(asOther(`return [...locks.held()];`), []);
  });

  test('a lock lapses with its holder process: nobody can hold a GPU after their job has ended', async () => {
    const sleeper = spawn('runuser', ['-u', other.name, '--', 'sleep', '30'], { stdio: 'ignore' });
    let pid = 0;
    for (let i = 0; i < 50 && !pid; i++) {
      await new Promise((r) => setTimeout(r, 50));
      pid = Number(execFileSync('sh', ['-c', `pgrep -u ${other.name} -x sleep || true`], { encoding: 'utf8' }).trim().split('\n')[0]) || 0;
    }
    assert.ok(pid, 'the other member\'s holder process runs');
    const holder = { pid, start: processStartTime(pid) };
    assert.equal(asOther(`return locks.take(${JSON.stringify(A)}, ${JSON.stringify(holder)});`), true);
    const mine = new HostGpuLocks(dir);
    assert.ok(mine.held().has(A));
    assert.equal(mine.take(A, selfHolder()), false);
    killUserProcesses(other.name); // their job ends (the lock file stays: only they may remove it)
    sleeper.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!mine.held().has(A), 'the lock lapsed with its process');
    assert.equal(mine.take(A, selfHolder()), true);
    mine.release([A]);
  });

  test('a lock folder another member could empty is refused', () => {
    const own = join(dir, 'mine');
    mkdirSync(own);
    chmodSync(own, 0o777);
    assert.match(lockDirProblem(own)!, /must be owned by root, writable by everyone and sticky/);
    chmodSync(own, 0o1777);
    assert.equal(lockDirProblem(own), null, 'root-owned and sticky');
    execFileSync('chown', [other.name, own]);
    assert.match(lockDirProblem(own)!, /owned by root/);
    assert.match(lockDirProblem(join(dir, 'missing'))!, /does not exist/);
  });
});
