// A synthetic home folder in the shape of a lab member's real one, for benchmarks: a few projects
// with scripts, notebooks and data, but most files in places a script scan must prune (project
// venvs, a conda install, caches, node_modules, git objects). Generated once and cached.
import { mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, symlinkSync, closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { seededRandom } from '../test/helpers/random.js';

export interface SyntheticHome {
  home: string;
  /** Folders the agent would pass as logDir / agentDir. */
  logDir: string;
  agentDir: string;
  /** Regular files written, in all. */
  totalFiles: number;
  /** *.py / *.ipynb files outside every pruned folder: what a scan must find. */
  expectedScripts: number;
  /** True when the cached copy was reused. */
  cached: boolean;
}

export interface SyntheticHomeOptions {
  /** Where to put it (default: os.tmpdir()/lab-agent-bench-home-v<VERSION>). */
  dir?: string;
  /** Multiplies the bulk (venvs, conda, caches ...); 1 gives about 90,000 files. */
  scale?: number;
  /** Rebuild even when a cached copy exists. */
  fresh?: boolean;
}

// 2: ~1,600 scripts (issue 12's sync target: 150 modules and 30 tests a project), ~87,000 files.
const VERSION = 2;
const MARKER = '.synthetic-home.json';

/** Deterministic, so every generated home is identical. */
const rng = seededRandom;

export async function createSyntheticHome(opts: SyntheticHomeOptions = {}): Promise<SyntheticHome> {
  const scale = opts.scale ?? 1;
  const home = opts.dir ?? join(tmpdir(), `lab-agent-bench-home-v${VERSION}${scale === 1 ? '' : `-x${scale}`}`);
  const logDir = join(home, 'lab_job_logs');
  const agentDir = join(home, '.lab-agent');
  const marker = join(home, MARKER);
  if (!opts.fresh && existsSync(marker)) {
    const m = JSON.parse(readFileSync(marker, 'utf8')) as { version: number; totalFiles: number; expectedScripts: number; scale: number };
    if (m.version === VERSION && m.scale === scale) {
      return { home, logDir, agentDir, totalFiles: m.totalFiles, expectedScripts: m.expectedScripts, cached: true };
    }
  }
  rmSync(home, { recursive: true, force: true });
  const rand = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  let totalFiles = 0;
  let expectedScripts = 0;
  const madeDirs = new Set<string>();
  const write = (rel: string, content = '', counts = false): void => {
    const p = join(home, rel);
    const d = dirname(p);
    if (!madeDirs.has(d)) {
      mkdirSync(d, { recursive: true });
      madeDirs.add(d);
    }
    if (content) writeFileSync(p, content);
    else closeSync(openSync(p, 'w'));
    totalFiles++;
    if (counts) expectedScripts++;
  };
  const notebook = (kernel: string, cells: number): string =>
    JSON.stringify({
      cells: Array.from({ length: cells }, (_, i) => ({ cell_type: 'code', execution_count: i, metadata: {}, outputs: [], source: [`x = ${i}\n`] })),
      metadata: { kernelspec: { display_name: kernel, language: 'python', name: kernel } },
      nbformat: 4,
      nbformat_minor: 5,
    });
  const n = (k: number): number => Math.max(1, Math.round(k * scale));

  // A site-packages tree: packages with modules, sub-packages, __pycache__ and a few binaries.
  const sitePackages = (base: string, packages: number, filesPerPackage: number): void => {
    for (let p = 0; p < packages; p++) {
      const pkg = `${base}/${pick(['np', 'torch', 'sk', 'pd', 'req', 'jup', 'ipy', 'mpl', 'scipy', 'tf'])}_${p}`;
      for (let f = 0; f < filesPerPackage; f++) {
        const sub = f % 4 === 0 ? '' : `/sub${f % 5}`;
        write(`${pkg}${sub}/mod_${f}.py`, f % 7 === 0 ? 'import os\n' : '');
        if (f % 3 === 0) write(`${pkg}${sub}/__pycache__/mod_${f}.cpython-311.pyc`);
        if (f % 25 === 0) write(`${pkg}${sub}/_ext_${f}.cpython-311-x86_64-linux-gnu.so`);
      }
      write(`${pkg}-1.0.dist-info/METADATA`);
      write(`${pkg}-1.0.dist-info/RECORD`);
    }
  };

  // Projects: what the scan is for.
  const projects = ['thesis', 'mri-segmentation', 'protein-fold', 'lab-utils', 'rl-agents', 'nlp-jp', 'データ解析', 'old stuff (2021)'];
  projects.forEach((name, pi) => {
    const root = `projects/${name}`;
    for (let i = 0; i < 150; i++) write(`${root}/src/${name.replace(/\W/g, '_') || 'pkg'}/module_${i}.py`, `def f${i}():\n    return ${i}\n`, true);
    for (let i = 0; i < 30; i++) write(`${root}/tests/test_${i}.py`, 'def test(): pass\n', true);
    for (let i = 0; i < 10; i++) write(`${root}/src/${name.replace(/\W/g, '_') || 'pkg'}/__pycache__/module_${i}.cpython-311.pyc`);
    for (let i = 0; i < 8; i++) {
      write(`${root}/notebooks/${String(i).padStart(2, '0')}_analysis ${i}.ipynb`, notebook(pick(['python3', 'torch-2.3', 'ir']), 5 + i), true);
      write(`${root}/notebooks/.ipynb_checkpoints/${String(i).padStart(2, '0')}_analysis ${i}-checkpoint.ipynb`, notebook('python3', 2));
    }
    for (let i = 0; i < 60; i++) write(`${root}/data/raw/sample_${i}.csv`, 'a,b\n1,2\n');
    for (let i = 0; i < 60; i++) write(`${root}/data/processed/arr_${i}.npy`);
    for (let i = 0; i < 20; i++) write(`${root}/results/fig_${i}.png`);
    write(`${root}/README.md`, `# ${name}\n`);
    write(`${root}/requirements.txt`, 'numpy\n');
    write(`${root}/train.py`, 'print("train")\n', true);
    // Git objects: many small files in 2-hex folders.
    for (let i = 0; i < n(700); i++) write(`${root}/.git/objects/${(i % 256).toString(16).padStart(2, '0')}/${Math.floor(rand() * 1e12).toString(16)}${i}`);
    write(`${root}/.git/HEAD`, 'ref: refs/heads/main\n');
    write(`${root}/.git/hooks/pre-commit.py`); // pruned with .git
    // Half the projects have their own venv.
    if (pi % 2 === 0) {
      sitePackages(`${root}/.venv/lib/python3.11/site-packages`, n(60), 75);
      for (let i = 0; i < 20; i++) write(`${root}/.venv/bin/tool_${i}`);
    }
  });

  // A conda install: package cache and environments.
  sitePackages('miniconda3/pkgs', n(80), 75);
  for (const env of ['torch', 'tf215', 'bio']) sitePackages(`miniconda3/envs/${env}/lib/python3.11/site-packages`, n(70), 75);
  sitePackages('miniconda3/lib/python3.11/site-packages', n(40), 75);
  for (let i = 0; i < 200; i++) write(`miniconda3/bin/exe_${i}`);

  // Caches, user site-packages, a web project with node_modules (node-gyp ships .py files).
  for (let i = 0; i < n(4000); i++) write(`.cache/pip/http/${(i % 16).toString(16)}/${(i % 7)}/${i.toString(36)}`);
  for (let i = 0; i < n(1000); i++) write(`.cache/huggingface/hub/models--m${i % 20}/blobs/${i.toString(36)}`);
  sitePackages('.local/lib/python3.10/site-packages', n(50), 75);
  for (let i = 0; i < 30; i++) write(`.local/share/jupyter/kernels/k${i}/kernel.json`, '{}');
  for (let p = 0; p < n(400); p++) {
    for (let f = 0; f < 20; f++) write(`webapp/node_modules/pkg${p}/${f % 3 ? 'lib' : 'dist'}/file${f}.js`);
    if (p % 40 === 0) write(`webapp/node_modules/pkg${p}/gyp/pylib/gyp/input.py`);
  }
  write('webapp/src/index.ts');
  write('webapp/scripts/deploy.py', 'print("deploy")\n', true);

  // Loose scripts and notebooks at the top, in Japanese and with spaces.
  for (let i = 0; i < 40; i++) write(`scratch_${i}.py`, 'print(1)\n', true);
  for (let i = 0; i < 20; i++) write(`notebooks/実験 ${i}.ipynb`, notebook('python3', 3), true);
  write('Desktop/my script (final).py', 'print(2)\n', true);

  // The agent's own folders: pruned.
  for (let j = 0; j < 200; j++) {
    write(`lab_job_logs/job-${j}/stdout.log`);
    write(`lab_job_logs/job-${j}/stderr.log`);
  }
  write('.lab-agent/venv/lib/helper.py');
  write('.lab-agent/state.json', '{}');

  // Symlinks a real home has: dangling, to outside, a loop. None is followed.
  symlinkSync('/nonexistent/data', join(home, 'data-old'));
  symlinkSync('/usr', join(home, 'usr-link'));
  symlinkSync('.', join(home, 'projects', 'self-loop'));
  symlinkSync('python3.11', join(home, 'miniconda3/bin/python'));

  writeFileSync(marker, JSON.stringify({ version: VERSION, scale, totalFiles, expectedScripts }));
  return { home, logDir, agentDir, totalFiles, expectedScripts, cached: false };
}
