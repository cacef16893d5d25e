// What a Jupyter installation has, read from its entry points: Debian's Notebook 6
// (/usr/bin/jupyter-notebook, jupyter_core without nbconvert's entry point), the JupyterLab test
// venv, and a real venv without nbconvert. A notebook job whose jupyter has no nbconvert fails
// before it starts, with the install command for that setup (venv, --user, conda).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectLegacy, inspectJupyter, installCommand, jupyterForApp, missingMessage, notebookMajorOf } from '../src/services/jupyter/installed.js';
import { JupyterError } from '../src/services/jupyter/errors.js';
import { prepareJob } from '../src/services/runner/prepare.js';
import { JobInputError } from '../src/services/runner/errors.js';
import { hasLegacyJupyter, hasTestJupyter, legacyJupyter, requirePart, testJupyter } from './helpers/required.js';

const skipLab = requirePart('JupyterLab', hasTestJupyter, 'make the test venv: scripts/test-venv.sh (npm test does it when .venv is missing)');
const skipLegacy = requirePart('legacy Notebook 6', hasLegacyJupyter, 'apt-get install jupyter-notebook (Debian/Ubuntu)');
const debianJupyter = '/usr/bin/jupyter';
const systemPath = '/usr/bin:/bin';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'jupyter-installed-')));
test.after(() => rmSync(root, { recursive: true, force: true }));

test("Debian's Notebook 6: NotebookApp, no jupyter-lab, no jupyter-nbconvert", { skip: skipLegacy }, () => {
  assert.equal(notebookMajorOf(legacyJupyter), 6);
  for (const path of [debianJupyter, legacyJupyter]) {
    const install = inspectJupyter(path, systemPath);
    assert.equal(install.notebookMajor, 6);
    assert.equal(install.entryPoint('notebook'), legacyJupyter);
    assert.equal(detectLegacy(install, 'notebook'), true, 'the classic NotebookApp');
    assert.equal(detectLegacy(install, 'lab'), false);
  }
  const install = inspectJupyter(debianJupyter, systemPath);
  assert.equal(install.entryPoint('lab'), null);
  assert.equal(install.entryPoint('nbconvert'), null);
  assert.deepEqual(jupyterForApp(debianJupyter, 'notebook', null, systemPath), { legacy: true });
  assert.deepEqual(jupyterForApp(debianJupyter, 'notebook', false, systemPath), { legacy: false }, 'JUPYTER_LEGACY overrides');
  assert.throws(() => jupyterForApp(debianJupyter, 'lab', null, systemPath), (e: unknown) =>
    e instanceof JupyterError && e.kind === 'not-found' && /Install it with: python3 -m pip install --user jupyterlab/.test(e.message) && /--app notebook/.test(e.message));
});

test('the JupyterLab venv: Jupyter Server, lab and nbconvert beside it; the install command names the venv', { skip: skipLab }, () => {
  const install = inspectJupyter(testJupyter, systemPath);
  for (const sub of ['lab', 'server', 'nbconvert']) assert.ok(install.entryPoint(sub), `jupyter-${sub}`);
  assert.deepEqual(jupyterForApp(testJupyter, 'lab', null, systemPath), { legacy: false });
  assert.equal(missingMessage(install, ['lab', 'nbconvert'], 'x'), null);
  assert.match(installCommand(testJupyter, ['notebook']), /\/bin\/python -m pip install notebook$/);
});

test('Notebook 7 (on Jupyter Server) and pip-style entry scripts', () => {
  const bin = join(root, 'nb7', 'bin');
  mkdirSync(bin, { recursive: true });
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/usr/bin/python3\nimport sys\n${body}\nsys.exit(main())\n`);
    chmodSync(join(bin, name), 0o755);
  };
  script('jupyter', 'from jupyter_core.command import main');
  script('jupyter-notebook', 'from notebook.app import main');
  const install = inspectJupyter(join(bin, 'jupyter'), '');
  assert.equal(install.notebookMajor, 7);
  assert.equal(detectLegacy(install, 'notebook'), false);
  script('jupyter-notebook', 'from notebook.notebookapp import main');
  assert.equal(detectLegacy(inspectJupyter(join(bin, 'jupyter'), ''), 'notebook'), true);
});

test('install commands: venv, conda environment, --user', () => {
  const venv = join(root, 'v');
  mkdirSync(join(venv, 'bin'), { recursive: true });
  writeFileSync(join(venv, 'pyvenv.cfg'), 'home = /usr/bin\n');
  assert.equal(installCommand(join(venv, 'bin', 'jupyter'), ['nbconvert', 'ipykernel']), `${venv}/bin/python -m pip install nbconvert ipykernel`);
  const conda = join(root, 'miniconda3', 'envs', 'ml');
  mkdirSync(join(conda, 'conda-meta'), { recursive: true });
  assert.equal(installCommand(join(conda, 'bin', 'jupyter'), ['nbconvert']), `conda install -p ${conda} -c conda-forge nbconvert`);
  assert.equal(installCommand('/home/u/.local/bin/jupyter', ['notebook<7']), "python3 -m pip install --user 'notebook<7'");
});

const notebook = JSON.stringify({ cells: [{ cell_type: 'code', metadata: {}, source: ['print(1)'], outputs: [], execution_count: null }], metadata: {}, nbformat: 4, nbformat_minor: 5 });

async function prepareNotebook(labJupyter: string): Promise<unknown> {
  const home = mkdtempSync(join(root, 'home-'));
  writeFileSync(join(home, 'nb.ipynb'), notebook);
  return prepareJob({ jobId: `nb-${process.pid}`, scriptPath: join(home, 'nb.ipynb'), args: null, home, logRoot: join(home, 'lab_job_logs'), env: { PATH: systemPath, HOME: home }, labJupyter })
    .then(() => null, (e: unknown) => e);
}

test("a notebook job with Debian's jupyter (no nbconvert): refused before it starts, with pip --user", { skip: skipLegacy }, async () => {
  const err = await prepareNotebook(debianJupyter);
  assert.ok(err instanceof JobInputError, String(err));
  assert.match(err.message, /jupyter-nbconvert not found next to \/usr\/bin\/jupyter or on your PATH, so the notebook cannot be run/);
  assert.match(err.message, /Install it with: python3 -m pip install --user nbconvert ipykernel/);
});

test('a notebook job with a real venv that has jupyter but not nbconvert: the venv\'s own pip command', { skip: skipLegacy }, async () => {
  // A real venv on the system's Jupyter core (Debian's python3-jupyter-core), nbconvert's entry point not installed.
  const venv = join(root, 'no-nbconvert');
  execFileSync('/usr/bin/python3', ['-m', 'venv', '--without-pip', '--system-site-packages', venv]);
  writeFileSync(join(venv, 'bin', 'jupyter'), `#!${venv}/bin/python\nimport sys\nfrom jupyter_core.command import main\nsys.exit(main())\n`);
  chmodSync(join(venv, 'bin', 'jupyter'), 0o755);
  const usage = execFileSync(join(venv, 'bin', 'jupyter'), ['--paths'], { encoding: 'utf8' });
  assert.match(usage, /config:/, 'the venv\'s jupyter runs');
  const err = await prepareNotebook(join(venv, 'bin', 'jupyter'));
  assert.ok(err instanceof JobInputError, String(err));
  assert.match(err.message, new RegExp(`Install it with: ${venv}/bin/python -m pip install nbconvert ipykernel`));
});
