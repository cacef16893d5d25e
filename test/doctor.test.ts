// `lab-agent doctor` through the real CLI: a healthy setup passes (exit 0), and each thing that can
// be wrong is reported on its own line with the fix (exit 1), on a real database, SMTP server and
// sockets. The installer's suite checks doctor on a real install (cron line, local database).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { AgentEnv, databaseUrl, eventually, exited } from './helpers/agent-env.js';
import { freshDatabase, makeUser, type TestDb } from './helpers/db.js';
import { startSupabaseLayer, type SupabaseLayer } from './helpers/supabase/layer.js';
import { freePort, startSmtp } from './helpers/smtp.js';

const me = userInfo().username;
const dbs: TestDb[] = [];
const servers: Server[] = [];
const layers: SupabaseLayer[] = [];
after(async () => {
  for (const s of servers) s.close();
  for (const l of layers) await l.close();
  for (const db of dbs) await db.drop();
});

interface Check {
  id: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
  fix?: string;
  data?: Record<string, unknown>;
}

async function doctor(env: AgentEnv, extra: NodeJS.ProcessEnv = {}) {
  const r = await env.cli(['doctor', '--json'], extra);
  const report = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
  const by = Object.fromEntries(report.checks.map((c) => [c.id, c])) as Record<string, Check>;
  return { code: r.code, report, by, stderr: r.stderr };
}

/** A free window of ports for Jupyter: base + uid % 100 is the preferred one. */
async function portBase(): Promise<number> {
  const p = await freePort();
  return Math.max(1024, p - (userInfo().uid % 100));
}

async function member(db: TestDb, extra: NodeJS.ProcessEnv = {}): Promise<AgentEnv> {
  const smtp = await startSmtp();
  const env = new AgentEnv(db, me, {
    LAB_EMAIL: `${me}@lab.example`, SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), JUPYTER_IP: '127.0.0.1',
    JUPYTER_BASE_PORT: String(await portBase()), LAB_JUPYTER_PORT_RANGE: '5', ...extra,
  });
  // As install_agent.sh --systemd leaves it: the unit file counts as a scheduler being set up.
  env.write('.config/systemd/user/lab-agent.service', '[Service]\nExecStart=/bin/true supervise\n');
  return env;
}

