import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, symlinkSync, readFileSync, existsSync, realpathSync, statSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { prepareJob, type JobInput, type PreparedJob } from '../src/services/runner/prepare.js';
import { launchDetached, readExitRecord, killJobGroup, killJobStragglers, type ExitRecord } from '../src/services/runner/launch.js';
import { findProcessesWithEnv } from '../src/services/host/process-identity.js';
import { JobInputError } from '../src/services/runner/errors.js';
import { requirePart, hasTestPython, hasTestJupyter, testPython, testJupyter } from './helpers/required.js';

const skipPython = requirePart('test Python', hasTestPython, 'install python3 (or make the test venv: scripts/test-venv.sh)');
const skipJupyter = requirePart('test Jupyter', hasTestJupyter, 'make the test venv: scripts/test-venv.sh (npm test does it when .venv is missing)');

const root = realpathSync(mkdtempSync(join(tmpdir(), 'runner-prepare-')));
const home = join(root, 'home');
const logRoot = join(home, 'lab_job_logs');
mkdirSync(home);
const tempDirs: string[] = [];
test.after(() => {
  for (const d of [root, ...tempDirs]) rmSync(d, { recursive: true, force: true });
});

const loginEnv: Record<string, string> = { PATH: `${dirname(testPython)}:/usr/bin:/bin`, HOME: home, LANG: 'C.UTF-8' };
let n = 0;

