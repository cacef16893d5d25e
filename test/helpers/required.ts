// Required parts (Python, Jupyter, PostgreSQL ...) may be missing on a developer's laptop, where a
// test may skip with the reason. Under CI=true a missing part is a failure, never a skip.
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { whichIn } from '../../src/services/host/executables.js';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const isCI = process.env.CI === 'true';

/** Returns a skip reason for node:test ({ skip }) or false; throws under CI=true. */
export function requirePart(name: string, present: boolean, howToGet: string): string | false {
  if (present) return false;
  const reason = `${name} not found: ${howToGet}`;
  if (isCI) throw new Error(`required test dependency missing under CI=true: ${reason}`);
  return reason;
}

export const isRoot = process.getuid?.() === 0;

/**
 * What only root can do (create Linux users, mount, start slurmd, a root agent's database): a
 * member's `npm test` skips it with this reason, which names root and why; under CI=true (run as
 * root) a non-root run is a failure. Check root first, then the parts the test needs besides
 * (requirePart), so a member's run says "root", never a part it merely cannot see from its PATH.
 * test/skip-reasons.test.ts holds every test to it.
 */
export function requireRoot(why: string): string | false {
  if (!why.trim()) throw new Error('requireRoot: say why the test needs root');
  if (isRoot) return false;
  const reason = `needs root: ${why} (run the tests as root, as .ci/run does)`;
  if (isCI) throw new Error(`under CI=true the tests run as root: ${reason}`);
  return reason;
}

/** The test virtualenv (scripts/test-venv.sh, made by `npm test` when missing, and by .ci/run). */
const testVenv = process.env.LAB_TEST_VENV ?? join(repoRoot, '.venv');
const venvPython = join(testVenv, 'bin', 'python');
/** The venv's Python, else python3 on PATH: tests that need only Python never need the venv. */
export const testPython = existsSync(venvPython) ? venvPython : (whichIn('python3', process.env.PATH) ?? venvPython);
export const testJupyter = join(testVenv, 'bin', 'jupyter');
export const hasTestPython = existsSync(testPython);
export const hasTestJupyter = existsSync(testJupyter);
/** Debian's jupyter-notebook package: the legacy Notebook 6 (NotebookApp) server. */
export const legacyJupyter = '/usr/bin/jupyter-notebook';
export const hasLegacyJupyter = existsSync(legacyJupyter);
