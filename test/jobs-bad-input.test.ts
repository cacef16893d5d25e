// Bad input never stops the agent: each case fails its job with a clear error (also in
// stderr_tail), the user is emailed, and the next job runs.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useFreshDatabase } from './helpers/fresh-db.js';
import { AgentEnv, eventually } from './helpers/agent-env.js';
import { readMail, startSmtp, type TestSmtp } from './helpers/smtp.js';
import type { JobRow } from '../src/services/store/types.js';

const db = await useFreshDatabase();
let a: AgentEnv;
let smtp: TestSmtp;
let userId: string;

before(async () => {
  smtp = await startSmtp();
  a = new AgentEnv(db, 'bob', { LAB_EMAIL: 'bob@lab.example', SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port) });
  // The first CLI call creates bob's users row.
  const r = await a.cli(['ls']);
  assert.equal(r.code, 0, r.stderr);
  userId = (await db.admin.query("select user_id from public.users where linux_user = 'bob'")).rows[0].user_id;
});

async function insertJob(scriptPath: string | null, args: string | null = null): Promise<string> {
  const r = await db.admin.query('insert into public.jobs (user_id, script_path, args) values ($1, $2, $3) returning job_id', [userId, scriptPath, args]);
  return r.rows[0].job_id;
}

test('each kind of bad request fails clearly, is emailed, and the queue goes on', async () => {
  const outside = join(tmpdir(), `outside-${process.pid}.py`);
  writeFileSync(outside, 'print("should never run")\n');
  symlinkSync(outside, join(a.home, 'link-out.py'));
  a.write('notes.txt', 'not a script');
  const good = a.write('good.py', 'print("good ran")\n');

  const cases: [string, () => Promise<string>, RegExp][] = [
    ['no script at all', () => insertJob(null), /names no script/],
    ['a path outside home after symlinks', () => insertJob(join(a.home, 'link-out.py')), /outside your home/i],
    ['not a .py or .ipynb', () => insertJob(join(a.home, 'notes.txt')), /not a \.py or \.ipynb/i],
    ['a missing file', () => insertJob(join(a.home, 'gone.py')), /not found|does not exist/i],
    ['unparsable arguments', () => insertJob(good, "--name 'unbalanced"), /quote/i],
  ];
  const ids: string[] = [];
  for (const [, make] of cases) ids.push(await make());
  const goodId = await insertJob(good);
  // A script_id that is not one of bob's scripts is refused when the row is written.
  await assert.rejects(db.admin.query('insert into public.jobs (user_id, script_id) values ($1, 999999)', [userId]), /script 999999 is not one of your scripts/);

  const rows = await eventually('all jobs to end and be notified', async () => {
    await a.cli(['tick']);
    const r: JobRow[] = (await db.admin.query('select * from public.jobs where job_id = any($1)', [[...ids, goodId]])).rows;
    return r.length === ids.length + 1 && r.every((x) => x.notified_at) ? r : null;
  }, 60_000, 100);
  const byId = new Map(rows.map((r) => [r.job_id, r]));
  cases.forEach(([name, , pattern], i) => {
    const r = byId.get(ids[i]!)!;
    assert.equal(r.status, 'failed', name);
    assert.match(r.error!, pattern, `${name}: ${r.error}`);
    assert.equal(r.stderr_tail, r.error, `${name}: the error is also in stderr_tail`);
    assert.equal(r.pid, null, `${name}: nothing was started`);
  });
  const goodRow = byId.get(goodId)!;
  assert.equal(goodRow.status, 'finished');
  assert.match(goodRow.stdout_tail!, /good ran/);
  // One email per job, each naming the problem.
  const mails = smtp.received.map(readMail);
  assert.equal(mails.length, ids.length + 1);
  for (const [i, [name, , pattern]] of cases.entries()) {
    const mail = mails.find((m) => m.text.includes(ids[i]!));
    assert.ok(mail, `${name}: emailed`);
    assert.match(mail.subject, /failed/);
    assert.match(mail.text, pattern);
  }
});

test('no Python found: failed with how to fix it, and the agent keeps serving', async () => {
  const s = a.write('needs-python.py', 'print(1)\n');
  const id = await insertJob(s);
  await a.cli(['tick'], { LAB_PYTHON: '/nonexistent/bin/python' });
  const r: JobRow = (await db.admin.query('select * from public.jobs where job_id = $1', [id])).rows[0];
  assert.equal(r.status, 'failed');
  assert.match(r.error!, /LAB_PYTHON/);
  const next = await insertJob(s);
  await eventually('the next job to finish', async () => {
    await a.cli(['tick']);
    return (await db.admin.query('select status from public.jobs where job_id = $1', [next])).rows[0].status === 'finished';
  });
});

test('the CLI refuses bad submissions with a clear message and exit code', async () => {
  const outside = await a.cli(['submit', '/etc/hostname.py']);
  assert.equal(outside.code, 1);
  assert.match(outside.stderr, /does not exist|outside your home/);
  const notScript = await a.cli(['submit', join(a.home, 'notes.txt')]);
  assert.equal(notScript.code, 2);
  assert.match(notScript.stderr, /not a \.py or \.ipynb file/);
  const badTimeout = await a.cli(['submit', join(a.home, 'good.py'), '--timeout', 'soon']);
  assert.equal(badTimeout.code, 2);
  assert.match(badTimeout.stderr, /--timeout takes whole seconds/);
  const unknown = await a.cli(['status', 'zzzz']);
  assert.equal(unknown.code, 2);
});
