import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, chmodSync, rmSync, existsSync, realpathSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { findPython, findJupyter } from '../src/services/runner/interpreter.js';
import { loginEnvironment, clearLoginEnvironmentCache, fallbackEnv } from '../src/services/host/login-env.js';
import { JobInputError } from '../src/services/runner/errors.js';
import { requirePart, hasTestPython, testPython } from './helpers/required.js';

const skipPython = requirePart('test Python', hasTestPython, 'python3 -m venv .venv && .venv/bin/pip install jupyterlab nbconvert ipykernel');

function tempTree(): { root: string; home: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'runner-interp-'));
  const home = join(root, 'home');
  mkdirSync(home);
  return { root, home, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

function fakeVenv(dir: string, exe = 'python'): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  const p = join(dir, 'bin', exe);
  symlinkSync(testPython, p);
  // what makes a folder a venv for the interpreter (python -m venv writes the same)
  writeFileSync(join(dir, 'pyvenv.cfg'), `home = ${dirname(realpathSync(testPython))}\ninclude-system-site-packages = false\n`);
  return p;
}

function writeScript(path: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'print("hi")\n');
}

test('findPython: venv beside the script or in a parent up to home; never above home', { skip: skipPython }, () => {
  const { root, home, cleanup } = tempTree();
  try {
    const emptyBin = join(root, 'emptybin');
    mkdirSync(emptyBin);
    const env = { PATH: emptyBin };
    fakeVenv(join(root, '.venv')); // above home: must not be used
    const deep = join(home, 'proj', 'sub', 'deep', 'train.py');
    writeScript(deep);

    assert.throws(() => findPython(deep, { home, env }), (e: unknown) => e instanceof JobInputError && /LAB_PYTHON/.test(e.message) && /python3/.test(e.message));

    const homeVenv = fakeVenv(join(home, 'venv'));
    assert.deepEqual(findPython(deep, { home, env }), { path: homeVenv, source: 'venv' });

    const projVenv = fakeVenv(join(home, 'proj', '.venv'));
    assert.deepEqual(findPython(deep, { home, env }), { path: projVenv, source: 'venv' });

    const beside = fakeVenv(join(home, 'proj', 'sub', 'deep', 'venv'));
    assert.deepEqual(findPython(deep, { home, env }), { path: beside, source: 'venv' });

    // the venv's python is returned unresolved (the symlink), which is what activates the venv
    const out = execFileSync(beside, ['-c', 'import sys; print(sys.prefix)'], { encoding: 'utf8' }).trim();
    assert.equal(out, join(home, 'proj', 'sub', 'deep', 'venv'));
  } finally {
    cleanup();
  }
});

test('findPython: login PATH python3 when there is no venv; LAB_PYTHON wins and is checked', { skip: skipPython }, () => {
  const { root, home, cleanup } = tempTree();
  try {
    const bin = join(root, 'bin');
    mkdirSync(bin);
    symlinkSync(testPython, join(bin, 'python3'));
    const script = join(home, 'a.py');
    writeScript(script);
    const env = { PATH: `relative/dir:${join(root, 'nothing')}:${bin}` };
    assert.deepEqual(findPython(script, { home, env }), { path: join(bin, 'python3'), source: 'login PATH' });

    fakeVenv(join(home, '.venv'));
    assert.deepEqual(findPython(script, { home, env, labPython: testPython }), { path: testPython, source: 'LAB_PYTHON' });

    assert.throws(() => findPython(script, { home, env, labPython: join(root, 'missing-python') }), (e: unknown) => e instanceof JobInputError && /LAB_PYTHON.*does not exist or is not executable/.test(e.message));
    const notExec = join(root, 'notexec');
    writeFileSync(notExec, '');
    chmodSync(notExec, 0o644);
    // (even root cannot execute a file with no x bit at all, so this holds under root too)
    assert.throws(() => findPython(script, { home, env, labPython: notExec }), JobInputError);
    assert.throws(() => findPython(script, { home, env, labPython: 'python3' }), /absolute path/);
  } finally {
    cleanup();
  }
});

