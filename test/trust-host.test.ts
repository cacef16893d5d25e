// The agent on its host: it refuses root (unless LAB_ALLOW_ROOT), and a root agent's local
// database is reachable by root alone, never through the `postgres` system account, which could
// otherwise queue work that runs as root; a .env whose secrets others can read stops it; and what
// it creates is private whatever umask it was started with. Needs root (CI runs as root).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentEnv, cliPath, eventually, type CliResult } from './helpers/agent-env.js';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { requirePart, requireRoot } from './helpers/required.js';
import { serverRoot, stopLocalPostgres } from '../src/services/store/local-postgres.js';

const skip = requireRoot("a root agent's local database, attacked from the `postgres` account") ||
  requirePart('runuser and a `postgres` system account', existsSync('/usr/sbin/runuser') && hasPostgresAccount(), 'the `postgres` account to attack from (.ci/run creates it)');

function hasPostgresAccount(): boolean {
  return readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('postgres:'));
}

let db: TestDb;
const localDirs: string[] = [];
before(async () => {
  db = await freshDatabase();
});
after(async () => {
  for (const d of localDirs) {
    await stopLocalPostgres(d).catch(() => undefined);
    rmSync(serverRoot(d), { recursive: true, force: true });
    rmSync(d, { recursive: true, force: true });
  }
  await db.drop();
});

const mode = (p: string) => statSync(p).mode & 0o777;

/** The CLI started the way cron or a shell with `umask <mask>` would start it. */
function cliUnderUmask(a: AgentEnv, mask: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', `umask ${mask} && exec "$0" "$@"`, process.execPath, cliPath, ...args], { env: a.env }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, signal: null, stdout, stderr });
    });
  });
}

describe('root', { skip }, () => {
  test('every command that would run something refuses root without LAB_ALLOW_ROOT, and says how on', async () => {
    const a = new AgentEnv(db, 'rootuser', { LAB_ALLOW_ROOT: '' });
    const local = { LAB_DATABASE_URL: '', LAB_DATA_DIR: join(a.home, 'data') };
    for (const [args, env] of [[['tick'], {}], [['supervise'], {}], [['ls'], local], [['db', 'status'], local], [['jupyter', 'ls'], local]] as const) {
      const r = await a.cli([...args], env);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /refuses to run as root: .* would run as root.*set LAB_ALLOW_ROOT=1/, args.join(' '));
    }
    assert.ok(!existsSync(join(a.home, 'data', 'postgres')), 'no local database was made');
    assert.match(readFileSync(a.agentLog, 'utf8'), /the agent refuses to start/);
    const doctor = JSON.parse((await a.cli(['doctor', '--json'])).stdout) as { checks: { id: string; status: string }[] };
    assert.equal(doctor.checks.find((c) => c.id === 'account')!.status, 'fail');
  });

  test('with LAB_ALLOW_ROOT: warned, and the local database is root\'s alone — the postgres account can neither connect nor queue work', async () => {
    const a = new AgentEnv(db, 'rootuser', { LAB_DATABASE_URL: '', LAB_DATA_DIR: '' });
    localDirs.push(join(a.home, '.local/share/lab-job-agent'));
    const script = a.write('hello.py', 'print("hello")\n');
    const submitted = await a.cli(['submit', script]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const tick = await a.cli(['tick']);
    assert.equal(tick.code, 0, tick.stderr);
    assert.match(readFileSync(a.agentLog, 'utf8'), /running as root because LAB_ALLOW_ROOT is set/);

    const root = serverRoot(join(a.home, '.local/share/lab-job-agent'));
    const socketDir = join(root, 'run');
    const owner = (p: string) => statSync(p).uid;
    const pgUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const dbUid = Number(execFileSync('id', ['-u', 'lab-agent-db'], { encoding: 'utf8' }).trim());
    assert.equal(owner(root), dbUid);
    assert.equal(mode(root), 0o700);
    assert.equal(mode(socketDir), 0o700);
    const postmaster = Number(readFileSync(join(root, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    assert.equal(statSync(`/proc/${postmaster}`).uid, dbUid, 'the server runs as its own account');
    assert.notEqual(dbUid, pgUid);
    assert.equal(execFileSync('getent', ['passwd', 'lab-agent-db'], { encoding: 'utf8' }).trim().split(':').at(-1), '/usr/sbin/nologin');

    // The attacker: the postgres system account (or anyone who can become it), reaching for the socket.
    const probe = `const s = require('net').connect(process.argv[1]);
      s.on('connect', () => { console.log('connected'); process.exit(0); });
      s.on('error', (e) => { console.log(e.code); process.exit(3); });`;
    const attempt = () => {
      try {
        return execFileSync('runuser', ['-u', 'postgres', '--', process.execPath, '-e', probe, join(socketDir, '.s.PGSQL.5432')], { encoding: 'utf8' }).trim();
      } catch (err) {
        return String((err as { stdout?: string }).stdout ?? '').trim();
      }
    };
    assert.equal(attempt(), 'EACCES', 'the postgres account cannot reach the socket');
    // Root itself can, and its queue is intact: one job, root's own.
    const jobs = JSON.parse((await a.cli(['ls', '--json'])).stdout) as unknown[];
    assert.equal(jobs.length, 1);
  });
});

describe('the .env and the umask', () => {
  test('a .env with a secret that others can read: the agent refuses to start and names the chmod', async () => {
    const a = new AgentEnv(db, 'envuser');
    mkdirSync(join(a.home, 'lab_job_agent'), { recursive: true });
    const file = join(a.home, 'lab_job_agent', '.env');
    writeFileSync(file, 'SMTP_PASS=hunter2-secret\n');
    chmodSync(file, 0o644);
    for (const args of [['tick'], ['ls']]) {
      const r = await a.cli(args);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`${file} holds secrets and others can read it (mode 644): run  chmod 600 ${file}`), r.stderr);
      assert.ok(!r.stderr.includes('hunter2'));
    }
    chmodSync(file, 0o600);
    assert.equal((await a.cli(['tick'])).code, 0);
  });

  test('started under umask 022, the agent\'s files are private; the job\'s own files follow the member\'s umask', async () => {
    const a = new AgentEnv(db, 'umaskuser');
    const script = a.write('proj/writes.py', 'open("result.txt", "w").write("x")\nprint("done")\n');
    const submitted = await cliUnderUmask(a, '022', ['submit', script]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const id = submitted.stdout.trim();
    assert.equal((await cliUnderUmask(a, '022', ['tick'])).code, 0);
    const logDir = join(a.home, 'lab_job_logs', id);
    await eventually('the job to end', async () => existsSync(join(logDir, 'exit.json')), 30_000);
    assert.equal((await cliUnderUmask(a, '022', ['tick'])).code, 0);
    assert.equal(mode(logDir), 0o700);
    for (const f of readdirSync(logDir)) assert.equal(mode(join(logDir, f)), 0o600, `${f} in the job folder`);
    assert.equal(mode(a.agentLog), 0o600);
    const data = join(a.home, '.local/share/lab-job-agent');
    assert.equal(mode(data), 0o700);
    for (const f of readdirSync(data)) assert.equal(mode(join(data, f)) & 0o077, 0, `${f} in the data folder`);
    assert.equal(mode(join(a.home, 'proj', 'result.txt')), 0o644, 'what the job writes is as the member expects');
  });
});
