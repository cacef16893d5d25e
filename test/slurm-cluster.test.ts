// The one-node Slurm of scripts/slurm-local.sh (Debian's slurm-wlm + munge, real daemons): a
// non-root member submits with sbatch, squeue shows the job, its end is read without sacct (the
// batch script writes its command's exit code to a file), scancel stops a sleeping job, and another
// member can neither cancel it nor submit as its owner. With LAB_SLURM_ACCOUNTING=1 (the second run
// in .ci/run) the cluster has slurmdbd and the same cases check `sacct` too. Root only (it creates Linux users); under CI=true a missing
// Slurm fails the suite.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePart, requireRoot } from './helpers/required.js';
import { which } from './helpers/install-env.js';
import { addLinuxUser, deleteLinuxUser, killUserProcesses, type LinuxUser } from './helpers/linux-users.js';
import { hasSlurm, runAsUser, slurmScript, useLocalSlurm, type LocalSlurm } from './helpers/slurm.js';

const skip =
  requireRoot('the Slurm tests start slurmd and create Linux users') ||
  requirePart('Slurm (slurmctld, slurmd, munged and the client commands)', hasSlurm(), 'as root: apt-get install -y slurm-wlm munge (as .ci/run does)');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The command lines of the user's processes ("" when there are none: ps then exits 1). */
