// The supervisor wakes by itself when something falls due (issue 17): a retry's not_before and a
// schedule's next due time, with a polling interval of an hour, so only the timed wake-up can
// explain a prompt start; and a resumed host takes its jobs at once. Real supervisor process, real
// database, real jobs. The wait is measured on the database's clock (next-wake.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { AgentEnv, eventually, exited } from './helpers/agent-env.js';
import type { JobRow } from '../src/services/store/types.js';
import { dueAtHere, idleWaitMs } from '../src/services/queue/next-wake.js';

let db: TestDb;
before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await db?.drop();
});

const row = async (id: string): Promise<JobRow> => (await db.admin.query('select * from public.jobs where job_id = $1', [id])).rows[0];
const HOUR_S = '3600';

/** Runs `body` beside a supervisor that polls once an hour; stops it (SIGTERM) afterwards. */
async function withSupervisor(a: AgentEnv, body: () => Promise<void>): Promise<void> {
  const sup = a.spawn(['supervise']);
  try {
    await eventually('the supervisor to register', async () =>
      (await db.admin.query("select 1 from public.agents a join public.users u using (user_id) where u.linux_user = $1 and a.mode = 'supervise' and a.stopped_at is null", [a.env.LAB_USER])).rowCount);
    await body();
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- supervisor output ---\n${sup.output().slice(-4000)}`);
  } finally {
    sup.kill('SIGTERM');
    await exited(sup);
  }
}

async function cliOk(a: AgentEnv, args: string[]): Promise<string> {
  const r = await a.cli(args);
  assert.equal(r.code, 0, `lab-agent ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

describe('the supervisor wakes at the next due time, not only on its poll', () => {
  test('a retry runs when its not_before arrives (retry delay 3 s, poll interval 1 h)', { timeout: 180_000 }, async () => {
    const a = new AgentEnv(db, 'wren', { LAB_POLL_INTERVAL_S: HOUR_S });
    const counter = join(a.home, 'count.txt');
    const flaky = a.write('flaky.py', [
      'import os, sys',
      `p = ${JSON.stringify(counter)}`,
      'n = int(open(p).read()) + 1 if os.path.exists(p) else 1',
      'open(p, "w").write(str(n))',
      'sys.exit(0 if n >= 2 else 3)',
    ].join('\n'));
    await withSupervisor(a, async () => {
      const id = await cliOk(a, ['submit', flaky, '--retries', '1', '--retry-delay', '3s']);
      const waiting = await eventually('the first attempt failed and waits for its retry', async () => {
        const j = await row(id);
        return j.attempt === 2 && j.not_before ? j : null;
      }, 60_000, 100);
      const done = await eventually('the retry finished', async () => {
        const j = await row(id);
        return j.status === 'finished' ? j : null;
      }, 90_000, 200);
      assert.equal(done.attempt, 2);
      const started = Date.parse(done.started_at!);
      const due = Date.parse(waiting.not_before!);
      assert.ok(started >= due, 'not before its time');
      // The poll is an hour away: only the wake-up at not_before explains a start this soon
      // (generous for a loaded machine).
      assert.ok(started - due < 30_000, `started ${started - due} ms after its not_before`);
    });
  });

  test('a schedule fires at its due time: added while the supervisor sleeps (poll interval 1 h)', { timeout: 200_000 }, async () => {
    const a = new AgentEnv(db, 'skye', { LAB_POLL_INTERVAL_S: HOUR_S });
    const script = a.write('tick.py', 'print("scheduled")\n');
    await withSupervisor(a, async () => {
      // Every minute: the first due time is within 60 s; the supervisor learns of the schedule from
      // its wake-up (NOTIFY) and then waits until the due time.
      const id = await cliOk(a, ['schedule', 'add', '* * * * *', script, '--tz', 'UTC']);
      const [s] = (await db.admin.query('select next_due_at from public.schedules where schedule_id = $1', [id])).rows;
      const job = await eventually('the scheduled job to finish', async () => {
        const [j] = (await db.admin.query("select * from public.jobs where schedule_id = $1 and status = 'finished'", [id])).rows;
        return j as JobRow | undefined;
      }, 150_000, 250);
      assert.equal(Date.parse(job.scheduled_for!), s.next_due_at.getTime());
      const late = Date.parse(job.created_at) - s.next_due_at.getTime();
      assert.ok(late >= 0 && late < 30_000, `made ${late} ms after its due time`);
      await cliOk(a, ['schedule', 'rm', id]);
    });
  });

  test('a resumed host takes its waiting job at once (the resume wakes the agent)', { timeout: 180_000 }, async () => {
    const a = new AgentEnv(db, 'remy', { LAB_POLL_INTERVAL_S: HOUR_S });
    const quick = a.write('quick.py', 'print("ran")\n');
    await withSupervisor(a, async () => {
      await cliOk(a, ['drain']);
      const id = await cliOk(a, ['submit', quick]);
      // The submit woke it; it saw the drain, claimed nothing, and now sleeps for an hour.
      await eventually('the supervisor to see the drain', async () => /host drained: claiming nothing new/.test(existsSync(a.agentLog) ? readFileSync(a.agentLog, 'utf8') : ''), 60_000);
      assert.equal((await row(id)).status, 'pending');
      await cliOk(a, ['resume']);
      await eventually('the job to finish after the resume', async () => (await row(id)).status === 'finished', 60_000, 200);
    });
  });
});

describe('the wait (pure)', () => {
  const answeredAt = 1_000_000;
  test('until the due time on the database\'s clock, whatever this host\'s clock says', () => {
    // The database says 12:00:00 and the retry is due at 12:00:05: 5 s (and a little), wherever this host's clock is.
    const due = dueAtHere({ db_now: '2026-11-30T12:00:00.000Z', next_wake_at: '2026-11-30T12:00:05.000Z' }, answeredAt);
    assert.equal(due, answeredAt + 5_050);
    assert.equal(idleWaitMs(due, answeredAt, 3_600_000, answeredAt), 5_050);
    assert.equal(idleWaitMs(due, answeredAt, 3_600_000, answeredAt + 2_000), 3_050, 'the time the pass took counts');
    assert.equal(idleWaitMs(due, answeredAt, 2_000, answeredAt), 2_000, 'never longer than the poll');
    assert.equal(idleWaitMs(due, answeredAt, 3_600_000, answeredAt + 60_000), 3_540_000, 'overdue (could not fire): the poll, no tight loop');
  });
  test('nothing due: the poll', () => {
    assert.equal(dueAtHere({ db_now: '2026-11-30T12:00:00.000Z', next_wake_at: null }, answeredAt), null);
    assert.equal(idleWaitMs(null, answeredAt, 60_000, answeredAt), 60_000);
    assert.equal(idleWaitMs(null, answeredAt, 60_000, answeredAt + 10_000), 50_000, 'measured from the last poll');
  });
});
