import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { processStartTime, isSameProcess, isAlive, parseProcStat } from '../src/services/host/process-identity.js';
import { requirePart, hasTestPython, testPython } from './helpers/required.js';

const skipPython = requirePart('test Python', hasTestPython, 'python3 -m venv .venv && .venv/bin/pip install jupyterlab nbconvert ipykernel');

test('this process: a start time, the same process, alive', () => {
  const st = processStartTime(process.pid);
  assert.match(st ?? '', /^\d+$/);
  assert.ok(isSameProcess(process.pid, st));
  assert.ok(!isSameProcess(process.pid, String(Number(st) + 1)));
  assert.ok(!isSameProcess(process.pid, null));
  assert.ok(isAlive(process.pid));
  assert.equal(processStartTime(0), null);
  assert.equal(processStartTime(-5), null);
  assert.ok(!isAlive(0));
});

test('parseProcStat copes with spaces and parentheses in comm', () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[0] = 'S';
  fields[19] = '987654';
  assert.deepEqual(parseProcStat(`42 (a) b (c) ) ${fields.join(' ')}`), { state: 'S', startTime: '987654' });
  assert.equal(parseProcStat('garbage'), null);
});

test('a real process named with ") (": its start time is read right, then it is gone', { skip: skipPython }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-ident-'));
  try {
    const odd = join(dir, 'x) (y z');
    symlinkSync(testPython, odd);
    const child = spawn(odd, ['-c', 'import time; time.sleep(30)'], { stdio: 'ignore' });
    const pid = child.pid!;
    // wait for exec, after which comm is the odd name
    let raw = '';
    for (let i = 0; i < 200 && !(raw = readFileSync(`/proc/${pid}/stat`, 'utf8')).includes('(x) (y z)'); i++) await new Promise((r) => setTimeout(r, 25));
    const st = processStartTime(pid);
    assert.match(st ?? '', /^\d+$/, raw);
    assert.ok(raw.includes('(x) (y z)'), raw);
    assert.ok(isSameProcess(pid, st));
    assert.ok(isAlive(pid));
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.ok(!isAlive(pid));
    assert.ok(!isSameProcess(pid, st));
    assert.equal(processStartTime(pid), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a zombie (exited, not yet reaped) is not alive', { skip: skipPython }, async () => {
  // the python parent never waits, so its child stays a zombie while the parent sleeps
  const parent = spawn(testPython, ['-c', 'import subprocess, time, sys; p = subprocess.Popen(["true"]); print(p.pid, flush=True); time.sleep(30)'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const [chunk] = (await once(parent.stdout!, 'data')) as [Buffer];
    const zpid = Number(chunk.toString().trim());
    for (let i = 0; i < 100 && !readFileSync(`/proc/${zpid}/stat`, 'utf8').includes(') Z '); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(readFileSync(`/proc/${zpid}/stat`, 'utf8').includes(') Z '));
    assert.ok(!isAlive(zpid));
    assert.ok(!isSameProcess(zpid, processStartTime(zpid)));
  } finally {
    parent.kill('SIGKILL');
  }
});
