// One email per job, even when the agent dies mid-send: the Message-ID comes from the job id, so a
// resend is the same message (mail systems drop it), and notified_at is written in the step that
// sends: made before the SMTP server accepts, committed as soon as it has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useFreshDatabase, jobRow } from './helpers/fresh-db.js';
import { AgentEnv, eventually } from './helpers/agent-env.js';
import { readMail, startSmtp } from './helpers/smtp.js';

const db = await useFreshDatabase();

test('the Message-ID is the job\'s, and notified_at is already written (uncommitted) when the server accepts', async () => {
  // While the server holds its 250, the agent's transaction must hold the row with notified_at written.
  const seen: { locked: boolean; committed: unknown }[] = [];
  const smtp = await startSmtp({}, 0, {
    async beforeAccept() {
      const locked = await db.admin.query("select 1 from public.jobs where status = 'finished' and notified_at is null for update nowait").then(() => false, (err: { code?: string }) => err.code === '55P03');
      const committed = (await db.admin.query('select notified_at from public.jobs order by created_at desc limit 1')).rows[0]?.notified_at;
      seen.push({ locked, committed });
    },
  });
  const a = new AgentEnv(db, 'nina', { LAB_EMAIL: 'nina@lab.example', SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port) });
  const id = (await a.cli(['submit', a.write('ok.py', 'print("ok")\n')])).stdout.trim();
  const done = await eventually('notified', async () => {
    await a.cli(['tick']);
    const j = await jobRow(db, id);
    return j.notified_at ? j : null;
  });
  assert.equal(smtp.received.length, 1);
  assert.equal(readMail(smtp.received[0]!).messageId, `<job-${id}@lab-job-agent>`);
  assert.deepEqual(seen, [{ locked: true, committed: null }], 'the record is held open across the acceptance, then committed');
  assert.ok(Date.parse(String(done.notified_at)) <= smtp.received[0]!.acceptedAt, 'notified_at is the moment the send began');
});

test('an agent killed after the server accepted, before the record: the resend is the same message', async () => {
  const smtp = await startSmtp();
  const a = new AgentEnv(db, 'olga', { LAB_EMAIL: 'olga@lab.example', SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port) });
  const id = (await a.cli(['submit', a.write('ok.py', 'print("ok")\n')])).stdout.trim();
  await eventually('a tick to die right after the send', async () => (await a.cli(['tick'], { LAB_FAULT_KILL_AT: 'after-email' })).signal === 'SIGKILL', 30_000, 100);
  assert.equal(smtp.received.length, 1);
  assert.equal((await jobRow(db, id)).notified_at, null, 'not recorded: the agent died first');
  // Two minutes later the lease has run out: another try.
  await db.admin.query("update public.jobs set notify_lease_until = now() - interval '1 second' where job_id = $1", [id]);
  await eventually('notified', async () => {
    await a.cli(['tick']);
    return (await jobRow(db, id)).notified_at;
  });
  const ids = smtp.received.map((m) => readMail(m).messageId);
  assert.equal(ids.length, 2, 'sent twice');
  assert.deepEqual(new Set(ids), new Set([`<job-${id}@lab-job-agent>`]), 'both copies are one message to the mail system');
});
