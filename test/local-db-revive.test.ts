// Local mode: the agent owns its embedded PostgreSQL. When the server's main process is killed
// (kill -9: no shutdown, crash recovery needed), the agent starts it again by itself, on the next
// supervisor pass or cron tick, without being restarted; a finished job's result is in the row
// within seconds of its end. The test watches the database through its socket without ever
// starting it, so only the agent can have brought it back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { cliPath, eventually, exited, sleep } from './helpers/agent-env.js';
import { serverRoot, stopLocalPostgres } from '../src/services/store/local-postgres.js';
import { isAlive } from '../src/services/host/process-identity.js';
import { readExitRecord } from '../src/services/runner/launch.js';

const home = mkdtempSync(join(tmpdir(), 'lab-revive-'));
const dataDir = join(home, 'data');
const root = serverRoot(dataDir);
const env = { PATH: process.env.PATH, HOME: home, USER: 'quinn', LAB_USER: 'quinn', LAB_DATA_DIR: dataDir, LAB_DATABASE_URL: '', SUPABASE_URL: '', LAB_EMAIL: '', LAB_HOST: 'testhost', LAB_KILL_GRACE_S: '1', ...(process.getuid?.() === 0 ? { LAB_ALLOW_ROOT: '1' } : {}) };

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

/** A row read straight through the server's socket; null while the server is down (never starts it). */
async function peek(jobId: string): Promise<Record<string, unknown> | null> {
  const c = new pg.Client({ host: join(root, 'run'), port: 5432, user: 'lab', database: 'lab', connectionTimeoutMillis: 1000 });
  try {
    await c.connect();
    return (await c.query('select status, retcode, log_dir, finished_at from public.jobs where job_id = $1', [jobId])).rows[0] ?? null;
  } catch {
    return null;
  } finally {
    await c.end().catch(() => undefined);
  }
}

function killPostmaster(): number {
  const pid = Number(readFileSync(join(root, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  assert.ok(pid > 1 && isAlive(pid), 'the postmaster runs');
  process.kill(pid, 'SIGKILL');
  return pid;
}

before(async () => {
  assert.equal((await cli(['ls'])).code, 0); // creates and starts the local database
});
after(async () => {
  await stopLocalPostgres(dataDir).catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
  if (root.startsWith('/var/lib/lab-job-agent/')) rmSync(root, { recursive: true, force: true });
});

test('supervise: the postmaster killed while a job runs; the result is in the row within 10 s of the end', async () => {
  const script = join(home, 'work.py');
  writeFileSync(script, 'import time\ntime.sleep(3)\nprint("done")\n');
  const sup = spawn(process.execPath, [cliPath, 'supervise'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  sup.stdout!.on('data', (d) => (output += d));
  sup.stderr!.on('data', (d) => (output += d));
  try {
    const id = (await cli(['submit', script])).stdout.trim();
    const running = await eventually('running', async () => {
      const j = await peek(id);
      return j?.status === 'running' ? j : null;
    }, 30_000, 100);
    const killed = killPostmaster();
    await eventually('the postmaster gone', async () => !isAlive(killed), 10_000, 50);
    const exitFile = join(String(running.log_dir), 'exit.json');
    await eventually('the job to end', async () => existsSync(exitFile), 30_000, 50);
    const endedAt = Date.parse((await readExitRecord(String(running.log_dir)))!.endedAt);
    const done = await eventually('the result in the row', async () => {
      assert.equal(sup.exitCode, null, `the supervisor exited:\n${output}`);
      const j = await peek(id);
      return j?.status === 'finished' ? j : null;
    }, 30_000, 200);
    const lag = Date.now() - endedAt;
    assert.ok(lag < 10_000, `the result reached the row ${lag} ms after the job ended`);
    assert.equal(done.retcode, 0);
    assert.equal(sup.exitCode, null, 'the same supervisor, never restarted');
    assert.ok(readFileSync(join(home, 'lab_job_agent', 'agent.log'), 'utf8').includes('started it again'), 'the agent log says what happened');
  } finally {
    sup.kill('SIGTERM');
    await exited(sup);
  }
});

test('cron: a tick after the postmaster was killed brings the database back and does its work', async () => {
  const script = join(home, 'quick.py');
  writeFileSync(script, 'print("quick")\n');
  const id = (await cli(['submit', script])).stdout.trim();
  killPostmaster();
  await sleep(200);
  const t = await cli(['tick']);
  assert.equal(t.code, 0, t.stderr);
  const j = await eventually('the job claimed by that tick', async () => peek(id), 5_000, 100);
  assert.notEqual(j.status, 'pending', 'the tick worked on it');
});
