// What a job's start costs in processes, and what a job survives (issue 11.7). The chain from the
// agent to the job's program is: the resident launcher forks the wrapper (a shell function), the
// wrapper forks the job, the job execs setsid (its own session), env (SIGINT/SIGQUIT back to their
// defaults) and the program: two forks and two execs besides the program, counted here with
// strace on the launcher. Before, it was four execs (setsid -f, the wrapper's sh, setsid, the
// inner sh) and three forks. And the whole agent process group killed mid-job leaves the job
// running, its exit record written, and its result recorded by the next agent.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchDetached, readExitRecord } from '../src/services/runner/launch.js';
import { launcherAvailable } from '../src/services/runner/launcher.js';
import { isSameProcess } from '../src/services/host/process-identity.js';
import { whichIn } from '../src/services/host/executables.js';
import { useFreshDatabase, jobRow } from './helpers/fresh-db.js';
import { AgentEnv, cliPath, eventually, exited } from './helpers/agent-env.js';
import { requirePart, hasTestPython, testPython } from './helpers/required.js';

const strace = whichIn('strace', process.env.PATH);
const skipPython = requirePart('test Python', hasTestPython, 'install python3 (or make the test venv: scripts/test-venv.sh)');
const skipLauncher = skipPython || requirePart('env --default-signal (coreutils ≥ 8.31)', launcherAvailable(), 'install a newer coreutils');
const skipStrace = skipLauncher || requirePart('strace', strace !== null, 'apt-get install strace');
const root = mkdtempSync(join(tmpdir(), 'runner-chain-'));
// Retried: a folder a job's wrapper was still writing its record into made one removal fail with
// ENOTEMPTY, and a root hook that throws leaves the file's database (and this process) behind.
after(() => rmSync(root, { recursive: true, force: true, maxRetries: 5 }));

const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root };
const stat = (pid: number): string[] => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');

test('a job\'s start: two forks of the launcher shell and two execs (setsid, env) besides the job\'s program', { skip: skipStrace }, async () => {
  // A first job brings the launcher up; its wrapper's parent is the launcher.
  const first = await launchDetached({ jobId: 'chain-first', logDir: join(root, 'first'), argv: [testPython, '-c', 'import time; time.sleep(30)'], cwd: root, env, via: 'launcher' });
  const launcher = Number(stat(first.wrapperPid)[1]);
  assert.ok(launcher > 1 && launcher !== process.pid);
  const trace = join(root, 'strace.txt');
  // -ff: a file per process (trace.<pid>), so no call is split into `<unfinished ...>` and
  // `<... resumed>` lines by another process's call between them (it was, under load).
  const tracer = spawn(strace!, ['-ff', '-e', 'trace=execve,execveat,clone,clone3,fork,vfork', '-o', trace, '-p', String(launcher)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  tracer.stderr!.setEncoding('utf8').on('data', (c: string) => (said += c));
  try {
    await eventually('strace attached to the launcher', async () => said.includes('attached'), 30_000, 20);
    const logDir = join(root, 'second');
    const job = await launchDetached({ jobId: 'chain-second', logDir, argv: [testPython, '-c', 'pass'], cwd: root, env: { ...env, EXTRA: 'x' }, via: 'launcher' });
    await eventually('the exit record', () => readExitRecord(logDir), 30_000, 20);
    await eventually('the wrapper gone', async () => !isSameProcess(job.wrapperPid, job.wrapperStartTime), 30_000, 20);
  } finally {
    tracer.kill('SIGINT'); // detaches
    await exited(tracer);
    process.kill(-first.pgid, 'SIGKILL');
    // Its wrapper writes the exit record: nothing may still be writing in the folder afterwards.
    await eventually('the first job\'s exit record', () => readExitRecord(join(root, 'first')), 30_000, 20);
  }
  const lines = readdirSync(root).filter((f) => f.startsWith('strace.txt.')).flatMap((f) => readFileSync(join(root, f), 'utf8').split('\n'));
  // Processes made: clone(2) without CLONE_THREAD (the shell's fork), and fork/vfork.
  const forks = lines.filter((l) => /\b(clone3?|v?fork)\(/.test(l) && !l.includes('CLONE_THREAD') && / = \d+$/.test(l));
  const execs = lines.filter((l) => /\bexecve(at)?\(/.test(l) && / = 0$/.test(l)).map((l) => /execve(?:at)?\("([^"]+)"/.exec(l)?.[1]);
  assert.equal(forks.length, 2, `forks:\n${forks.join('\n')}`);
  assert.equal(execs.at(-1), testPython, `the job's program is the last exec: ${execs.join(', ')}`);
  assert.deepEqual(execs.slice(0, -1).map((p) => p?.split('/').pop()), ['setsid', 'env'], `execs before the program: ${execs.join(', ')}`);
});

const db = await useFreshDatabase();

test('the agent\'s whole process group killed mid-job: the job runs on, writes its exit record, and the next agent records it', { skip: skipPython }, async () => {
  const a = new AgentEnv(db, 'chain_group', { LAB_MAX_PARALLEL: '2' });
  const marker = join(a.home, 'done.txt');
  const script = a.write('slow.py', `import time\nprint("up", flush=True)\ntime.sleep(3)\nopen(${JSON.stringify(marker)}, "w").write("done")\nprint("done")\n`);
  const id = (await a.cli(['submit', script])).stdout.trim();
  // The agent leads a process group of its own, as in a terminal: the group is what a Ctrl-C, a hang-up or a kill of the group reaches.
  const sup = spawn(process.execPath, [cliPath, 'supervise'], { env: a.env, detached: true, stdio: 'ignore' });
  const running = await eventually('the job running', async () => {
    const j = await jobRow(db, id);
    return j.status === 'running' && j.pid && existsSync(join(j.log_dir!, 'stdout.log')) && readFileSync(join(j.log_dir!, 'stdout.log'), 'utf8').includes('up') ? j : null;
  }, 60_000, 50);
  process.kill(-sup.pid!, 'SIGKILL');
  await exited(sup);
  assert.ok(isSameProcess(running.pid!, running.pid_start), 'the job outlives its agent\'s group');
  const rec = await eventually('the exit record, with no agent running', () => readExitRecord(running.log_dir!), 60_000, 100);
  assert.deepEqual({ code: rec.code, signal: rec.signal }, { code: 0, signal: null });
  assert.equal(readFileSync(marker, 'utf8'), 'done');
  const ended = await eventually('the next agent to record the end', async () => {
    await a.cli(['tick']);
    const j = await jobRow(db, id);
    return j.status !== 'running' ? j : null;
  }, 60_000, 200);
  assert.equal(ended.status, 'finished', ended.error ?? '');
  assert.equal(ended.retcode, 0);
});
