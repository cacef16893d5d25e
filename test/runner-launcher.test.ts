// The resident launcher shell starts jobs exactly as a spawn from the agent would: every argument
// and environment value arrives byte for byte (quotes, newlines, $, backslashes, empty strings),
// the working folder and the end report are the same, and the agent forks nothing per job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launchDetached, readExitRecord } from '../src/services/runner/launch.js';
import { launcherAvailable } from '../src/services/runner/launcher.js';
import { requirePart, hasTestPython, testPython } from './helpers/required.js';

const skip = requirePart('test Python', hasTestPython, 'install python3 (or make the test venv: scripts/test-venv.sh)')
  || requirePart('env --default-signal (coreutils ≥ 8.31)', launcherAvailable(), 'install a newer coreutils');
const root = mkdtempSync(join(tmpdir(), 'runner-launcher-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

// Besides KEEP: names the wrapper's shell could have used for variables of its own; the member's values must reach the job.
const theirs = { id: 'their id', log: 'their log', mask: 'their mask', rc: 'their rc', NL: 'their NL', line: 'their line', W: 'their W' };
const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root, KEEP: 'kept', ...theirs };
const awkward = ['plain', '', 'two words', "it's", '"dq"', '$HOME `date` $(id)', 'back\\slash', 'new\nline', '\ttab', 'ünï 日本', "'; echo owned; '", '-c', '--'];
const report = `import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "env": {k: os.environ.get(k) for k in ("KEEP", "EXTRA", "-LEAD", "LAB_JOB_ID", ${Object.keys(theirs).map((k) => JSON.stringify(k)).join(', ')})}, "cwd": os.getcwd()}))`;

let n = 0;
async function run(via: 'launcher' | 'spawn', env: Record<string, string>): Promise<{ argv: string[]; env: Record<string, string | null>; cwd: string; ended: boolean }> {
  const jobId = `launcher-${via}-${++n}`;
  const logDir = join(root, jobId);
  let ended = false;
  await launchDetached({ jobId, logDir, argv: [testPython, '-c', report, ...awkward], cwd: root, env: { ...env, LAB_JOB_ID: jobId }, via, onEnded: () => (ended = true) });
  for (let i = 0; i < 400 && !(await readExitRecord(logDir)); i++) await new Promise((r) => setTimeout(r, 25));
  for (let i = 0; i < 200 && !ended; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal((await readExitRecord(logDir))?.code, 0, readFileSync(join(logDir, 'stderr.log'), 'utf8'));
  return { ...JSON.parse(readFileSync(join(logDir, 'stdout.log'), 'utf8')), ended };
}

test('arguments, environment, folder and the end report arrive the same through the launcher as through a spawn', { skip }, async () => {
  for (const env of [base, { ...base, EXTRA: 'multi\nline \'quoted\' $x', '-LEAD': 'a name env(1) could take for an option' }, { PATH: base.PATH, HOME: root, EXTRA: 'without KEEP' }]) {
    const [viaLauncher, viaSpawn] = [await run('launcher', env), await run('spawn', env)];
    assert.deepEqual(viaLauncher.argv, awkward, 'every argument byte for byte');
    // '-LEAD' aside: the spawned wrapper is a shell, which passes on only the names it can hold as variables.
    assert.deepEqual({ ...viaLauncher, env: { ...viaLauncher.env, LAB_JOB_ID: null, '-LEAD': null } }, { ...viaSpawn, env: { ...viaSpawn.env, LAB_JOB_ID: null, '-LEAD': null } });
    assert.equal(viaLauncher.env.KEEP, (env as Record<string, string>).KEEP ?? null, 'a variable the job lacks is not passed on');
    assert.equal(viaLauncher.env['-LEAD'], (env as Record<string, string>)['-LEAD'] ?? null);
    for (const k of Object.keys(theirs)) assert.equal(viaSpawn.env[k], (env as Record<string, string>)[k] ?? null, `the member's ${k} arrives unchanged`);
    assert.equal(viaLauncher.ended, true, 'the end is reported');
  }
});

test('jobs started through the launcher are not children of the agent', { skip }, async () => {
  const jobId = `launcher-parent-${++n}`;
  const logDir = join(root, jobId);
  const job = await launchDetached({ jobId, logDir, argv: [testPython, '-c', 'import time; time.sleep(1)'], cwd: root, env: base, via: 'launcher' });
  const ppid = Number(readFileSync(`/proc/${job.wrapperPid}/stat`, 'utf8').split(') ').pop()!.split(' ')[1]);
  assert.notEqual(ppid, process.pid, 'the agent did not fork it');
  for (let i = 0; i < 400 && !(await readExitRecord(logDir)); i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal((await readExitRecord(logDir))?.code, 0);
});

test('a program whose path holds a "=" runs too (env(1) would read it as a variable: such a job is spawned)', { skip }, async () => {
  const dir = join(root, 'with=sign');
  mkdirSync(dir);
  symlinkSync(testPython, join(dir, 'python'));
  const jobId = `launcher-eq-${++n}`;
  const logDir = join(root, jobId);
  await launchDetached({ jobId, logDir, argv: [join(dir, 'python'), '-c', 'print("ran")'], cwd: root, env: base, via: 'launcher' });
  for (let i = 0; i < 400 && !(await readExitRecord(logDir)); i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal((await readExitRecord(logDir))?.code, 0, readFileSync(join(logDir, 'stderr.log'), 'utf8'));
  assert.equal(readFileSync(join(logDir, 'stdout.log'), 'utf8'), 'ran\n');
});
