// Every time the CLI prints (issue 15) is in the member's zone (TZ), to the second, with the zone
// named: after the time, or once in a table's heading. Jobs (ls, status, wait, viz), sweeps,
// schedules, drains, Jupyter sessions and the script inventory, with a real agent running the jobs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { AgentEnv, exited } from './helpers/agent-env.js';
import { useFreshDatabase } from './helpers/fresh-db.js';
import { TOKYO, tokyoClock, tokyoTimes } from './helpers/times.js';

const db = await useFreshDatabase();
let a: AgentEnv;
let sup: ChildProcess;
before(() => {
  a = new AgentEnv(db, `tz${process.pid}`); // the agent in the system's zone; the member reads in Tokyo's
  sup = a.spawn(['supervise']);
});
after(async () => {
  sup.kill('SIGTERM');
  await exited(sup);
});

/** Runs the CLI in Tokyo time; it must succeed. */
async function tokyo(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await a.cli(args, TOKYO, 90_000);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r;
}

const json = async <T>(args: string[]): Promise<T> => JSON.parse((await tokyo([...args, '--json'])).stdout) as T;

test('a job: status, ls, wait and viz show its times in TZ\'s zone, to the second, the zone named', async () => {
  const id = (await tokyo(['submit', a.write('hello.py', 'print("hello")\n')])).stdout.trim();
  const waited = await a.cli(['wait', id], TOKYO, 90_000);
  assert.equal(waited.code, 0, waited.stdout + waited.stderr);
  assert.deepEqual(tokyoTimes('wait', waited.stdout + waited.stderr), [], 'wait prints no time');

  const row = await json<{ created_at: string; started_at: string; finished_at: string }>(['status', id]);
  assert.match(row.created_at, /T.*\.\d+/, '--json keeps the database\'s own value');
  const status = (await tokyo(['status', id])).stdout;
  tokyoTimes('status', status);
  for (const [label, at] of [['created', row.created_at], ['started', row.started_at], ['finished', row.finished_at]] as const) {
    assert.match(status, new RegExp(`^${label}\\s+${tokyoClock(at)} \\+09:00 \\(Asia/Tokyo\\)$`, 'm'), status);
  }

  const ls = (await tokyo(['ls'])).stdout;
  assert.match(ls.split('\n')[0]!, /CREATED \(Asia\/Tokyo\)/);
  assert.ok(tokyoTimes('ls', ls).includes(tokyoClock(row.created_at)), ls);

  const viz = (await tokyo(['viz', '--job', id])).stdout;
  assert.match(viz, /^time \(Asia\/Tokyo\)/m, viz);
  // viz shows the lifecycle's own times: the first event's (clock_timestamp) may fall in the
  // second after created_at (the transaction's start).
  const queued = (await db.admin.query('select at from public.lifecycle_events where subject_id = $1 order by event_id limit 1', [id])).rows[0].at as Date;
  assert.ok(tokyoTimes('viz', viz).includes(tokyoClock(queued)), viz);

  // another zone, the same instant
  const ny = await a.cli(['status', id], { TZ: 'America/New_York' });
  assert.match(ny.stdout, /^created\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d -0[45]:00 \(America\/New_York\)$/m, ny.stdout);
});

test('sweeps, schedules, Jupyter sessions and scripts: the same one format', async () => {
  const script = a.write('cell.py', 'print("cell")\n');
  const sweepId = (await tokyo(['submit', script, '--sweep', 'n=1,2'])).stdout.split('\n')[0]!.trim();
  const sweep = await json<{ sweep: { created_at: string } }>(['status', sweepId]);
  const sweeps = (await tokyo(['ls', '--sweeps'])).stdout;
  assert.ok(tokyoTimes('ls --sweeps', sweeps).includes(tokyoClock(sweep.sweep.created_at)), sweeps);
  const grid = (await tokyo(['status', sweepId])).stdout;
  assert.match(grid, new RegExp(`^created\\s+${tokyoClock(sweep.sweep.created_at)} \\+09:00 \\(Asia/Tokyo\\)$`, 'm'), grid);
  tokyoTimes('status <sweep>', grid);

  // a cron line read in the member's zone: 03:00 in Tokyo, shown as 03:00 in Tokyo
  const added = await tokyo(['schedule', 'add', '0 3 * * *', script]);
  assert.match(added.stderr, /^first run at \d{4}-\d\d-\d\d 03:00:00 \+09:00 \(Asia\/Tokyo\)$/m, added.stderr);
  // read in another zone (UTC): the time is still shown in the member's, and the cron's zone is said
  const utc = await tokyo(['schedule', 'add', '0 3 * * *', script, '--tz', 'UTC']);
  assert.match(utc.stderr, /^first run at \d{4}-\d\d-\d\d 12:00:00 \+09:00 \(Asia\/Tokyo\); the cron line is read in UTC$/m, utc.stderr);
  const schedules = (await tokyo(['schedule', 'ls'])).stdout;
  assert.match(schedules.split('\n')[0]!, /NEXT \(Asia\/Tokyo\)/);
  assert.deepEqual(tokyoTimes('schedule ls', schedules).map((t) => t.slice(11)).sort(), ['03:00:00', '12:00:00'], schedules);

  // a Jupyter request for a host with no agent stays pending: its row is enough here
  const requested = await a.cli(['jupyter', 'start', '--host', 'no-such-host', '--wait', '0'], TOKYO);
  assert.match(requested.stderr, /still pending/, requested.stderr);
  const [session] = await json<{ created_at: string }[]>(['jupyter', 'ls']);
  const sessions = (await tokyo(['jupyter', 'ls'])).stdout;
  assert.ok(tokyoTimes('jupyter ls', sessions).includes(tokyoClock(session!.created_at)), sessions);

  await tokyo(['sync']);
  const inventory = await json<{ path: string; mtime: string }[]>(['scripts']);
  const scripts = (await tokyo(['scripts'])).stdout;
  const cellPy = inventory.find((s) => s.path === script)!;
  assert.ok(tokyoTimes('scripts', scripts).includes(tokyoClock(cellPy.mtime)), scripts);
});

test('a drained host: `drain --list` the same (the host is resumed at once)', async () => {
  await tokyo(['drain', '--host', 'other-host', '--note', 'disk swap']);
  const [drain] = await json<{ drained_at: string }[]>(['drain', '--list']);
  const drains = (await tokyo(['drain', '--list'])).stdout;
  assert.match(drains.split('\n')[0]!, /SINCE \(Asia\/Tokyo\)/);
  assert.ok(tokyoTimes('drain --list', drains).includes(tokyoClock(drain!.drained_at)), drains);
  await tokyo(['resume', '--host', 'other-host']);
});
