import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { launchDetached, readExitRecord, readPidRecord, killJobGroup, killJobStragglers, signalJobProcess, AlreadyLaunchedError, type ExitRecord, type LaunchedJob } from '../src/services/runner/launch.js';
import { isAlive, isSameProcess, findProcessesWithEnv } from '../src/services/host/process-identity.js';
import { JobInputError } from '../src/services/runner/errors.js';
import { requirePart, hasTestPython, testPython, repoRoot } from './helpers/required.js';

const skip = requirePart('test Python', hasTestPython, 'install python3 (or make the test venv: scripts/test-venv.sh)');
const root = mkdtempSync(join(tmpdir(), 'runner-launch-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, LAB_TEST_MARK: 'runner-launch' };
let n = 0;

async function waitFor<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Launches `python -c code` into a fresh log dir. */
async function launchPy(code: string, extraEnv: Record<string, string> = {}): Promise<{ job: LaunchedJob; logDir: string }> {
  const logDir = join(root, 'logs', `job-${++n}`);
  const job = await launchDetached({ jobId: `job-${n}`, logDir, argv: [testPython, '-c', code], cwd: root, env: { ...env, ...extraEnv } });
  return { job, logDir };
}

const exitOf = (logDir: string): Promise<ExitRecord> => waitFor(`exit.json in ${logDir}`, () => readExitRecord(logDir));
const out = (logDir: string, f = 'stdout.log'): string => readFileSync(join(logDir, f), 'utf8');

/** Fields 5 (pgrp) and 6 (session) of /proc/<pid>/stat. */
function groupAndSession(pid: number): { pgrp: number; session: number } {
  const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');
  return { pgrp: Number(rest[2]), session: Number(rest[3]) };
}

test('a script that prints: logs, pid record, exit record with code 0', { skip }, async () => {
  const { job, logDir } = await launchPy('import os, sys; print("hello", os.environ["LAB_TEST_MARK"], os.getcwd()); print("warn", file=sys.stderr)');
  assert.equal(job.pgid, job.pid);
  const rec = await exitOf(logDir);
  assert.equal(rec.code, 0);
  assert.equal(rec.signal, null);
  assert.ok(!Number.isNaN(Date.parse(rec.endedAt)) && rec.endedAt.endsWith('Z'), rec.endedAt);
  assert.equal(out(logDir), `hello runner-launch ${root}\n`);
  assert.equal(out(logDir, 'stderr.log'), 'warn\n');
  assert.deepEqual(await readPidRecord(logDir), { pid: job.pid, pgid: job.pid, startTime: job.startTime, wrapperPid: job.wrapperPid, wrapperStartTime: job.wrapperStartTime });
  assert.equal(statSync(logDir).mode & 0o777, 0o700);
  assert.equal(statSync(join(logDir, 'stdout.log')).mode & 0o777, 0o600);
  assert.ok(!existsSync(join(logDir, '.pid.tmp')));
  // the wrapper has recorded and gone
  await waitFor('wrapper exit', () => !isSameProcess(job.wrapperPid, job.wrapperStartTime));
});

test('exit code 3, and an uncaught exception (code 1, traceback in stderr)', { skip }, async () => {
  const a = await launchPy('import sys; sys.exit(3)');
  const b = await launchPy('raise ValueError("bad input 42")');
  assert.deepEqual({ ...(await exitOf(a.logDir)), endedAt: '' }, { code: 3, signal: null, endedAt: '' });
  assert.equal((await exitOf(b.logDir)).code, 1);
  assert.match(out(b.logDir, 'stderr.log'), /Traceback[\s\S]*ValueError: bad input 42/);
});

test('lots of output reaches the log whole', { skip }, async () => {
  const { logDir } = await launchPy('import sys\nfor i in range(300000): print("line", i)\nprint("x" * 100000, file=sys.stderr)');
  assert.equal((await exitOf(logDir)).code, 0);
  const text = out(logDir);
  assert.equal(text.split('\n').length, 300001);
  assert.ok(text.endsWith('line 299999\n'));
  assert.equal(out(logDir, 'stderr.log').length, 100001);
});

test('starting does not wait for the job; the exit record appears later on its own', { skip }, async () => {
  const { job, logDir } = await launchPy('import time; time.sleep(2); print("slept")');
  // launchDetached has returned while the job sleeps
  assert.ok(isSameProcess(job.pid, job.startTime));
  assert.equal(await readExitRecord(logDir), null);
  const rec = await exitOf(logDir);
  assert.equal(rec.code, 0);
  assert.equal(out(logDir), 'slept\n');
  assert.ok(!isAlive(job.pid));
});

test('the job has its own session and group, apart from the agent and from the wrapper', { skip }, async () => {
  const { job, logDir } = await launchPy('import time; time.sleep(60)');
  try {
    // The start is reported just before the job's setsid: its session follows a moment later.
    await waitFor('the job\'s own session', () => groupAndSession(job.pid).session === job.pid);
    const jobIds = groupAndSession(job.pid);
    assert.deepEqual(jobIds, { pgrp: job.pid, session: job.pid });
    // The wrapper: in a session apart from the agent's (its launcher's, or its own where spawned) and from the job's.
    const wrapperIds = groupAndSession(job.wrapperPid);
    const mine = groupAndSession(process.pid);
    assert.notEqual(jobIds.session, mine.session);
    assert.notEqual(wrapperIds.session, mine.session);
    assert.notEqual(wrapperIds.session, jobIds.session);
    assert.notEqual(wrapperIds.pgrp, mine.pgrp);
  } finally {
    killJobGroup(job.pgid, 'SIGKILL');
  }
  assert.equal((await exitOf(logDir)).signal, 'SIGKILL');
});

test('SIGTERM to the group ends a normal job: signal recorded', { skip }, async () => {
  const { job, logDir } = await launchPy('import time; print("up", flush=True); time.sleep(60)');
  await waitFor('job up', () => out(logDir).includes('up'));
  assert.equal(killJobGroup(job.pgid, 'SIGTERM'), true);
  assert.deepEqual({ ...(await exitOf(logDir)), endedAt: '' }, { code: null, signal: 'SIGTERM', endedAt: '' });
  assert.equal(killJobGroup(job.pgid, 0), false, 'group gone');
});

test('SIGINT reaches the job with default handling (KeyboardInterrupt), not ignored', { skip }, async () => {
  const code = 'import sys, time\nprint("up", flush=True)\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    print("interrupted")\n    sys.exit(7)';
  const { job, logDir } = await launchPy(code);
  await waitFor('job up', () => out(logDir).includes('up'));
  killJobGroup(job.pgid, 'SIGINT');
  assert.equal((await exitOf(logDir)).code, 7);
  assert.match(out(logDir), /interrupted/);
});

test('a job ignoring SIGTERM, with a child: SIGKILL of the group ends both and is recorded', { skip }, async () => {
  const code = [
    'import signal, subprocess, time',
    'signal.signal(signal.SIGTERM, signal.SIG_IGN)',
    'child = subprocess.Popen(["sleep", "300"])',
    'print("child", child.pid, flush=True)',
    'while True: time.sleep(1)',
  ].join('\n');
  const { job, logDir } = await launchPy(code);
  const childPid = Number((await waitFor('child pid', () => /child (\d+)/.exec(out(logDir))))[1]);
  assert.ok(isAlive(childPid));
  killJobGroup(job.pgid, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(isSameProcess(job.pid, job.startTime), 'SIGTERM was ignored');
  assert.equal(await readExitRecord(logDir), null);
  killJobGroup(job.pgid, 'SIGKILL');
  const rec = await exitOf(logDir);
  assert.deepEqual({ code: rec.code, signal: rec.signal }, { code: null, signal: 'SIGKILL' });
  await waitFor('child gone', () => !isAlive(childPid));
  await waitFor('group gone', () => !killJobGroup(job.pgid, 0));
});

test('a child that left the job group survives the group kill; killJobStragglers finds it by LAB_JOB_ID', { skip }, async () => {
  const jobId = `stray-${process.pid}-${++n}`; // unique across test processes running at once
  const code = 'import os, subprocess, time\np = subprocess.Popen(["sleep", "300"], start_new_session=True)\nprint("child", p.pid, flush=True)\ntime.sleep(300)';
  const { job, logDir } = await launchPy(code, { LAB_JOB_ID: jobId });
  const childPid = Number((await waitFor('child pid', () => /child (\d+)/.exec(out(logDir))))[1]);
  // The wrapper is among them only where it was spawned with the job's environment (not forked by the launcher).
  assert.deepEqual(findProcessesWithEnv('LAB_JOB_ID', jobId).filter((p) => p !== job.wrapperPid).sort((a, b) => a - b), [job.pid, childPid].sort((a, b) => a - b));
  killJobGroup(job.pgid, 'SIGKILL');
  assert.equal((await exitOf(logDir)).signal, 'SIGKILL');
  assert.ok(isAlive(childPid), 'outside the group, so still alive');
  assert.deepEqual(killJobStragglers(jobId, job.wrapperPid), [childPid]);
  await waitFor('nothing left', () => findProcessesWithEnv('LAB_JOB_ID', jobId).length === 0);
});

test('the wrapper shrugs off a stray SIGTERM/SIGHUP and still records the exit', { skip }, async () => {
  const { job, logDir } = await launchPy('import time; print("up", flush=True); time.sleep(60)');
  await waitFor('job up', () => out(logDir).includes('up'));
  process.kill(job.wrapperPid, 'SIGTERM');
  process.kill(job.wrapperPid, 'SIGHUP');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(isSameProcess(job.wrapperPid, job.wrapperStartTime));
  assert.ok(isSameProcess(job.pid, job.startTime));
  killJobGroup(job.pgid, 'SIGTERM');
  assert.equal((await exitOf(logDir)).signal, 'SIGTERM');
});

test('a program that cannot be executed: exit code 127 and the reason in stderr.log', async () => {
  const logDir = join(root, 'logs', 'missing-program');
  await launchDetached({ jobId: 'missing', logDir, argv: [join(root, 'no-such-python'), 'x.py'], cwd: root, env });
  assert.equal((await exitOf(logDir)).code, 127);
  assert.match(out(logDir, 'stderr.log'), /no-such-python/);
});

test('launching twice into the same log dir is refused', { skip }, async () => {
  const { logDir } = await launchPy('pass');
  await assert.rejects(launchDetached({ jobId: 'again', logDir, argv: [testPython, '-c', 'pass'], cwd: root, env }), AlreadyLaunchedError);
});

test('a missing working folder fails the launch with a clear error', async () => {
  const logDir = join(root, 'logs', 'bad-cwd');
  await assert.rejects(launchDetached({ jobId: 'bad-cwd', logDir, argv: ['/bin/true'], cwd: join(root, 'no-such-dir'), env }), (e: unknown) => e instanceof JobInputError && /working folder .*no-such-dir does not exist/.test(e.message));
  assert.ok(!existsSync(join(logDir, 'pid')));
});

test('signalJobProcess reaches a job whose group does not exist yet (started, setsid not yet run): the process itself', async () => {
  // A process that leads no group stands for the job in that moment: killJobGroup finds no group (ESRCH).
  const child = spawn('/bin/sh', ['-c', 'exec sleep 60'], { stdio: 'ignore' });
  await waitFor('the child up', () => existsSync(`/proc/${child.pid}/stat`) && readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep'));
  assert.equal(killJobGroup(child.pid!, 0), false, 'no group of that id');
  signalJobProcess(child.pid!, 'SIGTERM');
  const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
  assert.equal(signal, 'SIGTERM');
});

test('killJobGroup refuses pgid 0, 1 and negative', () => {
  for (const bad of [0, 1, -1, -5, 1.5]) assert.throws(() => killJobGroup(bad, 'SIGTERM'), /refusing/);
});

/** A node process that launches a job and then either exits or is killed. */
async function launchFromChild(logDir: string, code: string, then: 'exit' | 'hang'): Promise<{ job: LaunchedJob; launcherPid: number; done: Promise<unknown> }> {
  const script = join(root, `launcher-${++n}.mjs`);
  const mod = pathToFileURL(join(repoRoot, 'src/services/runner/launch.ts')).href;
  writeFileSync(
    script,
    `const { launchDetached } = await import(${JSON.stringify(mod)});
const job = await launchDetached(${JSON.stringify({ jobId: `child-${n}`, logDir, argv: [testPython, '-c', code], cwd: root, env })});
process.stdout.write(JSON.stringify(job) + '\\n');
${then === 'exit' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);'}
`,
  );
  const launcher = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const done = once(launcher, 'exit');
  let text = '';
  launcher.stdout!.setEncoding('utf8');
  launcher.stdout!.on('data', (c: string) => (text += c));
  await waitFor('launcher report', () => text.includes('\n'));
  return { job: JSON.parse(text) as LaunchedJob, launcherPid: launcher.pid!, done };
}

test('the job keeps running after the launching node process exits, and is recorded', { skip }, async () => {
  const logDir = join(root, 'logs', 'orphan-exit');
  const { job, done } = await launchFromChild(logDir, 'import time; time.sleep(2); print("survived")', 'exit');
  const [code] = (await done) as [number];
  assert.equal(code, 0);
  assert.ok(isSameProcess(job.pid, job.startTime), 'job alive after the launcher exited');
  assert.equal((await exitOf(logDir)).code, 0);
  assert.equal(out(logDir), 'survived\n');
});

test('the job survives a SIGKILL of the launching node process (agent crash)', { skip }, async () => {
  const logDir = join(root, 'logs', 'orphan-crash');
  const { job, launcherPid, done } = await launchFromChild(logDir, 'import time; time.sleep(2); print("survived")', 'hang');
  process.kill(launcherPid, 'SIGKILL');
  await done;
  assert.ok(isSameProcess(job.pid, job.startTime), 'job alive after the launcher was killed');
  assert.equal((await exitOf(logDir)).code, 0);
  assert.equal(out(logDir), 'survived\n');
});
