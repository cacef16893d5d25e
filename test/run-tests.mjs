#!/usr/bin/env node
// `npm test`: makes the test virtualenv when it is missing, starts the test PostgreSQL (the
// embedded server), runs every test file with node's test runner, then stops the server it
// started. Extra arguments select test files.
//
// Test files run concurrently (each in its own process, each with its own database, temp folders
// and free ports), except the SERIAL ones below, which run one after another beside the others.
// LAB_TEST_CONCURRENCY sets how many files run at once (default: the CPU count + 1, at least 2;
// most files spend their time waiting on processes they started). LAB_TEST_NAME_PATTERN runs only
// the tests whose names match it.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLocalPostgres, stopLocalPostgres } from '../dist/services/store/local-postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Files that share something machine-wide with another file, so they never run at the same time. */
const SERIAL = {
  // useradd/userdel lock /etc/passwd and /etc/shadow: two at once can fail with "cannot lock".
  'install.test.ts': 'creates Linux users and crontabs (useradd locks /etc/passwd)',
  'gpu-probe.test.ts': 'creates Linux users (useradd locks /etc/passwd)',
  'trust-jupyter-link.test.ts': 'creates Linux users (useradd locks /etc/passwd)',
  'slurm-cluster.test.ts': 'creates Linux users; starts the one Slurm cluster at /tmp/lab-slurm',
  'slurm-jobs.test.ts': 'creates Linux users; runs jobs on the one Slurm cluster at /tmp/lab-slurm',
  'slurm-jupyter.test.ts': 'creates Linux users; runs Jupyter servers on the one Slurm cluster at /tmp/lab-slurm',
  'gpu-scheduling.test.ts': 'creates Linux users (useradd locks /etc/passwd)',
  'gpu-host-locks.test.ts': 'creates Linux users (useradd locks /etc/passwd)',
  // A root agent's local database runs as the one `lab-agent-db` account, created on first use
  // and checked by trust-host: two first uses at once race on useradd.
  'trust-host.test.ts': 'creates and inspects the shared lab-agent-db account, runs as the postgres account',
  'local-mode.test.ts': 'a root agent\'s local database (the shared lab-agent-db account, /var/lib/lab-job-agent)',
  'local-db-revive.test.ts': 'kills a root agent\'s local database (the shared lab-agent-db account, /var/lib/lab-job-agent)',
  'cli-db-unreachable.test.ts': 'a root agent\'s local database (the shared lab-agent-db account, /var/lib/lab-job-agent)',
};

const pgDir = process.env.LAB_TEST_PG_DIR ?? join(tmpdir(), `lab-job-agent-test-pg-${process.pid}`);
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(join(root, 'test')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test', f));
const serial = files.filter((f) => basename(f) in SERIAL);
const concurrent = files.filter((f) => !(basename(f) in SERIAL));
const width = Math.max(2, Number(process.env.LAB_TEST_CONCURRENCY) || availableParallelism() + 1);

/** The Jupyter virtualenv the tests use: made once by scripts/test-venv.sh when it is missing. */
async function ensureTestVenv() {
  const venv = process.env.LAB_TEST_VENV ?? join(root, '.venv');
  if (existsSync(join(venv, 'bin', 'jupyter'))) return;
  console.log(`test virtualenv ${venv} has no Jupyter: making it once (scripts/test-venv.sh: python3 -m venv, pip install jupyterlab nbconvert ipykernel from the configured package index) ...`);
  const code = await run('bash', [join(root, 'scripts', 'test-venv.sh'), venv], { stdio: 'inherit' });
  if (code === 0) return console.log(`test virtualenv ready: ${venv}`);
  const message = `could not make the test virtualenv ${venv} (scripts/test-venv.sh exited ${code}; see above)`;
  if (process.env.CI === 'true') {
    console.error(`${message}: under CI=true that is a failure`);
    process.exit(1);
  }
  console.error(`${message}: the tests that need Jupyter skip with the reason`);
}

function run(command, args, options) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, ...options });
    child.on('error', () => resolve(127));
    child.on('close', (c) => resolve(c ?? 1));
  });
}

/** What skipped, by reason: the spec reporter's `﹣ <test> (<time>) # <reason>` lines. */
const skipped = new Map();
const SKIP_LINE = /^\s*﹣ (.*) \([\d.]+m?s\) # (.*)$/;

/** One `node --test` over some files; its output goes through line by line so groups never split a line. */
function nodeTest(group, concurrency) {
  if (!group.length) return Promise.resolve(0);
  return new Promise((resolve) => {
    // LAB_TEST_NAME_PATTERN: only the tests whose names match (CI's second Slurm pass).
    const only = process.env.LAB_TEST_NAME_PATTERN ? [`--test-name-pattern=${process.env.LAB_TEST_NAME_PATTERN}`] : [];
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...only, ...group], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LAB_TEST_PG_DIR: pgDir },
    });
    for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
      let rest = '';
      from.setEncoding('utf8');
      from.on('data', (chunk) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop();
        if (lines.length) to.write(lines.join('\n') + '\n');
        for (const line of lines) {
          const m = SKIP_LINE.exec(line);
          if (m) skipped.set(m[2], [...(skipped.get(m[2]) ?? []), m[1]]);
        }
      });
      from.on('end', () => rest && to.write(rest + '\n'));
    }
    child.on('close', (c) => resolve(c ?? 1));
  });
}

await ensureTestVenv();
const started = Date.now();
const server = await ensureLocalPostgres({ dataDir: pgDir, fast: true, database: 'postgres', allowRoot: true });
console.log(`test PostgreSQL ready at ${server.connection.host} (${server.startedNow ? 'started' : 'already running'})`);
console.log(`${concurrent.length} test files ${width - (serial.length ? 1 : 0)} at a time, beside ${serial.length} that run one after another`);
let code = 1;
try {
  const codes = await Promise.all([nodeTest(concurrent, Math.max(1, width - (serial.length ? 1 : 0))), nodeTest(serial, 1)]);
  code = codes.find((c) => c !== 0) ?? 0;
  // The skip list at the end, by reason: as a member (not root) only what needs root belongs here.
  const count = [...skipped.values()].reduce((n, tests) => n + tests.length, 0);
  if (count) console.log(`skipped ${count} (a skipped group counts once), by reason:\n${[...skipped].map(([why, tests]) => `  ${why}\n    ${tests.join('\n    ')}`).join('\n')}`);
  console.log(`all test files: ${code === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s (concurrent group exit ${codes[0]}, serial group exit ${codes[1]})`);
} finally {
  if (server.startedNow) {
    await stopLocalPostgres(pgDir).catch((err) => console.error(`could not stop the test PostgreSQL: ${err.message}`));
    if (!process.env.LAB_TEST_PG_DIR) rmSync(pgDir, { recursive: true, force: true });
  }
}
process.exit(code);
