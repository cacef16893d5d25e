// How long an email stays sent but not recorded (issue 11.3): an agent dying in that window sends
// it again after the 2-minute lease. The window runs from the SMTP server's acceptance (its 250,
// taken in the server's hook, same process and clock) to the moment notified_at is committed.
// Two ways, alternated in the same run on the real store and mailer:
//   before   send, then record (a job_mark_notified call of its own)
//   now      notified_at written first, in a transaction held open across the send and committed
//            as soon as the send returns (LabStore.markNotifiedOnSend, the agent's way)
// Idle: one email at a time. Loaded: 8 at once (an agent ending 8 jobs together) while 2 busy
// processes keep both CPUs full.
// Run: npm run build && node --import tsx bench/email-window.ts [--n 200]
import { spawn, type ChildProcess } from 'node:child_process';
import { freshDatabase, makeUser, storeAs } from '../test/helpers/db.js';
import { readMail, startSmtp } from '../test/helpers/smtp-server.js';
import { createMailer } from '../src/services/mailer.js';
import { messageIdFor } from '../src/services/agent/send-recorded.js';
import { median, percentile, round } from './lib/stats.js';

const n = Number(process.argv[process.argv.indexOf('--n') + 1] || 200) || 200;
const accepted = new Map<string, number>();
const smtp = await startSmtp({}, 0, {
  async beforeAccept(m) {
    accepted.set(readMail(m).messageId, performance.now());
  },
});
const db = await freshDatabase();
const userId = await makeUser(db, 'window');
const store = storeAs(db, userId, 10);
const mailer = createMailer({ host: '127.0.0.1', port: smtp.port, pool: true, from: 'agent@lab.example' });

async function endedJobs(count: number): Promise<string[]> {
  // Inserted as requests, then ended behind the API's back: only the email part is measured.
  const r = await db.admin.query("insert into public.jobs (user_id, script_path) select $1, '/x.py' from generate_series(1, $2::int) returning job_id", [userId, count]);
  await db.admin.query("update public.jobs set status = 'finished', finished_at = now() where job_id = any($1)", [r.rows.map((row: { job_id: string }) => row.job_id)]);
  return r.rows.map((row: { job_id: string }) => row.job_id);
}

type Way = 'before' | 'now';
async function notify(way: Way, jobId: string): Promise<number> {
  const messageId = messageIdFor('job', jobId);
  const msg = { to: 'window@lab.example', subject: `job ${jobId}`, text: 'done', html: '<p>done</p>', messageId };
  await store.beginNotify({ jobId, agentId: '00000000-0000-0000-0000-000000000001' });
  if (way === 'before') {
    await mailer.send(msg);
    await store.markNotified(jobId);
  } else {
    await store.markNotifiedOnSend({ jobId, send: async () => void (await mailer.send(msg)) });
  }
  return performance.now() - accepted.get(messageId)!;
}

async function measure(way: Way, parallel: number): Promise<number[]> {
  const ids = await endedJobs(n);
  const windows: number[] = [];
  for (let i = 0; i < ids.length; i += parallel) windows.push(...(await Promise.all(ids.slice(i, i + parallel).map((id) => notify(way, id)))));
  return windows;
}

const summary = (w: number[]) => ({ p50_ms: round(median(w), 2), p99_ms: round(percentile(w, 99), 2), max_ms: round(Math.max(...w), 2) });
const results: Record<string, unknown>[] = [];
for (const [label, parallel, hogs] of [['idle', 1, 0], ['loaded', 8, 2]] as const) {
  const busy: ChildProcess[] = Array.from({ length: hogs }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
  try {
    for (const way of ['before', 'now', 'before', 'now'] as const) results.push({ load: label, way, emails: n, ...summary(await measure(way, parallel)) });
  } finally {
    for (const b of busy) b.kill('SIGKILL');
  }
}
for (const r of results) console.log(JSON.stringify(r));
mailer.close();
await store.close();
await smtp.close();
await db.drop();
process.exit(0);
