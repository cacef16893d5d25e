// The Slurm executor end to end on the one-node Slurm of scripts/slurm-local.sh: a non-root
// member's agent (LAB_EXECUTOR=slurm, its own local database) hands a .py with arguments, a
// notebook, a failing script, a sleeper to cancel and a job with a one-minute time limit to Slurm,
// driven by `lab-agent tick` as cron would; squeue and sbatch are counted by shims on the agent's
// PATH (one squeue per tick, one sbatch per job). The agent SIGKILLed while a Slurm job runs is
// replaced and adopts it; a scancel from outside is noticed; 50 queued jobs run in order. Root only
// (it creates a Linux user); under CI=true a missing Slurm fails the suite.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, eventually, type CliResult } from './helpers/agent-env.js';
import { requirePart, requireRoot } from './helpers/required.js';
import { addLinuxUser, deleteLinuxUser, killUserProcesses, type LinuxUser } from './helpers/linux-users.js';
import { hasSlurm, runAsUser, useLocalSlurm, type LocalSlurm } from './helpers/slurm.js';

const skip =
  requireRoot('the Slurm tests start slurmd and create Linux users') ||
  requirePart('Slurm (slurmctld, slurmd, munged and the client commands)', hasSlurm(), 'as root: apt-get install -y slurm-wlm munge (as .ci/run does)');

interface Row {
  job_id: string; status: string; retcode: number | null; error: string | null; stdout_tail: string | null; stderr_tail: string | null;
  log_dir: string | null; slurm_job_id: string | null; slurm_state: string | null; slurm_reason: string | null; executor: string | null;
}

