// The Slurm executor's pure parts, without a cluster: squeue's and sacct's answers as the agent
// reads them, sbatch's options (the agent's, the member's, refused extra ones), the batch script
// run by a real shell, and the row's error for each way Slurm ends a job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchScript, parseExtraArgs, sbatchArgs, type BatchJob } from '../src/services/slurm/batch-script.js';
import { parseSacct } from '../src/services/slurm/sacct.js';
import { parseSqueue, isWaiting, hasEnded } from '../src/services/slurm/squeue.js';
import { slurmOutcome, slurmProbe } from '../src/services/slurm/slurm-end.js';
import type { JobRow } from '../src/services/store/types.js';

const job = (over: Partial<BatchJob> = {}): BatchJob => ({
  jobId: '0123abcd-0000-4000-8000-000000000000',
  prepared: { argv: ['/usr/bin/python3', '/home/a/x.py', 'a b'], cwd: '/home/a', logDir: '/home/a/lab_job_logs/j', tempDir: undefined },
  umask: '022', timeoutS: 90, settings: { partition: 'gpu', account: 'lab', qos: '', extraArgs: '--constraint=a100', gpuOption: 'gres' },
  resources: {}, ...over,
});

test('squeue lines: state, reason, node, times, and a job name holding the separator', () => {
  const jobs = parseSqueue('12|PENDING|Resources|||N/A|1:00|lab-0123abcd\n13|RUNNING|None|node7|2026-11-30T03:00:00|2026-11-30T04:00:00|1:00:00|odd|name\n');
  const p = jobs.get('12')!;
  assert.deepEqual([p.state, p.reason, p.nodes, p.timeLimit, isWaiting(p)], ['PENDING', 'Resources', null, '1:00', true]);
  const r = jobs.get('13')!;
  assert.deepEqual([r.reason, r.nodes, r.name, hasEnded(r)], [null, 'node7', 'odd|name', false]);
  assert.ok(r.startedAt?.endsWith('Z'));
});

test('sacct lines: who cancelled, the exit code and signal', () => {
  const recs = parseSacct('40|CANCELLED by 1001|0:15|node1|2026-11-30T03:01:02|None\n41|FAILED|3:0|node1|Unknown|None\n');
  assert.deepEqual({ ...recs.get('40')!, endedAt: null }, { id: '40', state: 'CANCELLED', by: '1001', exitCode: 0, signal: 15, nodes: 'node1', endedAt: null, reason: null });
  assert.equal(recs.get('41')!.exitCode, 3);
});

test('sbatch options: the agent\'s settings, the job\'s own requests over them, and what LAB_SLURM_EXTRA_ARGS may not set', () => {
  const a = sbatchArgs(job());
  for (const o of ['--constraint=a100', '--partition=gpu', '--account=lab', '--time=2', '--parsable', '--job-name=lab-0123abcd', '--chdir=/home/a', '--output=/home/a/lab_job_logs/j/stdout.log', '--no-requeue']) assert.ok(a.includes(o), o);
  const b = sbatchArgs(job({ resources: { partition: 'cpu', cpus: 4, memMb: 2000, timeMin: 30, gpus: 2 } }));
  for (const o of ['--partition=cpu', '--cpus-per-task=4', '--mem=2000M', '--time=30', '--gres=gpu:2']) assert.ok(b.includes(o), o);
  assert.ok(sbatchArgs(job({ resources: { gpus: 1 }, settings: { ...job().settings, gpuOption: 'gpus' } })).includes('--gpus=1'));
  for (const bad of ['--output=/tmp/x', '-o /tmp/x', '--chdir /', "--wrap='id'", '-J other', '--uid=0']) assert.throws(() => parseExtraArgs(bad), /may not set/, bad);
  assert.deepEqual(parseExtraArgs("--comment='two words' --exclusive"), ['--comment=two words', '--exclusive']);
});

