// Local mode: the embedded PostgreSQL starts on demand, once per user even when several processes
// start together, is migrated by its first start (saying so; `db status` never migrates), and gives the Linux user a stable id.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

const cli = (...args: string[]) => run(process.execPath, [join(repoRoot, 'dist/index.js'), ...args], { env });
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

test('fresh user on the embedded default: supervise, submit, wait, logs', async () => {
  const hello = join(dataDir, 'hello.py');
  (await import('node:fs')).writeFileSync(hello, 'import sys\nprint("hello", *sys.argv[1:])\n');
  const { spawn } = await import('node:child_process');
  const sup = spawn(process.execPath, [join(repoRoot, 'dist/index.js'), 'supervise'], { env, stdio: 'ignore' });
  try {
    const submitted = await run(process.execPath, [join(repoRoot, 'dist/index.js'), 'submit', hello, '--', '--n', '3'], { env });
    const id = submitted.stdout.trim();
    const waited = await run(process.execPath, [join(repoRoot, 'dist/index.js'), 'wait', id], { env, timeout: 30_000 });
    assert.match(waited.stdout, /finished \(exit 0\)/);
    const logs = await run(process.execPath, [join(repoRoot, 'dist/index.js'), 'logs', id], { env });
    assert.equal(logs.stdout, 'hello --n 3\n');
  } finally {
    sup.kill('SIGTERM');
    await new Promise((r) => sup.once('exit', r));
  }
});