describe('doctor', () => {
  test('a healthy setup: every check passes or warns, exit 0, one line per check in text', async () => {
    const db = await freshDatabase();
    dbs.push(db);
    const env = await member(db);
    const { code, report, by } = await doctor(env);
    assert.equal(code, 0, JSON.stringify(report.checks.filter((c) => c.status === 'fail'), null, 2));
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.map((c) => c.id), ['config', 'account', 'database', 'identity', 'credentials', 'python', 'jupyter', 'smtp', 'scheduler', 'ports', 'logs', 'jupyter-ip', 'jupyter-link', 'drain', 'gpus']);
    assert.equal(by.gpus!.status, 'ok', by.gpus!.detail); // no nvidia-smi here: none on this host, not a fault
    assert.equal(by.database!.status, 'ok');
    assert.match(by.database!.detail, /up to date/);
    assert.equal(by.identity!.status, 'ok');
    assert.equal(by.identity!.data!.linuxUser, me);
    assert.equal(by.identity!.data!.proof, 'data-folder');
    assert.match(by.identity!.detail, /^acts for [0-9a-f-]{36}; proof: the id in .*user-id, over role lab/);
    // One URL for everyone: anyone holding it can act as any member. Said, without failing.
    assert.equal(by.credentials!.status, 'warn');
    assert.match(by.credentials!.detail, /anyone holding it can act as any lab member/);
    assert.match(by.credentials!.fix!, /db add-member/);
    assert.equal(by['jupyter-link']!.status, 'skip');
    assert.equal(by.drain!.status, 'ok');
    assert.equal(by.python!.status, 'ok');
    assert.equal(by.smtp!.status, 'ok');
    assert.equal(by.ports!.status, 'ok');
    assert.equal(by.logs!.status, 'ok');
    assert.equal(by['jupyter-ip']!.status, 'ok');
    assert.notEqual(by.scheduler!.status, 'fail');
    assert.match(String(by.scheduler!.data!.unit), /lab-agent\.service$/);
    // Secrets masked in the report: the database URL's password never shows.
    const values = by.config!.data!.values as Record<string, string>;
    assert.equal(values.LAB_DATABASE_URL, databaseUrl(db).replace(/^postgres:\/\/([^@]+)@/, 'postgres://$1@'));

    const text = await env.cli(['doctor']);
    assert.equal(text.code, 0);
    const lines = text.stdout.trim().split('\n');
    assert.match(lines[0]!, /^lab-agent doctor: .*postgres mode$/);
    for (const title of ['configuration', 'Linux account', 'database', 'identity', 'credentials', 'Python', 'SMTP', 'cron / systemd', 'Jupyter ports', 'log folders', 'JUPYTER_IP']) {
      assert.ok(lines.some((l) => /^[✔!-] /.test(l) && l.includes(title)), `a line for ${title}:\n${text.stdout}`);
    }
    assert.match(lines.at(-1)!, /^all checks passed/);

    // A drained host says so (issue 17), with the way back.
    assert.equal((await env.cli(['drain', '--note', 'disk swap'])).code, 0);
    const drained = (await doctor(env)).by.drain!;
    assert.equal(drained.status, 'warn');
    assert.match(drained.detail, /is drained by you since .* \(disk swap\): your agent here starts nothing new/);
    assert.match(drained.fix!, /^lab-agent resume --host /);
    assert.equal((await env.cli(['resume'])).code, 0);
    assert.equal((await doctor(env)).by.drain!.status, 'ok');
  });

  test('everything broken at once: each on its own ✖ line with its fix, exit 1', async () => {
    const db = await freshDatabase({ migrated: false });
    dbs.push(db);
    const env = await member(db);
    const notADir = env.write('a-file', 'x');
    const closedSmtp = await freePort();
    // Hold the only Jupyter port of the window.
    const base = await portBase();
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(base + (userInfo().uid % 100), '127.0.0.1', r));
    servers.push(holder);
    const { code, report, by } = await doctor(env, {
      SMTP_PORT: String(closedSmtp), LAB_PYTHON: '/nonexistent/bin/python', LAB_LOG_DIR: join(notADir, 'logs'),
      JUPYTER_BASE_PORT: String(base), LAB_JUPYTER_PORT_RANGE: '1',
    });
    assert.equal(code, 1);
    assert.equal(report.ok, false);
    assert.equal(by.database!.status, 'fail');
    assert.match(by.database!.detail, /lacks migrations/);
    assert.match(by.database!.fix!, /lab-agent db migrate/);
    assert.equal(by.identity!.status, 'skip', 'no identity without a usable database');
    assert.equal(by.python!.status, 'fail');
    assert.match(by.python!.detail, /\/nonexistent\/bin\/python/);
    assert.equal(by.smtp!.status, 'fail');
    assert.match(by.smtp!.detail, new RegExp(`127\\.0\\.0\\.1:${closedSmtp}`));
    assert.equal(by.ports!.status, 'fail');
    assert.match(by.ports!.fix!, /JUPYTER_BASE_PORT/);
    assert.equal(by.logs!.status, 'fail');
    assert.match(by.logs!.detail, /LAB_LOG_DIR/);

    const text = await env.cli(['doctor'], { SMTP_PORT: String(closedSmtp) });
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^✖ database .*\n\s+fix: run `lab-agent db migrate`$/m);
    assert.match(text.stdout, /problem\(s\).*fix the ✖ lines above/);
  });

  test('no cron line or unit, but `supervise` (npm start) running: a warning with the cron line to add, not a failure', async () => {
    const db = await freshDatabase();
    dbs.push(db);
    const env = await member(db);
    rmSync(join(env.home, '.config'), { recursive: true, force: true }); // no systemd unit: as after a plain `npm start`
    const before = (await doctor(env)).by.scheduler!;
    assert.equal(before.status, 'fail', 'nothing will run the agent');
    const sup = env.spawn(['supervise']);
    try {
      await eventually('the supervisor to hold its lock', async () => (await doctor(env)).by.scheduler!.status !== 'fail', 60_000, 500);
      const { by } = await doctor(env);
      assert.equal(by.scheduler!.status, 'warn');
      assert.match(by.scheduler!.detail, new RegExp(`an agent is running now \\(pid ${sup.pid}\\)`));
      // a clone the installer has not set up: its node and its tick entry point (dist/tick.cjs)
      assert.match(by.scheduler!.fix!, new RegExp(`crontab -e\`: \\* \\* \\* \\* \\* ${process.execPath} \\S+/dist/tick\\.cjs >/dev/null 2>&1 # lab-job-agent`));
    } finally {
      sup.kill('SIGTERM');
      await exited(sup);
    }
  });

  test('an unreachable database is a failure with where to look, and the other checks still run', async () => {
    const db = await freshDatabase();
    dbs.push(db);
    const env = await member(db);
    const { code, by } = await doctor(env, { LAB_DATABASE_URL: `postgres://nobody@127.0.0.1:${await freePort()}/lab` });
    assert.equal(code, 1);
    assert.equal(by.database!.status, 'fail');
    assert.match(by.database!.fix!, /LAB_DATABASE_URL/);
    assert.equal(by.smtp!.status, 'ok');
  });

  test('a bad configuration stops at the first line and names the key', async () => {
    const db = await freshDatabase();
    dbs.push(db);
    const env = await member(db);
    const { code, report } = await doctor(env, { SMTP_PORT: 'twenty-five' });
    assert.equal(code, 1);
    assert.equal(report.checks[0]!.status, 'fail');
    assert.match(report.checks[0]!.detail, /SMTP_PORT=twenty-five is not a whole number/);
    assert.ok(report.checks.slice(1).every((c) => c.status === 'skip'));
  });

  test('a .env others can read while it holds a secret fails with chmod 600', async () => {
    const db = await freshDatabase();
    dbs.push(db);
    const env = await member(db);
    mkdirSync(join(env.home, 'lab_job_agent'), { recursive: true });
    const file = join(env.home, 'lab_job_agent', '.env');
    writeFileSync(file, 'SMTP_PASS=hunter2-secret\n');
    chmodSync(file, 0o644);
    const { by } = await doctor(env);
    assert.equal(by.config!.status, 'fail');
    assert.equal(by.config!.fix, `chmod 600 ${file}`);
    assert.ok(!JSON.stringify(by.config).includes('hunter2-secret'), 'the secret is masked');
    chmodSync(file, 0o600);
    assert.equal((await doctor(env)).by.config!.status, 'ok');
  });

  test('LAB_USER naming someone else is an identity failure', async () => {
    const db = await freshDatabase();
    dbs.push(db);
    const env = await member(db);
    const { by } = await doctor(env, { LAB_USER: 'alice' });
    assert.equal(by.identity!.status, 'fail');
    assert.match(by.identity!.detail, new RegExp(`LAB_USER=alice but this account is ${me}`));
    assert.match(by.identity!.fix!, /remove LAB_USER/);
  });

  test('warnings: JUPYTER_IP=0.0.0.0 and the service key (which can act as anyone), without failing', async () => {
    const db = await freshDatabase();
    dbs.push(db);
    const layer = await startSupabaseLayer({ connection: db.connection });
    layers.push(layer);
    const userId = await makeUser(db, me);
    const env = await member(db, { LAB_DATABASE_URL: '', SUPABASE_URL: layer.url, SUPABASE_SERVICE_KEY: layer.serviceKey, LAB_USER_ID: userId, JUPYTER_IP: '0.0.0.0' });
    const { code, by } = await doctor(env);
    assert.equal(code, 0, JSON.stringify(by, null, 2));
    assert.equal(by['jupyter-ip']!.status, 'warn');
    assert.match(by['jupyter-ip']!.fix!, /JUPYTER_IP=127\.0\.0\.1/);
    assert.equal(by.credentials!.status, 'warn');
    assert.match(by.credentials!.detail, /act as any lab member/);
    assert.match(by.credentials!.fix!, /lab-agent login/);
    assert.equal(by.database!.status, 'ok');
    assert.equal(by.identity!.status, 'ok', by.identity!.detail);
    assert.match(by.identity!.detail, new RegExp(`acts for ${userId} \\(${me}@lab\\.example\\); proof: LAB_USER_ID in \\.env, with the service key, = LAB_EMAIL`));
    // Never the original agent's lookup of users by linux_user (any account can write its own row's).
    assert.equal(layer.requests.filter((r) => r.kind === 'table' && r.name === 'users').length, 0);
    assert.ok(layer.requests.filter((r) => r.kind === 'rpc').every((r) => r.role === 'service_role'), 'every call is made with the service key');

    // The acting account's verified email is not LAB_EMAIL: someone else's id.
    const other = await doctor(env, { LAB_EMAIL: 'someone-else@lab.example' });
    assert.equal(other.by.identity!.status, 'fail');
    assert.match(other.by.identity!.detail, /but LAB_EMAIL=someone-else@lab\.example: the agent may be acting for someone else's account/);
    assert.match(other.by.identity!.fix!, /LAB_USER_ID/);
  });
});