test('the batch script runs the wrapper, writes the exit record, and ends with the job\'s own exit code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-batch-'));
  try {
    const b = job({ prepared: { argv: ['/bin/sh', '-c', 'echo "$1"; exit 7', 'sh', "it's a b"], cwd: dir, logDir: dir } });
    writeFileSync(join(dir, 'slurm.sh'), batchScript(b), { mode: 0o700 });
    let code = 0;
    let out = '';
    try {
      out = execFileSync('/bin/sh', [join(dir, 'slurm.sh')], { cwd: dir, encoding: 'utf8' });
    } catch (err) {
      code = (err as { status: number }).status;
      out = (err as { stdout: string }).stdout;
    }
    assert.equal(code, 7);
    assert.equal(out, "it's a b\n");
    assert.equal(JSON.parse(readFileSync(join(dir, 'exit.json'), 'utf8')).code, 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Slurm\'s own endings are the row\'s error; a lost job is failed, never left running', () => {
  const row = { job_id: 'j', status: 'running', stop_reason: null, log_dir: '/l', slurm_job_id: '9' } as unknown as JobRow;
  const finish = { kind: 'finish', retcode: 0, signal: null, finishedAt: null } as const;
  const view = (state: string) => ({ id: '9', state, reason: null, nodes: 'n1', startedAt: null, endedAt: null, timeLimit: '1:00', name: 'lab-j' });
  const tails = { stdoutTail: '', stderrTail: '' };
  const timeout = slurmProbe({ slurmJobId: '9', view: view('TIMEOUT'), exit: { code: null, signal: 'SIGTERM', endedAt: 'x' } }, tails);
  assert.match((slurmOutcome(row, finish, timeout) as { error: string }).error, /^TIMEOUT: Slurm stopped job 9 at its time limit \(1:00\)/);
  const oom = slurmProbe({ slurmJobId: '9', view: view('OUT_OF_MEMORY'), exit: null }, tails);
  assert.match((slurmOutcome(row, finish, oom) as { error: string }).error, /^OUT_OF_MEMORY: .* on n1; ask for more with submit --mem/);
  const byOther = slurmProbe({ slurmJobId: '9', view: view('CANCELLED'), exit: null, acct: { id: '9', state: 'CANCELLED', by: '1002', exitCode: 0, signal: 15, nodes: null, endedAt: null, reason: null }, ownUid: 1001, userName: () => 'admin' }, tails);
  assert.match((slurmOutcome(row, finish, byOther) as { error: string }).error, /^CANCELLED by admin \(uid 1002\)/);
  const lost = slurmProbe({ slurmJobId: '9', view: undefined, exit: null }, tails);
  assert.equal(lost.alive, false);
  assert.match((slurmOutcome(row, finish, lost) as { error: string }).error, /^lost: Slurm no longer knows job 9/);
  const running = slurmProbe({ slurmJobId: '9', view: view('RUNNING'), exit: null }, tails);
  assert.equal(running.alive, true);
  // Killed by a signal while squeue (asked earlier in the pass) still shows the job live: the
  // record waits for Slurm's word, so a time limit is not reported as a plain "killed by SIGTERM".
  for (const state of ['RUNNING', 'COMPLETING']) {
    const signalled = slurmProbe({ slurmJobId: '9', view: view(state), exit: { code: null, signal: 'SIGTERM', endedAt: 'x' } }, tails);
    assert.deepEqual([signalled.alive, signalled.exit], [true, null], `${state} with a SIGTERM record: not ended yet`);
  }
  const exited = slurmProbe({ slurmJobId: '9', view: view('COMPLETING'), exit: { code: 0, signal: null, endedAt: 'x' } }, tails);
  assert.deepEqual(exited.exit, { code: 0, signal: null, endedAt: 'x' }, 'a job that exited by itself ends at once');
  const cancelled = slurmOutcome({ ...row, stop_reason: 'cancel' } as JobRow, finish, timeout);
  assert.equal(cancelled.kind, 'cancel', 'the agent\'s own stop decides');
});
