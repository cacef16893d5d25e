// `npm test` on a fresh clone is the whole set-up: tests that need only Python use python3 on
// PATH when there is no .venv, and the runner makes the Jupyter virtualenv itself when it is
// missing, saying so, and fails under CI=true when it cannot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, requirePart } from './helpers/required.js';
import { whichIn } from '../src/services/host/executables.js';

const work = mkdtempSync(join(tmpdir(), 'lab-harness-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

function node(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: repoRoot, env, timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

// pip with no index at all: the venv is made, the install fails at once (no network, no mirror).
const noIndex = { PIP_CONFIG_FILE: '/dev/null', PIP_NO_INDEX: '1', PIP_FIND_LINKS: '', PIP_INDEX_URL: '' };
const noPython = requirePart('python3 on PATH', Boolean(whichIn('python3', process.env.PATH)), 'install python3');

test('no .venv: the test Python is python3 on PATH, so Python-only tests run', { skip: noPython }, async () => {
  const code = "import('./test/helpers/required.ts').then((r) => console.log(JSON.stringify({ p: r.testPython, has: r.hasTestPython })))";
  const { code: rc, out } = await node(['--import', 'tsx', '-e', code], { ...process.env, LAB_TEST_VENV: join(work, 'absent') });
  assert.equal(rc, 0, out);
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), { p: whichIn('python3', process.env.PATH), has: true });
});

test('no Jupyter venv and no package index: npm test says so and goes on; under CI=true it fails before any test', { skip: noPython }, async () => {
  const env = { ...process.env, ...noIndex, LAB_TEST_VENV: join(work, 'venv') };
  const ci = await node(['test/run-tests.mjs', 'test/gpu-parse.test.ts'], { ...env, CI: 'true' });
  assert.equal(ci.code, 1, ci.out);
  assert.match(ci.out, /has no Jupyter: making it once \(scripts\/test-venv\.sh/);
  assert.match(ci.out, /could not make the test virtualenv .*under CI=true that is a failure/);
  assert.doesNotMatch(ci.out, /test PostgreSQL ready/);

  const laptop = await node(['test/run-tests.mjs', 'test/gpu-parse.test.ts'], { ...env, CI: '' });
  assert.equal(laptop.code, 0, laptop.out);
  assert.match(laptop.out, /could not make the test virtualenv .*the tests that need Jupyter skip with the reason/);
  assert.match(laptop.out, /all test files: passed/);
});
