// Notification on a real SMTP server: one email per job with the right content; with the server
// down the job still ends, the send is retried later, and exactly one email arrives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useFreshDatabase, jobRow } from './helpers/fresh-db.js';
import { AgentEnv, eventually } from './helpers/agent-env.js';
import { freePort, readMail, startSmtp } from './helpers/smtp.js';

const db = await useFreshDatabase();

test('one email per job: subject with mark, script, exit code, duration; bodies with tails and paths', async () => {
  const smtp = await startSmtp();
  const a = new AgentEnv(db, 'carol', { LAB_EMAIL: 'carol@lab.example', LAB_FROM_EMAIL: 'agent@lab.example', SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port) });
  const script = a.write('exp/train.py', 'import sys\nprint("loss 0.1")\nprint("<warn> & note", file=sys.stderr)\nsys.exit(2)\n');
  const id = (await a.cli(['submit', script, '--', '--lr', '0.1'])).stdout.trim();
  await eventually('the email', async () => {
    await a.cli(['tick']);
    return (await jobRow(db, id)).notified_at;
  });
  for (let i = 0; i < 3; i++) await a.cli(['tick']);
  assert.equal(smtp.received.length, 1, 'exactly one email, however many ticks');
  const [received] = smtp.received;
  assert.equal(received!.mailFrom, 'agent@lab.example');
  assert.deepEqual(received!.rcptTo, ['carol@lab.example']);
  const mail = readMail(received!);
  assert.match(mail.subject, /^❌ train\.py failed \(exit 2, \d+s\) on testhost/);
  for (const body of [mail.text, mail.html]) {
    assert.ok(body.includes(id));
    assert.match(body, /--lr/);
    assert.match(body, /loss 0\.1/);
    assert.ok(body.includes('stdout.log') && body.includes('stderr.log'));
  }
  assert.match(mail.html, /&lt;warn&gt; &amp; note/);
});

test('SMTP down: the job ends anyway, the send is retried, and one email arrives once it is back', async () => {
  const port = await freePort();
  const a = new AgentEnv(db, 'dave', { LAB_EMAIL: 'dave@lab.example', SMTP_HOST: '127.0.0.1', SMTP_PORT: String(port) });
  const script = a.write('ok.py', 'print("fine")\n');
  const id = (await a.cli(['submit', script])).stdout.trim();
  const failedOnce = await eventually('a failed send recorded', async () => {
    await a.cli(['tick']);
    const r = await jobRow(db, id);
    return r.notify_attempts >= 1 ? r : null;
  });
  assert.equal(failedOnce.status, 'finished', 'the job is not held by the mail server');
  assert.equal(failedOnce.notified_at, null);
  assert.match(failedOnce.notify_error!, /ECONNREFUSED|connect/i);
  assert.ok(Date.parse(failedOnce.notify_next_at!) > Date.now(), 'a retry is scheduled with backoff');
  // Another job is not held up by the failing mail either.
  const other = (await a.cli(['submit', script])).stdout.trim();
  await eventually('the other job to finish', async () => {
    await a.cli(['tick']);
    return (await jobRow(db, other)).status === 'finished';
  });

  const smtp = await startSmtp({}, port);
  await a.cli(['tick']);
  assert.equal(smtp.received.filter((m) => m.raw.includes(id)).length, 0, 'not before the retry time');
  await db.admin.query("update public.jobs set notify_next_at = now() - interval '1 second' where job_id = $1", [id]);
  await eventually('the retried email', async () => {
    await a.cli(['tick']);
    return (await jobRow(db, id)).notified_at;
  });
  await a.cli(['tick']);
  assert.equal(smtp.received.filter((m) => readMail(m).text.includes(id)).length, 1);
});

test('no email when LAB_EMAIL is empty; the job is still marked as reported', async () => {
  const smtp = await startSmtp();
  const a = new AgentEnv(db, 'erin', { LAB_EMAIL: '', SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port) });
  const id = (await a.cli(['submit', a.write('x.py', 'print(1)\n')])).stdout.trim();
  await eventually('the job to be done', async () => {
    await a.cli(['tick']);
    return (await jobRow(db, id)).notified_at;
  });
  assert.equal(smtp.received.length, 0);
});