test('findJupyter: LAB_JUPYTER, venv near the notebook, login PATH, ~/.local/bin; else how to install', { skip: skipPython }, () => {
  const { root, home, cleanup } = tempTree();
  try {
    const nb = join(home, 'nbs', 'a.ipynb');
    writeScript(nb);
    const empty = { PATH: join(root, 'none') };
    assert.throws(() => findJupyter(nb, { home, env: empty }), (e: unknown) => e instanceof JobInputError && /pip install --user jupyterlab nbconvert ipykernel/.test(e.message));

    const userBin = join(home, '.local', 'bin');
    mkdirSync(userBin, { recursive: true });
    symlinkSync(testPython, join(userBin, 'jupyter'));
    assert.deepEqual(findJupyter(nb, { home, env: empty }), { path: join(userBin, 'jupyter'), source: '~/.local/bin' });

    const bin = join(root, 'bin');
    mkdirSync(bin);
    symlinkSync(testPython, join(bin, 'jupyter'));
    assert.deepEqual(findJupyter(nb, { home, env: { PATH: bin } }), { path: join(bin, 'jupyter'), source: 'login PATH' });

    const venvJ = fakeVenv(join(home, 'nbs', '.venv'), 'jupyter');
    assert.deepEqual(findJupyter(nb, { home, env: { PATH: bin } }), { path: venvJ, source: 'venv' });
    assert.deepEqual(findJupyter(nb, { home, env: { PATH: bin }, labJupyter: join(bin, 'jupyter') }), { path: join(bin, 'jupyter'), source: 'LAB_JUPYTER' });
  } finally {
    cleanup();
  }
});

test('loginEnvironment runs the login shell once and reads its environment, past profile noise', async () => {
  const { home, cleanup } = tempTree();
  try {
    clearLoginEnvironmentCache();
    const profile = ['echo "welcome to the cluster"', 'printf "odd\\0output\\n"', 'export PATH="$HOME/mybin:$PATH"', 'export LAB_TEST_MARK="a b=c"', ''].join('\n');
    writeFileSync(join(home, '.bash_profile'), profile);
    writeFileSync(join(home, '.profile'), profile);
    for (const shell of ['/bin/bash', '/bin/sh'].filter(existsSync)) {
      const env = await loginEnvironment(home, shell);
      assert.equal(env.LAB_TEST_MARK, 'a b=c', shell);
      assert.ok(env.PATH!.split(':').includes(join(home, 'mybin')), `${shell}: ${env.PATH}`);
      assert.equal(env.HOME, home);
      assert.equal(await loginEnvironment(home, shell), env, 'cached per process');
    }
  } finally {
    clearLoginEnvironmentCache();
    cleanup();
  }
});

test('loginEnvironment returns even when the profile leaves a background process holding stdout', async () => {
  const { home, cleanup } = tempTree();
  try {
    clearLoginEnvironmentCache();
    // if it waited for stdout to close, it would hit the 5 s timeout and fall back (no mark)
    writeFileSync(join(home, '.profile'), 'sleep 10 &\nexport LAB_TEST_MARK=daemon\n');
    const env = await loginEnvironment(home, '/bin/sh');
    assert.equal(env.LAB_TEST_MARK, 'daemon');
  } finally {
    clearLoginEnvironmentCache();
    cleanup();
  }
});

test('loginEnvironment falls back to this process environment with a sane PATH', async () => {
  const { home, cleanup } = tempTree();
  try {
    clearLoginEnvironmentCache();
    const env = await loginEnvironment(home, join(home, 'no-such-shell'));
    assert.deepEqual(env, fallbackEnv(home));
    for (const d of ['/usr/bin', '/bin', join(home, '.local', 'bin')]) assert.ok(env.PATH!.split(':').includes(d));

    // a profile that hangs: the 5 s timeout gives the fallback
    clearLoginEnvironmentCache();
    writeFileSync(join(home, '.profile'), 'sleep 60\n');
    const t0 = Date.now();
    const env2 = await loginEnvironment(home, '/bin/sh');
    assert.equal(env2.LAB_TEST_MARK, undefined);
    assert.ok(env2.PATH!.includes('/usr/bin'));
    assert.ok(Date.now() - t0 < 15000, 'timed out in bounded time');
  } finally {
    clearLoginEnvironmentCache();
    cleanup();
  }
});