describe('the Slurm executor (LAB_EXECUTOR=slurm)', { skip, timeout: 10 * 60_000 }, () => {
  let slurm: LocalSlurm;
  let alice: LinuxUser;
  let shims: string;
  const calls = (tool: string): number => {
    const f = join(alice.home, `${tool}-calls.log`);
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).length : 0;
  };

  function agentEnv(extra: Record<string, string> = {}): string[] {
    const env: Record<string, string> = {
      HOME: alice.home, USER: alice.name, LOGNAME: alice.name, PATH: `${shims}:/usr/bin:/bin`, LANG: 'C.UTF-8', SLURM_CONF: slurm.conf,
      LAB_JUPYTER: join(shims, 'jupyter'), LAB_EXECUTOR: 'slurm', LAB_KILL_GRACE_S: '2', LAB_MAX_PARALLEL: '60', LAB_EMAIL: '', LAB_LOG_LEVEL: 'debug', ...extra,
    };
    return Object.entries(env).map(([k, v]) => `${k}=${v}`);
  }

  /** The CLI as alice, the way cron runs it: a bare environment, no terminal. */
  function cli(args: string[], extra: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
    return new Promise((resolve) => {
      execFile('runuser', ['-u', alice.name, '--', 'env', '-i', ...agentEnv(extra), process.execPath, cliPath, ...args], { cwd: alice.home, encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string }) | null;
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, signal: null, stdout, stderr });
      });
    });
  }

  function write(rel: string, content: string): string {
    const path = join(alice.home, rel);
    writeFileSync(path, content);
    chownSync(path, alice.uid, alice.uid);
    return path;
  }

  async function submit(script: string, opts: string[] = [], args: string[] = []): Promise<string> {
    const r = await cli(['submit', script, ...opts, '--', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  }

  async function row(id: string): Promise<Row> {
    const r = await cli(['status', id, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Row;
  }

  /**
   * One cron tick; returns how many squeue calls it made. Its limit is generous: under CI's load
   * slurmctld answers slowly, and each Slurm command of a tick may take up to its own 30 s limit.
   */
  async function tick(): Promise<number> {
    const before = calls('squeue');
    const r = await cli(['tick'], {}, 180_000);
    assert.equal(r.code, 0, `tick exited ${r.code}: ${r.stderr}`);
    return calls('squeue') - before;
  }

  /** Ticks until every job has ended; each tick makes at most one squeue call. */
  async function tickUntilEnded(ids: string[], timeoutMs = 120_000): Promise<Map<string, Row>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      assert.ok((await tick()) <= 1, 'one squeue call per tick at most');
      const rows = await Promise.all(ids.map(row));
      if (rows.every((r) => ['finished', 'failed', 'cancelled'].includes(r.status))) return new Map(rows.map((r) => [r.job_id, r]));
      if (Date.now() > deadline) throw new Error(`jobs still not ended: ${rows.map((r) => `${r.job_id} ${r.status} ${r.slurm_state}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  const squeueState = (slurmId: string): string =>
    execFileSync('squeue', ['-h', '-t', 'all', '-j', slurmId, '-o', '%T'], { env: { ...process.env, SLURM_CONF: slurm.conf }, encoding: 'utf8' }).trim();

  before(() => {
    slurm = useLocalSlurm();
    alice = addLinuxUser('labs', 'x');
    // Shims that count each squeue and sbatch the agent runs, then run the real one.
    shims = mkdtempSync(join(tmpdir(), 'lab-slurm-shims-'));
    chmodSync(shims, 0o755);
    for (const tool of ['squeue', 'sbatch']) {
      writeFileSync(join(shims, tool), `#!/bin/sh\necho "$*" >> "$HOME/${tool}-calls.log"\nexec /usr/bin/${tool} "$@"\n`, { mode: 0o755 });
    }
    // The member's Jupyter must be one a non-root user can run: the repo's .venv may live under
    // root's home (pyenv), and Debian's jupyter has nbconvert only as a module, not as a subcommand.
    writeFileSync(join(shims, 'jupyter'), '#!/bin/sh\nif [ "$1" = nbconvert ]; then shift; exec /usr/bin/python3 -m nbconvert "$@"; fi\nexec /usr/bin/jupyter "$@"\n', { mode: 0o755 });
    // …and the agent looks for nbconvert's entry point next to it before a notebook job starts.
    writeFileSync(join(shims, 'jupyter-nbconvert'), '#!/bin/sh\nexec /usr/bin/python3 -m nbconvert "$@"\n', { mode: 0o755 });
  });

  after(async () => {
    if (alice) {
      try {
        execFileSync('scancel', ['-u', alice.name], { env: { ...process.env, SLURM_CONF: slurm.conf }, stdio: 'ignore' });
      } catch {
        /* the cluster is gone already */
      }
      await cli(['db', 'stop']).catch(() => undefined);
      killUserProcesses(alice.name);
      await new Promise((r) => setTimeout(r, 300));
      deleteLinuxUser(alice.name);
    }
    rmSync(shims, { recursive: true, force: true });
    slurm?.release();
  });

  let timeoutJob: string;

  test('a .py with arguments and a notebook run through sbatch as the member and finish with their logs and tails; a failing script fails with its exit code', async () => {
    // Slurm's own time limit (one minute): checked at the end, after the other cases.
    const sleeper = write('forever.py', 'import time\nprint("sleeping", flush=True)\ntime.sleep(600)\n');
    timeoutJob = await submit(sleeper, ['--time', '1']);

    const py = write('hello.py', 'import os, sys\nprint("args:", sys.argv[1:])\nprint("slurm job", os.environ.get("SLURM_JOB_ID"), "as", os.environ["USER"])\nprint("oops", file=sys.stderr)\n');
    const nb = write('nb.ipynb', JSON.stringify({
      cells: [{ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['print(6 * 7)'] }],
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 5,
    }));
    const bad = write('bad.py', 'import sys\nprint("failing on purpose", file=sys.stderr)\nsys.exit(3)\n');
    const ids = [await submit(py, [], ['a b', '--flag', "it's"]), await submit(nb), await submit(bad)];
    const rows = await tickUntilEnded(ids);
    const [p, n, b] = ids.map((id) => rows.get(id)!);

    assert.equal(p!.status, 'finished', JSON.stringify(p));
    assert.equal(p!.retcode, 0);
    assert.equal(p!.executor, 'slurm');
    assert.match(p!.slurm_job_id ?? '', /^\d+$/);
    assert.match(p!.stdout_tail ?? '', new RegExp(`args: \\['a b', '--flag', "it's"\\]\\nslurm job ${p!.slurm_job_id} as ${alice.name}`));
    assert.match(p!.stderr_tail ?? '', /oops/);
    assert.equal(p!.log_dir, join(alice.home, 'lab_job_logs', p!.job_id));
    assert.match(readFileSync(join(p!.log_dir!, 'stdout.log'), 'utf8'), /args:/);
    assert.equal(JSON.parse(readFileSync(join(p!.log_dir!, 'exit.json'), 'utf8')).code, 0);
    assert.equal(squeueState(p!.slurm_job_id!), 'COMPLETED');

    assert.equal(n!.status, 'finished', JSON.stringify(n));
    assert.match(readFileSync(join(n!.log_dir!, 'output.ipynb'), 'utf8'), /42/);

    assert.equal(b!.status, 'failed', JSON.stringify(b));
    assert.equal(b!.retcode, 3);
    assert.match(b!.stderr_tail ?? '', /failing on purpose/);
    assert.equal(squeueState(b!.slurm_job_id!), 'FAILED', 'Slurm, too, says it failed');

    assert.equal(calls('sbatch'), 4, 'one sbatch per job');
    const detail = await cli(['status', p!.job_id]);
    assert.match(detail.stdout, new RegExp(`slurm job\\s+${p!.slurm_job_id}`));
  });

  test('doctor checks the Slurm commands, the cluster and the partition', async () => {
    type Doctor = { checks: { id: string; status: string; detail: string }[] };
    const status = (d: Doctor, id: string) => d.checks.find((c) => c.id === id)?.status;
    const good = JSON.parse((await cli(['doctor', '--json'])).stdout) as Doctor;
    assert.deepEqual(['slurm-commands', 'slurm-cluster', 'slurm-partition'].map((id) => status(good, id)), ['ok', 'ok', 'ok'], JSON.stringify(good.checks.filter((c) => c.id.startsWith('slurm'))));
    const bad = JSON.parse((await cli(['doctor', '--json'], { LAB_SLURM_PARTITION: 'nope', LAB_SLURM_EXTRA_ARGS: '--output=/tmp/elsewhere' })).stdout) as Doctor;
    assert.equal(status(bad, 'slurm-partition'), 'fail');
    assert.equal(status(bad, 'slurm-extra-args'), 'fail');
    const down = JSON.parse((await cli(['doctor', '--json'], { SLURM_CONF: '/nonexistent/slurm.conf' })).stdout) as Doctor;
    assert.equal(status(down, 'slurm-cluster'), 'fail');
  });

  test('a sleeping job is cancelled through scancel; a scancel from outside the agent fails the job with Slurm\'s reason', async () => {
    const sleeper = write('sleep.py', 'import time\nprint("started", flush=True)\ntime.sleep(300)\n');
    const [mine, theirs, timed] = [await submit(sleeper), await submit(sleeper), await submit(sleeper, ['--timeout', '4'])];
    // One CPU may be taken by the time-limit job: they run one after the other.
    const running = (id: string) => eventually(`${id} to run`, async () => {
      await tick();
      const r = await row(id);
      return r.status === 'running' ? r : null;
    }, 90_000, 300);
    await running(mine);
    assert.equal((await cli(['cancel', mine])).code, 0);
    const outside = (await running(theirs)).slurm_job_id!;
    const r = await runAsUser(alice, ['scancel', outside]);
    assert.equal(r.code, 0, r.stderr);
    const rows = await tickUntilEnded([mine, theirs, timed], 90_000);
    const late = rows.get(timed)!;
    assert.equal(late.status, 'failed', JSON.stringify(late));
    assert.equal(late.error, 'timeout after 4s', 'the agent\'s own timeout stops it through scancel');
    assert.equal(rows.get(mine)!.status, 'cancelled', JSON.stringify(rows.get(mine)));
    const t = rows.get(theirs)!;
    assert.equal(t.status, 'failed');
    assert.match(t.error ?? '', slurm.accounting ? /^CANCELLED by you: Slurm job \d+ was cancelled outside the agent/ : /^CANCELLED by someone/);
    assert.equal(t.slurm_state, 'CANCELLED');
    const ps = execFileSync('ps', ['-u', alice.name, '-o', 'args='], { encoding: 'utf8' });
    assert.ok(!ps.includes('sleep.py'), `the sleepers are gone: ${ps}`);
  });

  test('the agent SIGKILLed while its Slurm job runs: the next agent adopts it (no second sbatch) and records its end', async () => {
    const script = write('slow.py', 'import time\nprint("first", flush=True)\ntime.sleep(10)\nprint("second")\n');
    const sbatchBefore = calls('sbatch');
    // runuser waits for the agent, its child: the SIGKILL goes to the agent itself.
    const agentPid = (): number => {
      try {
        return Number(execFileSync('ps', ['--ppid', String(supervisor.pid), '-o', 'pid='], { encoding: 'utf8' }).trim()) || 0;
      } catch {
        return 0;
      }
    };
    const supervisor: ChildProcess = spawn('runuser', ['-u', alice.name, '--', 'env', '-i', ...agentEnv({ LAB_POLL_INTERVAL_S: '1', LAB_SLURM_POLL_S: '1' }), process.execPath, cliPath, 'supervise'], { cwd: alice.home, stdio: 'ignore' });
    try {
      const id = await submit(script);
      await eventually('the supervised job to run', async () => (await row(id)).status === 'running', 60_000, 300);
      process.kill(agentPid(), 'SIGKILL');
      await eventually('the supervisor to die', async () => supervisor.exitCode !== null || supervisor.signalCode !== null, 10_000, 100);
      assert.equal((await row(id)).status, 'running', 'it was left running');
      const rows = await tickUntilEnded([id], 60_000);
      const end = rows.get(id)!;
      assert.equal(end.status, 'finished', JSON.stringify(end));
      assert.match(end.stdout_tail ?? '', /first\nsecond/);
      assert.equal(calls('sbatch') - sbatchBefore, 1, 'submitted once');
    } finally {
      const pid = agentPid();
      if (pid) process.kill(pid, 'SIGKILL');
      supervisor.kill('SIGKILL');
    }
  });

  test('50 queued jobs on 2 CPUs run in the order they were submitted, with one squeue per tick', async () => {
    const script = write('quick.py', 'import sys, time\ntime.sleep(0.3)\nprint("job", sys.argv[1])\n');
    // Submitted ten at a time (each submit is a CLI process); "in order" is the queue's order, seq
    // (concurrent submits can commit in another order than their created_at).
    for (let i = 0; i < 50; i += 10) await Promise.all(Array.from({ length: 10 }, (_, k) => submit(script, [], [String(i + k)])));
    let sawWaiting = false;
    let mine: (Row & { seq: number; args: string; script_path: string })[] = [];
    const deadline = Date.now() + 240_000;
    for (;;) {
      const n = await tick();
      assert.ok(n <= 1, `a tick made ${n} squeue calls`);
      const r = await cli(['ls', '--limit', '50', '--json']);
      assert.equal(r.code, 0, r.stderr);
      mine = (JSON.parse(r.stdout) as typeof mine).filter((x) => x.script_path === script);
      if (mine.some((x) => x.status === 'claimed' && x.slurm_state === 'PENDING' && /Resources|Priority/.test(x.slurm_reason ?? ''))) sawWaiting = true;
      if (mine.length === 50 && mine.every((x) => x.status === 'finished')) break;
      assert.ok(Date.now() < deadline, `not all finished: ${mine.map((x) => x.status).join(',')}`);
    }
    assert.ok(sawWaiting, 'a job Slurm kept waiting showed its reason on the row while claimed');
    mine.sort((a, b) => a.seq - b.seq);
    const starts = mine.map((x) => execFileSync('squeue', ['-h', '-t', 'all', '-j', x.slurm_job_id!, '-o', '%S'], { env: { ...process.env, SLURM_CONF: slurm.conf }, encoding: 'utf8' }).trim());
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i - 1]! <= starts[i]!, `job ${i} started before job ${i - 1}: ${starts.join(' ')}`);
    for (const x of mine) assert.match(x.stdout_tail ?? '', new RegExp(`job ${JSON.parse(x.args)[0]}\\n?$`));
  });

  test('a job past its Slurm time limit is failed with Slurm\'s TIMEOUT', async () => {
    const rows = await tickUntilEnded([timeoutJob], 150_000);
    const t = rows.get(timeoutJob)!;
    assert.equal(t.status, 'failed', JSON.stringify(t));
    assert.match(t.error ?? '', /^TIMEOUT: Slurm stopped job \d+ at its time limit \(1:00\)/);
    assert.match(t.stdout_tail ?? '', /sleeping/);
  });
});
