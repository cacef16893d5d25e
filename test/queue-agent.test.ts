// The queue end to end (issue 17): the CLI submits, `lab-agent tick` runs real processes on the
// real database. A retry that succeeds on the third attempt keeps three attempts' logs and sends
// one email; LAB_RESULT lands on the row; a 3×3 sweep with --max-parallel 2 never runs more than
// two at once and sends one email with the grid; a → b → c where b fails; priorities; drain with
// a running job; a schedule fires from the tick, once per due time, with one catch-up run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { AgentEnv, eventually } from './helpers/agent-env.js';
import { readMail, startSmtp, type TestSmtp } from './helpers/smtp.js';
import type { JobRow } from '../src/services/store/types.js';
import { jobMachine } from '../src/machines/job-machine.js';
import { machineGraph } from '../src/services/viz/machine-graph.js';
import { traceHistory } from '../src/services/viz/history.js';

let db: TestDb;
let smtp: TestSmtp;

before(async () => {
  db = await freshDatabase();
  smtp = await startSmtp();
});
after(async () => {
  await smtp.close();
  await db.drop();
});

const row = async (id: string): Promise<JobRow> => (await db.admin.query('select * from public.jobs where job_id = $1', [id])).rows[0];
const mailsTo = (who: string) => smtp.received.filter((m) => m.rcptTo.includes(who)).map(readMail);

function agent(user: string, extra: NodeJS.ProcessEnv = {}): AgentEnv {
  return new AgentEnv(db, user, { LAB_EMAIL: `${user}@lab.example`, SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), ...extra });
}

