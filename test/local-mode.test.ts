// Local mode: the embedded PostgreSQL starts on demand, once per user even when several processes
// start together, is migrated by its first start (saying so; `db status` never migrates), and gives the Linux user a stable id.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../src/services/config.js';
import { serverRoot, stopLocalPostgres } from '../src/services/store/local-postgres.js';
import { expectedVersion, listMigrations } from '../src/services/store/migrate.js';
import { openStore } from '../src/services/store/open-store.js';
import { repoRoot } from './helpers/required.js';

const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), 'lab-local-'));
const env = { ...process.env, LAB_DATA_DIR: dataDir, LAB_USER: 'carol', LAB_EMAIL: 'carol@lab.example', SUPABASE_URL: '', LAB_DATABASE_URL: '', HOME: dataDir, LAB_ALLOW_ROOT: '1' };

after(async () => {
  await stopLocalPostgres(dataDir);
  rmSync(serverRoot(dataDir), { recursive: true, force: true }); // outside dataDir when root runs it
  rmSync(dataDir, { recursive: true, force: true });
});

const cli = (...args: string[]) => run(process.execPath, [join(repoRoot, 'dist/index.cjs'), ...args], { env });
const failed = (p: Promise<unknown>) => p.then(() => assert.fail('expected exit 1'), (err: { code: number; stdout: string; stderr: string }) => err);

test('three `db status` at once on a fresh local database: one server, every migration pending, none applied', async () => {
  const results = await Promise.all([1, 2, 3].map(() => failed(cli('db', 'status', '--json'))));
  const all = listMigrations().map((m) => m.version);
  for (const r of results) {
    assert.equal(r.code, 1, r.stderr);
    const status = JSON.parse(r.stdout);
    assert.equal(status.upToDate, false);
    assert.deepEqual(status.missing, all, 'every migration pending');
    assert.deepEqual(status.applied, []);
  }
  const again = await failed(cli('db', 'status'));
  assert.match(again.stdout, /applied: none\n.*missing: .*run `lab-agent db migrate`/s, 'still nothing applied: status never migrates');
  const pidFile = readFileSync(join(serverRoot(dataDir), 'data', 'postmaster.pid'), 'utf8');
  const postmaster = Number(pidFile.split('\n')[0]);
  const { stdout } = await run('ps', ['-eo', 'pid,ppid,args']);
  const servers = stdout.split('\n').filter((l) => l.includes(join(serverRoot(dataDir), 'data')) && /postgres/.test(l));
  assert.equal(servers.length, 1, `one postmaster for this data folder:\n${servers.join('\n')}`);
  assert.match(servers[0]!, new RegExp(`^\\s*${postmaster}\\s`));
});

test('the first start migrates the local database and says so; later starts say nothing', async () => {
  const first = await cli('ls');
  assert.match(first.stderr, new RegExp(`local database \\(.*\\): first start: created its schema \\(${listMigrations().length} migration\\(s\\), schema version ${expectedVersion()}\\)`));
  assert.equal(JSON.parse((await cli('db', 'status', '--json')).stdout).upToDate, true);
  const second = await cli('ls');
  assert.doesNotMatch(second.stderr, /schema/);
});

test('the Linux user gets one users row with a stable id', async () => {
  const config = loadConfig({ env, noDotenv: true });
  assert.equal(config.mode, 'local');
  const a = await openStore(config);
  const b = await openStore(config);
  assert.equal(a.userId, b.userId);
  const me = await a.whoami();
  assert.equal(me.user?.linux_user, 'carol');
  assert.equal(me.user?.email, 'carol@lab.example');
  const job = await a.submitJob({ scriptPath: `${dataDir}/x.py` });
  assert.equal((await b.getJob(job.job_id)).status, 'pending');
  await a.close();
  await b.close();
});

/** The CLI's exit code and output, failing or not. */
const runCli = (args: string[]) => run(process.execPath, [join(repoRoot, 'dist/index.cjs'), ...args], { env, timeout: 60_000 }).then(
  (r) => ({ code: 0, ...r }),
  (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
);

test('fresh user on the embedded default: supervise says where the log is and the next step; submit, wait, logs; on SIGTERM, what keeps running', async () => {
  const hello = join(dataDir, 'hello.py');
  writeFileSync(hello, 'import sys\nprint("hello", *sys.argv[1:])\n');
  const sleeper = join(dataDir, 'sleeper.py');
  writeFileSync(sleeper, 'import time\nprint("up", flush=True)\ntime.sleep(60)\n');
  const sup = spawn(process.execPath, [join(repoRoot, 'dist/index.cjs'), 'supervise'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  sup.stderr.on('data', (d) => (stderr += d));
  let sleeping = '';
  try {
    const submitted = await run(process.execPath, [join(repoRoot, 'dist/index.cjs'), 'submit', hello, '--', '--n', '3'], { env });
    const id = submitted.stdout.trim();
    const waited = await run(process.execPath, [join(repoRoot, 'dist/index.cjs'), 'wait', id], { env, timeout: 30_000 });
    assert.match(waited.stdout, /finished \(exit 0\)/);
    const logs = await run(process.execPath, [join(repoRoot, 'dist/index.cjs'), 'logs', id], { env });
    assert.equal(logs.stdout, 'hello --n 3\n');
    assert.match(stderr, new RegExp(`^lab-agent: supervising for carol on .* \\(local database\\); log: ${join(dataDir, 'agent.log')}; SIGTERM or Ctrl-C stops it\\nNext, in another terminal: node \\S+/dist/index\\.js submit ~/hello\\.py -- --n 3`));
    const busy = await runCli(['db', 'stop']);
    assert.equal(busy.code, 1);
    assert.match(busy.stdout, new RegExp(`an agent \\(pid ${sup.pid}\\) is running and would start the database again`));
    sleeping = (await runCli(['submit', sleeper])).stdout.trim();
    for (let i = 0; i < 300 && !/running/.test((await runCli(['status', sleeping])).stdout); i++) await new Promise((r) => setTimeout(r, 100));
  } finally {
    sup.kill('SIGTERM');
    await new Promise((r) => sup.once('exit', r));
  }
  assert.match(stderr.trim().split('\n').at(-1)!, /^lab-agent: supervisor stopped; still running: 1 job \(detached: .*`lab-agent cancel <id>` stops one\), the local database \(`lab-agent db stop`\)\./);
  assert.equal(existsSync(join(dataDir, 'lab_job_agent')), false, 'no agent folder holding only a log');
  assert.equal((await runCli(['cancel', sleeping])).code, 0);
});

test('db stop / db start: the local database on request', async () => {
  const root = serverRoot(dataDir);
  const stop = await runCli(['db', 'stop']);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(stop.stdout.trim(), `stopped the local database (${root}); the agent or any command starts it again when needed`);
  assert.equal(existsSync(join(root, 'data', 'postmaster.pid')), false);
  assert.match((await runCli(['db', 'stop'])).stdout, /the local database is not running/);
  const start = await runCli(['db', 'start']);
  assert.equal(start.code, 0, start.stderr);
  assert.match(start.stdout, /^started the local database .*`lab-agent db stop` stops it/);
  assert.match((await runCli(['db', 'start'])).stdout, /the local database is already running/);
  const elsewhere = await run(process.execPath, [join(repoRoot, 'dist/index.cjs'), 'db', 'stop'], { env: { ...env, LAB_DATABASE_URL: 'postgres://x@localhost/y' } }).catch((e) => e);
  assert.equal(elsewhere.code, 1);
  assert.match(elsewhere.stdout, /db start\/stop is for the embedded local database; this agent uses LAB_DATABASE_URL/);
});
