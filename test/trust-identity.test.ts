// Identity from proof, never from a column another account can write. Mallory, an ordinary
// signed-in account, writes the victim's Linux name into her own users row (user_ensure, as any
// account may) and queues a Jupyter server and a job; the victim's agent must not adopt her id and
// run her requests as the victim's Linux user. The same squat must not lock the victim out.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AgentEnv } from './helpers/agent-env.js';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { startSupabaseLayer, type SupabaseLayer } from './helpers/supabase/layer.js';

let db: TestDb;
let layer: SupabaseLayer;
before(async () => {
  db = await freshDatabase();
  layer = await startSupabaseLayer({ connection: db.connection, emailMaxFrequencyS: 0 });
});
after(async () => {
  await layer.close();
  await db.drop();
});
const restCalls = (from: number) => layer.requests.slice(from).filter((r) => r.kind === 'rpc' || r.kind === 'table');

/** A call as a signed-in account, the way PostgREST makes it (role authenticated, the JWT's claims). */
async function asAccount<T>(userId: string, sql: string, params: unknown[] = []): Promise<T> {
  const c = db.admin;
  await c.query('begin');
  try {
    await c.query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)", [JSON.stringify({ sub: userId, role: 'authenticated' })]);
    const r = (await c.query(sql, params)).rows[0]?.r as T;
    await c.query('commit');
    return r;
  } catch (err) {
    await c.query('rollback');
    throw err;
  }
}

const victimName = () => `vic${randomBytes(3).toString('hex')}`;

describe('squatting a Linux name', () => {
  test('Postgres mode: the victim\'s agent does not adopt the account that wrote its Linux name', async () => {
    const victim = victimName();
    const mallory = randomUUID();
    await asAccount(mallory, 'select public.user_ensure($1, $2) as r', [victim, 'mallory@evil.example']);
    const session = await asAccount<{ session_id: string }>(mallory, 'select public.jupyter_request() as r');
    const job = await asAccount<{ job_id: string }>(mallory, 'select public.job_submit($1, $2) as r', [`/home/${victim}/train.py`, '--exfiltrate']);

    const a = new AgentEnv(db, victim, { LAB_JUPYTER: '/nonexistent/jupyter' });
    const tick = await a.cli(['tick']);
    assert.equal(tick.code, 0, tick.stderr);
    const s = (await db.admin.query('select status, token, agent_id from public.jupyter_sessions where session_id = $1', [session.session_id])).rows[0];
    assert.deepEqual(s, { status: 'pending', token: null, agent_id: null }, 'Mallory\'s Jupyter request is not served as the victim');
    const j = (await db.admin.query('select status, run_host from public.jobs where job_id = $1', [job.job_id])).rows[0];
    assert.deepEqual(j, { status: 'pending', run_host: null }, 'nor her job');
    const agents = (await db.admin.query('select user_id from public.agents')).rows.map((r) => r.user_id);
    assert.equal(agents.length, 1);
    assert.notEqual(agents[0], mallory);
    // The victim's agent acts for the id kept in its own data folder, and says how it knows.
    const kept = readFileSync(join(a.home, '.local/share/lab-job-agent/user-id'), 'utf8').trim();
    assert.equal(agents[0], kept);
    assert.equal(statSync(join(a.home, '.local/share/lab-job-agent/user-id')).mode & 0o777, 0o600);
    const rows = (await db.admin.query('select user_id from public.users where linux_user = $1 order by user_id', [victim])).rows.map((r) => r.user_id);
    assert.deepEqual(rows.sort(), [kept, mallory].sort(), 'two accounts may carry one Linux name: it is a label');
    assert.deepEqual((await db.admin.query('select user_id, host, linux_user from public.user_hosts where user_id = $1', [kept])).rows, [{ user_id: kept, host: 'testhost', linux_user: victim }]);
    assert.match(readFileSync(a.agentLog, 'utf8'), /LAB_DATABASE_URL is shared/, 'the shared URL is warned about in the agent log');
  });

  test('signed-in mode: a squatter cannot make the owner\'s registration fail', async () => {
    const victim = victimName();
    const mallory = randomUUID();
    const owner = randomUUID();
    await asAccount(mallory, 'select public.user_ensure($1) as r', [victim]);
    const row = await asAccount<{ user_id: string; linux_user: string }>(owner, 'select public.user_ensure($1, $2, $3) as r', [victim, `${victim}@lab.example`, 'gpu1']);
    assert.deepEqual({ user_id: row.user_id, linux_user: row.linux_user }, { user_id: owner, linux_user: victim });
    // Mallory's own binding on the same host does not block the owner's either.
    await asAccount(mallory, 'select public.user_ensure($1, null, $2) as r', [victim, 'gpu1']);
    const bindings = (await db.admin.query('select user_id from public.user_hosts where host = $1 and linux_user = $2', ['gpu1', victim])).rows.map((r) => r.user_id);
    assert.deepEqual(bindings.sort(), [mallory, owner].sort());
    // ...and nobody writes another account's binding.
    await assert.rejects(asAccount(mallory, 'insert into public.user_hosts (user_id, host, linux_user) values ($1, $2, $3) returning 1 as r', [owner, 'gpu2', 'mallory']), /permission denied/);
  });
});