async function cliOk(a: AgentEnv, args: string[]): Promise<string> {
  const r = await a.cli(args);
  assert.equal(r.code, 0, `lab-agent ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Ticks until `done` says so. */
function tickUntil<T>(a: AgentEnv, what: string, done: () => Promise<T | null | false | undefined>, timeoutMs = 90_000): Promise<T> {
  return eventually(what, async () => {
    await a.cli(['tick']);
    return done();
  }, timeoutMs, 100);
}

describe('the queue, run by the agent', () => {
  test('a retry that succeeds on the third attempt: three attempts\' logs kept, the result on the row, one email', async () => {
    const a = agent('rita');
    const counter = join(a.home, 'count.txt');
    const script = a.write('flaky.py', [
      'import os, sys',
      `p = ${JSON.stringify(counter)}`,
      'n = int(open(p).read()) + 1 if os.path.exists(p) else 1',
      'open(p, "w").write(str(n))',
      'print(f"attempt {n}", flush=True)',
      'print("LAB_RESULT {\\"acc\\": 0.5}")',
      'if n < 3: sys.exit(7)',
      'print("LAB_RESULT {\\"acc\\": 0.91, \\"attempt\\": %d}" % n)',
      'print("not json: LAB_RESULT x")',
      'print("LAB_RESULT {broken")',
    ].join('\n'));
    const id = await cliOk(a, ['submit', script, '--retries', '2', '--retry-delay', '1s']);
    const first = await tickUntil(a, 'the first attempt failed and went back to the queue', async () => {
      const j = await row(id);
      return j.attempt === 2 ? j : null;
    });
    assert.equal(first.status === 'pending' || first.status === 'claimed' || first.status === 'running', true);
    const status = await cliOk(a, ['status', id]);
    assert.match(status, /attempt\s+2 of 3/);
    const done = await tickUntil(a, 'finished on the third attempt', async () => {
      const j = await row(id);
      return j.status === 'finished' && j.notified_at ? j : null;
    });
    assert.equal(done.attempt, 3);
    assert.deepEqual(done.result, { acc: 0.91, attempt: 3 }, 'the last good LAB_RESULT line');
    const logs = join(a.home, 'lab_job_logs', id);
    assert.equal(readFileSync(join(logs, 'stdout.log'), 'utf8').split('\n')[0], 'attempt 1');
    assert.equal(readFileSync(join(logs, 'attempt-2', 'stdout.log'), 'utf8').split('\n')[0], 'attempt 2');
    assert.equal(readFileSync(join(logs, 'attempt-3', 'stdout.log'), 'utf8').split('\n')[0], 'attempt 3');
    assert.equal(done.log_dir, join(logs, 'attempt-3'));
    assert.deepEqual(done.attempts!.map((t) => [t.attempt, t.status, t.retcode, t.log_dir]),
      [[1, 'failed', 7, logs], [2, 'failed', 7, join(logs, 'attempt-2')], [3, 'finished', 0, join(logs, 'attempt-3')]]);
    assert.deepEqual(done.attempts![0]!.result, { acc: 0.5 }, 'each attempt keeps its own result');
    const mails = mailsTo('rita@lab.example');
    assert.equal(mails.length, 1, 'one email, after the last attempt');
    assert.match(mails[0]!.text, /Attempts:\s+3/);
    assert.match(mails[0]!.text, /Result:\s+\{"acc":0\.91,"attempt":3\}/);
    const events = await db.admin.query('select * from public.lifecycle_events where subject_id = $1 order by event_id', [id]);
    assert.equal(events.rows.filter((e) => e.from_status === 'running' && e.to_status === 'pending').length, 2, 'the history shows each retry');
    // The visualizer lays each attempt on the machine: running → concluding → pending, three runs.
    const history = traceHistory(machineGraph(jobMachine), events.rows.map((e) => ({ ...e, at: e.at.toISOString() })));
    // The claims are the database's (the machine starts from the claimed row): the only steps
    // outside the machine, one per attempt.
    assert.deepEqual(history.external.map((x) => [x.source, x.target, x.steps.length]), [['pending', 'claimed', 3]], 'every other step is on the machine');
    const path = history.path.map((st) => st.replace(/^job\./, ''));
    assert.equal(path.filter((st) => st === 'concluding').length, 3);
    assert.equal(path.filter((st) => st === 'running').length, 3);
    assert.equal(history.steps.filter((st) => st.toStatus === 'pending' && st.fromStatus === 'running').map((st) => st.detail.retry).join(','), '1,2');
  });

  test('a 3×3 sweep with --max-parallel 2: two at a time, each cell its arguments, one email with the grid', async () => {
    const a = agent('sven', { LAB_MAX_PARALLEL: '4' });
    const trace = join(a.home, 'trace.txt');
    const script = a.write('train.py', [
      'import sys, time, json',
      `t = ${JSON.stringify(trace)}`,
      'open(t, "a").write(f"start {time.time()}\\n")',
      'time.sleep(0.6)',
      'args = sys.argv[1:]',
      'open(t, "a").write(f"end {time.time()}\\n")',
      'print("LAB_RESULT " + json.dumps({"args": args}))',
    ].join('\n'));
    const out = await cliOk(a, ['submit', script, '--sweep', 'lr=0.1,0.01,0.001', '--sweep', 'seed=1..3', '--max-parallel', '2', '--', '--epochs', '10']);
    const sweepId = out.split('\n')[0]!;
    assert.equal(out.split('\n').length, 10, 'the sweep id, then nine job ids');
    const view = JSON.parse(await cliOk(a, ['status', sweepId.slice(0, 8), '--json']));
    assert.equal(view.jobs.length, 9);
    assert.equal(view.jobs.filter((c: { pending_reason: string | null }) => /at its limit of 2/.test(c.pending_reason ?? '')).length, 7);
    await tickUntil(a, 'the sweep email', async () => mailsTo('sven@lab.example').length > 0, 120_000);
    const grid = JSON.parse(await cliOk(a, ['ls', '--sweep', sweepId, '--json']));
    assert.deepEqual(grid.jobs.map((c: { result: { args: string[] } }) => c.result.args), [
      ...['0.1', '0.01', '0.001'].flatMap((lr) => ['1', '2', '3'].map((seed) => ['--lr', lr, '--seed', seed, '--epochs', '10'])),
    ]);
    // Never more than two running at once: replay the starts and ends.
    let running = 0;
    let peak = 0;
    const marks = readFileSync(trace, 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]).sort((x, y) => Number(x[1]) - Number(y[1]));
    for (const [what] of marks) peak = Math.max(peak, (running += what === 'start' ? 1 : -1));
    assert.equal(marks.length, 18);
    assert.equal(peak, 2);
    const mails = mailsTo('sven@lab.example');
    assert.equal(mails.length, 1, 'one email for the sweep, none per cell');
    assert.match(mails[0]!.subject, /sweep of train\.py: 9 finished/);
    assert.match(mails[0]!.text, /#\s+lr\s+seed\s+status\s+exit\s+result/);
    assert.match(mails[0]!.text, /9\s+0\.001\s+3\s+finished\s+0/);
  });

  test('a chain a → b → c where b fails: c is cancelled with the reason and never runs', async () => {
    const a = agent('carl');
    const ok = a.write('ok.py', 'print("ok")\n');
    const bad = a.write('bad.py', 'import sys; sys.exit(4)\n');
    const ja = await cliOk(a, ['submit', ok]);
    const jb = await cliOk(a, ['submit', bad, '--after', ja.slice(0, 8)]);
    const jc = await cliOk(a, ['submit', ok, '--after', jb]);
    assert.match(await cliOk(a, ['status', jc]), new RegExp(`waiting\\s+waiting for job ${jb.slice(0, 8)} to finish`));
    const c = await tickUntil(a, 'c cancelled', async () => {
      const j = await row(jc);
      return j.status === 'cancelled' ? j : null;
    });
    assert.equal(c.error, `cancelled: job ${jb.slice(0, 8)}, which it waits for, failed (exit code 4)`);
    assert.equal(c.started_at, null);
    assert.equal((await row(ja)).status, 'finished');
    assert.equal((await row(jb)).status, 'failed');
  });

  test('priorities reorder claims; drain with a running job lets it finish and takes nothing new; resume', async () => {
    const a = agent('dora');
    const slow = a.write('slow.py', 'import time; time.sleep(2); print("slow done")\n');
    const quick = a.write('quick.py', 'print("quick")\n');
    const low = await cliOk(a, ['submit', quick, '--priority=-1']);
    const first = await cliOk(a, ['submit', slow, '--priority', '5']);
    await a.cli(['tick']);
    assert.equal((await row(first)).status, 'running', 'the higher priority starts first');
    assert.equal((await row(low)).status, 'pending');
    assert.match(await cliOk(a, ['drain']), /testhost drained/);
    const listed = JSON.parse(await cliOk(a, ['drain', '--list', '--json']));
    assert.deepEqual(listed.map((d: { host: string }) => d.host), ['testhost']);
    // `hosts` says so (the host published its resources on the first tick), and --json has it.
    const drainOf = async () => (JSON.parse(await cliOk(a, ['hosts', '--json'])) as { host: string; drain: unknown }[]).find((h) => h.host === 'testhost')?.drain;
    assert.deepEqual(Object.keys((await drainOf()) as object).sort(), ['by', 'drained_at', 'note']);
    assert.equal(((await drainOf()) as { by: string }).by, 'you');
    assert.match(await cliOk(a, ['hosts']), /^testhost .*drained by you/m);
    await db.admin.query("select lab_private.host_drain_lab('testhost', true, 'power work')");
    assert.match(await cliOk(a, ['hosts']), /^testhost .*drained by the lab: power work/m, 'the lab\'s drain comes first');
    await db.admin.query("select lab_private.host_drain_lab('testhost', false)");
    await tickUntil(a, 'the running job finished on the drained host', async () => (await row(first)).status === 'finished');
    for (let i = 0; i < 3; i++) await a.cli(['tick']);
    assert.equal((await row(low)).status, 'pending', 'a drained host claims nothing new');
    assert.match(await cliOk(a, ['resume']), /testhost resumed/);
    assert.equal(await drainOf(), null, 'no longer drained in hosts');
    await tickUntil(a, 'claimed after resume', async () => (await row(low)).status === 'finished');
  });

  test('a schedule fires from the tick: one job per due time, one catch-up after downtime over three due times', async () => {
    const a = agent('sara', { LAB_EMAIL: '' });
    const script = a.write('eval.py', 'print("eval")\n');
    const id = await cliOk(a, ['schedule', 'add', '*/5 * * * *', script, '--tz', 'Asia/Tokyo', '--', '--ckpt', 'latest']);
    const [s] = (await db.admin.query('select * from public.schedules where schedule_id = $1', [id])).rows;
    assert.equal(new Date(s.next_due_at).getUTCMinutes() % 5, 0);
    await a.cli(['tick']);
    assert.equal((await db.admin.query('select count(*)::int as n from public.jobs where schedule_id = $1', [id])).rows[0].n, 0, 'not due yet');
    // The agents were down over three due times: move the schedule back 15 minutes.
    await db.admin.query("update public.schedules set next_due_at = date_trunc('hour', now()) + floor(extract(minute from now()) / 5) * interval '5 minutes' - interval '15 minutes' where schedule_id = $1", [id]);
    await Promise.all([a.cli(['tick']), a.cli(['tick'])]); // two agents racing
    const jobs = (await db.admin.query('select job_id, args, scheduled_for from public.jobs where schedule_id = $1', [id])).rows;
    assert.equal(jobs.length, 2, 'the latest missed due time (one catch-up run) and the one now: ' + JSON.stringify(jobs));
    assert.equal(jobs[0].args, JSON.stringify(['--ckpt', 'latest']));
    const after = (await db.admin.query('select * from public.schedules where schedule_id = $1', [id])).rows[0];
    assert.ok(new Date(after.next_due_at) > new Date());
    assert.equal(after.skipped, 2);
    const ls = await cliOk(a, ['schedule', 'ls']);
    assert.match(ls, /\*\/5 \* \* \* \*\s+Asia\/Tokyo/);
    assert.match(await cliOk(a, ['schedule', 'pause', id.slice(0, 8)]), /paused/);
    assert.match((await a.cli(['schedule', 'add', '61 * * * *', script])).stderr, /Invalid value for minute: 61/);
  });
});