function put(rel: string, content: string): string {
  const p = join(home, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
}

// job ids are unique across test processes running at once, since LAB_JOB_ID finds processes
function input(scriptPath: string, args: string | null = null, more: Partial<JobInput> = {}): JobInput {
  return { jobId: `job-${process.pid}-${++n}`, scriptPath, args, home, logRoot, env: loginEnv, labJupyter: testJupyter, ...more };
}

async function waitFor<T>(what: string, fn: () => Promise<T | null> | T | null, timeoutMs = 120_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function run(p: PreparedJob, id: string): Promise<ExitRecord> {
  if (p.tempDir) tempDirs.push(p.tempDir);
  await launchDetached({ jobId: id, logDir: p.logDir, argv: p.argv, cwd: p.cwd, env: p.env });
  return waitFor(`exit of ${id}`, () => readExitRecord(p.logDir));
}

const stderrOf = (p: PreparedJob): string => readFileSync(join(p.logDir, 'stderr.log'), 'utf8');

const rejectsWith = (i: JobInput, re: RegExp): Promise<void> => assert.rejects(prepareJob(i), (e: unknown) => e instanceof JobInputError && re.test(e.message));

test('script path checks: not found, outside home (also via symlink), not a .py/.ipynb file', async () => {
  writeFileSync(join(root, 'outside.py'), 'print(1)\n');
  put('data/notes.txt', 'x');
  symlinkSync(join(root, 'outside.py'), join(home, 'link-out.py'));
  symlinkSync(join(home, 'data', 'notes.txt'), join(home, 'run.py'));
  await rejectsWith(input('nope/missing.py'), /Script not found: .*nope\/missing\.py/);
  await rejectsWith(input(join(root, 'outside.py')), /outside your home/);
  await rejectsWith(input('link-out.py'), /outside your home.*resolves to .*outside\.py/);
  await rejectsWith(input('../outside.py'), /outside your home/);
  await rejectsWith(input('data/notes.txt'), /not a \.py or \.ipynb file/);
  await rejectsWith(input('run.py'), /not a \.py or \.ipynb file/);
  await rejectsWith(input('data'), /not a \.py or \.ipynb file/);
  await rejectsWith(input('  '), /No script path/);
  await assert.rejects(prepareJob(input('x.py', null, { jobId: '../evil' })), /unsafe job id/);
});

test('a .py job: interpreter, argv, cwd, env, from ~/, relative and absolute paths', { skip: skipPython }, async () => {
  const script = put('proj/train.py', 'print(1)\n');
  for (const path of ['~/proj/train.py', 'proj/train.py', script]) {
    const p = await prepareJob(input(path, `--name 'my run' -n 3`, { labPython: testPython }));
    assert.deepEqual(p.argv, [testPython, script, '--name', 'my run', '-n', '3']);
    assert.equal(p.cwd, join(home, 'proj'));
    assert.equal(p.kind, 'py');
    assert.equal(p.interpreter, testPython);
    assert.equal(p.logDir, join(logRoot, `job-${process.pid}-${n}`));
    assert.equal(p.env.LAB_JOB_ID, `job-${process.pid}-${n}`);
    assert.equal(p.env.LAB_JOB_LOG_DIR, p.logDir);
    assert.equal(p.env.PATH, loginEnv.PATH);
    assert.match(p.notes.join('\n'), /python: .* \(from LAB_PYTHON\)/);
  }
  // without LAB_PYTHON: python3 from the login PATH (the test venv's bin is first on it)
  const p = await prepareJob(input('proj/train.py'));
  assert.equal(p.interpreter, join(dirname(testPython), 'python3'));
  await rejectsWith(input('proj/train.py', `--name 'open`), /unbalanced single quote/);
  await rejectsWith(input('proj/train.py', null, { env: { PATH: join(root, 'empty') } }), /No Python found/);
});

test('a home reached through a symlink is still home', { skip: skipPython }, async () => {
  const linkHome = join(root, 'home-link');
  symlinkSync(home, linkHome);
  const script = put('sym/a.py', 'print(1)\n');
  const p = await prepareJob(input(join(linkHome, 'sym', 'a.py'), null, { home: linkHome }));
  assert.equal(p.argv[1], script);
});

test('a prepared .py job runs with its arguments, folder and environment', { skip: skipPython }, async () => {
  put('e2e/show.py', 'import json, os, sys\nprint(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "id": os.environ["LAB_JOB_ID"]}))\n');
  const p = await prepareJob(input('e2e/show.py', `a "b c" 'd"e' f\\ g ünï`));
  const rec = await run(p, p.env.LAB_JOB_ID!);
  assert.equal(rec.code, 0, stderrOf(p));
  assert.deepEqual(JSON.parse(readFileSync(join(p.logDir, 'stdout.log'), 'utf8')), { argv: ['a', 'b c', 'd"e', 'f g', 'ünï'], cwd: join(home, 'e2e'), id: p.env.LAB_JOB_ID });
});

// ---------------------------------------------------------------------------------------------
// Notebooks, run by the real nbconvert

interface Cell {
  src: string;
  tags?: string[];
}

function notebook(cells: Cell[], minor = 5): string {
  return JSON.stringify({
    cells: cells.map((c, i) => ({
      cell_type: 'code',
      execution_count: null,
      ...(minor >= 5 ? { id: `cell-${i}` } : {}),
      metadata: c.tags ? { tags: c.tags } : {},
      outputs: [],
      source: c.src,
    })),
    metadata: { kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' }, language_info: { name: 'python' } },
    nbformat: 4,
    nbformat_minor: minor,
  });
}

interface OutNb {
  cells: Array<{ metadata: { tags?: string[] }; source: string | string[]; outputs: Array<{ text?: string | string[] }> }>;
}

function readOutput(logDir: string): OutNb {
  return JSON.parse(readFileSync(join(logDir, 'output.ipynb'), 'utf8')) as OutNb;
}
const text = (x: string | string[] | undefined): string => (Array.isArray(x) ? x.join('') : (x ?? ''));
const allOutput = (nb: OutNb): string => nb.cells.flatMap((c) => c.outputs.map((o) => text(o.text))).join('');

describe('notebooks', { concurrency: true, skip: skipJupyter }, () => {
  // a folder name with a space and a quote, to exercise the quoting of the kernel's chdir
  const nbDir = `notebooks/it's here`;

  test('a notebook runs in its own folder; the executed copy is <logDir>/output.ipynb', async () => {
    put(`${nbDir}/data.txt`, 'data from beside the notebook');
    const nb = put(`${nbDir}/plain.ipynb`, notebook([{ src: 'print(open("data.txt").read())' }, { src: 'import os\nprint("cwd", os.getcwd())' }], 4));
    const p = await prepareJob(input(`${nbDir}/plain.ipynb`));
    assert.equal(p.kind, 'ipynb');
    // the kernel talks over unix sockets in a private folder: concurrent kernels never collide on a port
    assert.deepEqual(p.argv, [testJupyter, 'nbconvert', '--to', 'notebook', '--execute', nb, '--output', 'output.ipynb', '--output-dir', p.logDir, '--KernelManager.transport=ipc', `--KernelManager.ip=${p.tempDir}/kernel`]);
    assert.equal(statSync(p.tempDir!).mode & 0o777, 0o700);
    assert.equal(p.cwd, dirname(nb));
    const rec = await run(p, p.env.LAB_JOB_ID!);
    assert.equal(rec.code, 0, stderrOf(p));
    const out = allOutput(readOutput(p.logDir));
    assert.match(out, /data from beside the notebook/);
    assert.match(out, new RegExp(`cwd ${dirname(nb).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.deepEqual(readdirSync(p.tempDir!), [], 'sockets removed by a clean kernel shutdown');
  });

  test('a raising notebook ends with a non-zero code and the error in stderr.log', async () => {
    put(`${nbDir}/boom.ipynb`, notebook([{ src: 'x = 1' }, { src: 'raise RuntimeError("notebook exploded")' }]));
    const p = await prepareJob(input(`${nbDir}/boom.ipynb`));
    const rec = await run(p, p.env.LAB_JOB_ID!);
    assert.notEqual(rec.code, 0);
    assert.equal(rec.signal, null);
    assert.match(readFileSync(join(p.logDir, 'stderr.log'), 'utf8'), /notebook exploded/);
  });

  test('arguments are injected after the parameters cell and seen by later cells', async () => {
    const cells: Cell[] = [
      { src: 'import os' },
      { src: 'alpha = 1\nname = "default"\nflag = False', tags: ['parameters'] },
      { src: 'print("result", alpha * 2, name, flag, type(alpha).__name__)\nprint("cwd", os.getcwd())\nopen("written-by-notebook.txt", "w").write(name)' },
    ];
    put(`${nbDir}/params.ipynb`, notebook(cells));
    const p = await prepareJob(input(`${nbDir}/params.ipynb`, `--alpha 1.5 --name "my run" --flag`));
    assert.equal(p.argv[5], join(p.logDir, 'input.ipynb'), 'runs the parameterized copy');
    assert.match(p.notes.join('\n'), /parameters injected .*alpha, name, flag/);
    const rec = await run(p, p.env.LAB_JOB_ID!);
    assert.equal(rec.code, 0, stderrOf(p));
    const out = readOutput(p.logDir);
    assert.deepEqual(out.cells[2]!.metadata.tags, ['injected-parameters']);
    assert.match(text(out.cells[2]!.source), /alpha = 1\.5\nname = "my run"\nflag = True/);
    assert.match(allOutput(out), /result 3\.0 my run True float/);
    // relative paths resolve in the notebook's folder, not the log dir the copy lives in
    assert.match(allOutput(out), new RegExp(`cwd .*it's here`));
    assert.equal(readFileSync(join(home, nbDir, 'written-by-notebook.txt'), 'utf8'), 'my run');

    const q = await prepareJob(input(`${nbDir}/params.ipynb`, '{"alpha": 21, "name": "json"}'));
    assert.equal((await run(q, q.env.LAB_JOB_ID!)).code, 0, stderrOf(q));
    assert.match(allOutput(readOutput(q.logDir)), /result 42 json False int/);
  });

  test('without a parameters cell the arguments arrive in LAB_JOB_ARGS, with a note', async () => {
    put(`${nbDir}/noparams.ipynb`, notebook([{ src: 'import os\nprint("args:", os.environ.get("LAB_JOB_ARGS"))' }]));
    const p = await prepareJob(input(`${nbDir}/noparams.ipynb`, '--epochs 5'));
    assert.equal(p.env.LAB_JOB_ARGS, '--epochs 5');
    assert.match(p.notes.join('\n'), /no cell tagged "parameters".*LAB_JOB_ARGS/);
    assert.equal((await run(p, p.env.LAB_JOB_ID!)).code, 0, stderrOf(p));
    assert.match(allOutput(readOutput(p.logDir)), /args: --epochs 5/);
  });

  test('bad notebook arguments and a broken notebook are reported before anything runs', async () => {
    put(`${nbDir}/p2.ipynb`, notebook([{ src: 'a = 1', tags: ['parameters'] }]));
    await rejectsWith(input(`${nbDir}/p2.ipynb`, 'just words'), /--name value pairs/);
    put(`${nbDir}/broken.ipynb`, '{not json');
    await rejectsWith(input(`${nbDir}/broken.ipynb`, '--a 1'), /not a valid notebook/);
    await rejectsWith(input(`${nbDir}/p2.ipynb`, null, { labJupyter: undefined, env: { PATH: join(root, 'empty') } }), /pip install --user jupyterlab/);
  });

  test('killing a notebook job leaves no process of it behind (the kernel runs in its own session)', async () => {
    put(`${nbDir}/slow.ipynb`, notebook([{ src: 'import time\nprint("started", flush=True)\ntime.sleep(300)' }]));
    const p = await prepareJob(input(`${nbDir}/slow.ipynb`));
    const id = p.env.LAB_JOB_ID!;
    if (p.tempDir) tempDirs.push(p.tempDir);
    const job = await launchDetached({ jobId: id, logDir: p.logDir, argv: p.argv, cwd: p.cwd, env: p.env });
    // nbconvert and kernel (and the wrapper, where it was spawned rather than forked by the launcher)
    await waitFor('kernel up', () => findProcessesWithEnv('LAB_JOB_ID', id).filter((pid) => pid !== job.wrapperPid).length >= 2 || null);
    killJobGroup(job.pgid, 'SIGKILL');
    const rec = await waitFor('exit record', () => readExitRecord(p.logDir));
    assert.equal(rec.signal, 'SIGKILL');
    // the kernel usually exits by itself on losing its parent, but not if that happened while it
    // was still starting: the cancel path sweeps up what left the group
    killJobStragglers(id, job.wrapperPid);
    await waitFor('no process left', () => findProcessesWithEnv('LAB_JOB_ID', id).length === 0 || null, 30_000);
    assert.ok(!existsSync(join(p.logDir, 'output.ipynb')));
  });
});