describe('Supabase with the service key', () => {
  test('without LAB_USER_ID the agent refuses to start, and never looks users up by linux_user', async () => {
    const victim = victimName();
    // Mallory's account has written the victim's Linux name into its own users row, as any account may.
    const mallory = await layer.createUser(`mallory-${victim}@lab.example`, 'pw');
    await asAccount(mallory.id, 'select public.user_ensure($1, null) as r', [victim]);
    const a = new AgentEnv(db, victim, { LAB_DATABASE_URL: '', SUPABASE_URL: layer.url, SUPABASE_SERVICE_KEY: layer.serviceKey });
    const from = layer.requests.length;
    const tick = await a.cli(['tick']);
    assert.equal(tick.code, 1);
    assert.match(tick.stderr, /SUPABASE_SERVICE_KEY mode needs LAB_USER_ID .*run `lab-agent login`/);
    assert.deepEqual(restCalls(from), [], 'no lookup and no call in anyone\'s name');
    assert.match(readFileSync(a.agentLog, 'utf8'), /needs LAB_USER_ID/, 'said in the agent log too (cron reads no stderr)');
  });

  test('with LAB_USER_ID it runs, and says once per process that the key can act as anyone', async () => {
    const owner = await layer.createUser(`keyholder-${randomBytes(3).toString('hex')}@lab.example`, 'pw');
    const a = new AgentEnv(db, victimName(), { LAB_DATABASE_URL: '', SUPABASE_URL: layer.url, SUPABASE_SERVICE_KEY: layer.serviceKey, LAB_USER_ID: owner.id });
    const tick = await a.cli(['tick']);
    assert.equal(tick.code, 0, tick.stderr);
    const said = (text: string) => text.split('\n').filter((l) => l.includes('anyone holding this key can act as any lab member')).length;
    assert.equal(said(readFileSync(a.agentLog, 'utf8')) + said(tick.stderr), 1, `said once:\n${readFileSync(a.agentLog, 'utf8')}\n${tick.stderr}`);
  });

  test('`lab-agent login` finds the account by its confirmed email, writes LAB_USER_ID once the member says yes', async () => {
    const email = `owner-${randomBytes(3).toString('hex')}@lab.example`;
    const owner = await layer.createUser(email, 'pw');
    // Anyone can sign up with someone else's address; nobody can confirm it.
    const lookalike = await layer.createUser(email.toUpperCase(), undefined, { confirmed: false });
    const a = new AgentEnv(db, victimName(), { LAB_DATABASE_URL: '', SUPABASE_URL: layer.url, SUPABASE_SERVICE_KEY: layer.serviceKey });
    const envFile = join(a.home, 'lab_job_agent', '.env');
    mkdirSync(join(a.home, 'lab_job_agent'), { recursive: true });
    writeFileSync(envFile, '# mine\nSMTP_HOST=mail.lab.example\n', { mode: 0o600 });

    const no = await a.cliWithInput(['login', '--email', email], 'n\n');
    assert.equal(no.code, 1);
    assert.match(no.stderr, new RegExp(`Your account: ${owner.id} \\(${email.replace(/[.]/g, '\\.')}, confirmed`));
    assert.ok(!readFileSync(envFile, 'utf8').includes('LAB_USER_ID'), 'nothing written without a yes');

    const yes = await a.cliWithInput(['login', '--email', email, '--json'], 'y\n');
    assert.equal(yes.code, 0, yes.stderr);
    assert.equal(JSON.parse(yes.stdout).userId, owner.id);
    assert.equal(readFileSync(envFile, 'utf8'), `# mine\nSMTP_HOST=mail.lab.example\nLAB_USER_ID=${owner.id}\n`);
    assert.equal(statSync(envFile).mode & 0o777, 0o600);
    assert.ok(!readFileSync(envFile, 'utf8').includes(lookalike.id), 'the unconfirmed look-alike is never chosen');

    const none = await a.cliWithInput(['login', '--email', 'nobody@lab.example'], '');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no account with the confirmed email nobody@lab\.example/);
  });
});