function commandsOf(u: LinuxUser): string {
  try {
    return execFileSync('ps', ['-u', u.name, '-o', 'args='], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

// The batch script a job gets: run the command, keep its exit code in a file (what the executor
// reads instead of sacct), end with that code.
const BATCH = `#!/bin/bash
echo "ran as $(id -un) in $PWD as job $SLURM_JOB_ID ($SLURM_JOB_NAME) on $(hostname -s)"
"$@"
code=$?
echo "$code" > "$PWD/exit_code.tmp" && mv "$PWD/exit_code.tmp" "$PWD/exit_code"
exit "$code"
`;

test('scripts/slurm-local.sh passes shellcheck', { skip: requirePart('shellcheck', which('shellcheck'), 'apt-get install shellcheck') }, () => {
  execFileSync('shellcheck', [slurmScript], { stdio: 'pipe' });
});

test('scripts/slurm-local.sh installs nothing: without Slurm it says which packages to install', () => {
  // A PATH with nothing but `id`: no munged, no slurmctld. (As a non-root user it stops earlier, at root.)
  const bin = mkdtempSync(join(tmpdir(), 'lab-noslurm-'));
  symlinkSync(execFileSync('sh', ['-c', 'command -v id'], { encoding: 'utf8' }).trim(), join(bin, 'id'));
  try {
    execFileSync('/bin/bash', [slurmScript, 'start', '--accounting'], { env: { PATH: bin, LAB_SLURM_DIR: join(bin, 'cluster') }, encoding: 'utf8', stdio: 'pipe' });
    assert.fail('start succeeded without Slurm');
  } catch (err) {
    const e = err as { status: number; stderr: string };
    assert.equal(e.status, 1);
    if (process.getuid?.() === 0) {
      assert.match(e.stderr, /missing munged mungekey slurmctld .* slurmdbd .*: this script installs nothing; on Debian\/Ubuntu run \(as root\) apt-get install -y --no-install-recommends slurm-wlm munge slurmdbd mariadb-server-core mariadb-client-core/);
    } else {
      assert.match(e.stderr, /needs root: slurmd starts each job as the user who submitted it/);
    }
    assert.ok(!existsSync(join(bin, 'cluster')), 'it wrote nothing');
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

describe('one-node Slurm (scripts/slurm-local.sh)', { skip, timeout: 5 * 60_000 }, () => {
  let slurm: LocalSlurm;
  let alice: LinuxUser;
  let mallory: LinuxUser;
  const jobDir = (name: string) => join(alice.home, 'runs', name);

  /** A folder of alice's for one job, with the batch script; the job starts there. */
  function prepare(name: string): string {
    const dir = jobDir(name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'job.sh'), BATCH, { mode: 0o700 });
    for (const p of [join(alice.home, 'runs'), dir, join(dir, 'job.sh')]) chownSync(p, alice.uid, alice.uid);
    return dir;
  }

  async function sbatch(name: string, timeLimit: string, command: string[]): Promise<string> {
    const dir = prepare(name);
    const r = await runAsUser(alice, ['sbatch', '--parsable', `--chdir=${dir}`, `--output=${join(dir, 'slurm-%j.out')}`, `--time=${timeLimit}`, `--job-name=lab-${name}`, join(dir, 'job.sh'), ...command]);
    assert.equal(r.code, 0, `sbatch failed: ${r.stderr}`);
    const id = r.stdout.trim().split(';')[0]!; // --parsable: "id" or "id;cluster"
    assert.match(id, /^\d+$/);
    return id;
  }

  /** squeue's view of a job: state, name, user, time limit; null once squeue no longer knows it. */
  async function squeue(id: string): Promise<{ state: string; name: string; user: string; limit: string } | null> {
    const r = await runAsUser(alice, ['squeue', '-h', '-t', 'all', '-j', id, '-o', '%T|%j|%u|%l']);
    const line = r.stdout.trim();
    if (r.code !== 0 || !line) return null;
    const [state, name, user, limit] = line.split('|');
    return { state: state!, name: name!, user: user!, limit: limit! };
  }

  /** With accounting: `sacct`'s State|ExitCode of the job's allocation, once it has been recorded. */
  async function sacct(id: string): Promise<string> {
    return until('sacct to record the job', async () => {
      const r = await runAsUser(alice, ['sacct', '-n', '-P', '-X', '-j', id, '-o', 'State,ExitCode']);
      const line = r.stdout.trim();
      return r.code === 0 && line && !/^(PENDING|RUNNING|COMPLETING)/.test(line) ? line : null;
    });
  }

  before(() => {
    slurm = useLocalSlurm();
    alice = addLinuxUser('labs', 'a');
    mallory = addLinuxUser('labs', 'm');
  });

  after(async () => {
    for (const u of [alice, mallory]) {
      if (!u) continue;
      try {
        execFileSync('scancel', ['-u', u.name], { env: { ...process.env, SLURM_CONF: slurm.conf }, stdio: 'ignore' });
      } catch {
        /* the cluster is gone already */
      }
      killUserProcesses(u.name);
    }
    await sleep(300);
    for (const u of [alice, mallory]) if (u) deleteLinuxUser(u.name);
    slurm?.release();
  });

  test('the node is idle and takes jobs', () => {
    const out = execFileSync('sinfo', ['-h', '-N', '-o', '%N %t %c'], { env: { ...process.env, SLURM_CONF: slurm.conf }, encoding: 'utf8' }).trim();
    assert.match(out, /^\S+ (idle|mix|alloc) \d+$/m);
  });

  test('a member submits with sbatch, squeue shows it running as them, and its exit code comes from its own file', async () => {
    const id = await sbatch('exit7', '2', ['bash', '-c', 'sleep 2; echo to-stdout; echo to-stderr >&2; exit 7']);
    const seen = await until('squeue to show the job running', async () => {
      const q = await squeue(id);
      return q?.state === 'RUNNING' ? q : null;
    });
    assert.deepEqual({ name: seen.name, user: seen.user, limit: seen.limit }, { name: 'lab-exit7', user: alice.name, limit: '2:00' });
    const dir = jobDir('exit7');
    await until('the exit code file', async () => existsSync(join(dir, 'exit_code')));
    assert.equal(readFileSync(join(dir, 'exit_code'), 'utf8').trim(), '7');
    const out = readFileSync(join(dir, `slurm-${id}.out`), 'utf8');
    assert.match(out, new RegExp(`^ran as ${alice.name} in ${dir} as job ${id} \\(lab-exit7\\)`));
    assert.match(out, /to-stdout\nto-stderr\n/);
    assert.equal(statSync(join(dir, 'exit_code')).uid, alice.uid, 'the job wrote as the member, not as root');
    const end = await until('Slurm to record the end', async () => {
      const q = await squeue(id);
      return q && !['PENDING', 'RUNNING', 'COMPLETING'].includes(q.state) ? q : null;
    });
    assert.equal(end.state, 'FAILED', 'a non-zero exit is FAILED in Slurm too');
    if (slurm.accounting) assert.equal(await sacct(id), 'FAILED|7:0');
  });

  test('scancel stops a sleeping job and its processes; another member can neither cancel it nor submit as its owner', async () => {
    const id = await sbatch('sleeper', '5', ['sleep', '300']);
    await until('the sleeper to run', async () => (await squeue(id))?.state === 'RUNNING');
    await until('the sleep process', async () => commandsOf(alice).includes('sleep 300'));

    // Another lab member tries to cancel it, and to submit a job as its owner.
    const attack = await runAsUser(mallory, ['scancel', id]);
    assert.notEqual(attack.code, 0, 'another member could cancel the job');
    assert.match(attack.stderr, /denied|not permitted|Access/i);
    assert.equal((await squeue(id))?.state, 'RUNNING');
    const impersonate = await runAsUser(mallory, ['sbatch', '--parsable', `--uid=${alice.name}`, '--wrap', 'id > /tmp/owned']);
    assert.notEqual(impersonate.code, 0, 'another member submitted a job as the owner');
    assert.match(impersonate.stderr, /root/i);

    const cancel = await runAsUser(alice, ['scancel', id]);
    assert.equal(cancel.code, 0, cancel.stderr);
    const end = await until('the job to be cancelled', async () => {
      const q = await squeue(id);
      return q && q.state === 'CANCELLED' ? q : null;
    });
    assert.equal(end.state, 'CANCELLED');
    await until('the sleep process to be gone', async () => !commandsOf(alice).includes('sleep 300'), 20_000);
    assert.ok(!existsSync(join(jobDir('sleeper'), 'exit_code')), 'a cancelled job leaves no exit record');
    if (slurm.accounting) assert.match(await sacct(id), new RegExp(`^CANCELLED by ${alice.uid}\\|`));
  });
});
