// Real Python scripts through the real agent (cron-style ticks): success, failure, crash, a flood
// of output, a timeout, a cancel of a script that ignores SIGTERM, and real notebooks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { AgentEnv, eventually, sleep } from './helpers/agent-env.js';
import { hasTestJupyter, requirePart, testJupyter } from './helpers/required.js';
import type { JobRow } from '../src/services/store/types.js';
import { isSameProcess } from '../src/services/host/process-identity.js';

let db: TestDb;
let a: AgentEnv;

before(async () => {
  db = await freshDatabase();
  a = new AgentEnv(db, 'alice', { LAB_MAX_PARALLEL: '8' });
});
after(async () => db.drop());

async function job(id: string): Promise<JobRow> {
  return (await db.admin.query('select * from public.jobs where job_id = $1', [id])).rows[0];
}

/** Rows in the order of ids (one query: the admin client runs one query at a time). */
async function jobs(ids: string[]): Promise<JobRow[]> {
  const rows: JobRow[] = (await db.admin.query('select * from public.jobs where job_id = any($1)', [ids])).rows;
  return ids.map((id) => rows.find((r) => r.job_id === id)!);
}

async function submit(script: string, args: string[] = [], extra: string[] = []): Promise<string> {
  const r = await a.cli(['submit', script, ...extra, ...(args.length ? ['--', ...args] : [])]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** Ticks as cron would (one process per tick) until every job has ended. */
async function tickUntilEnded(ids: string[], timeoutMs = 90_000): Promise<JobRow[]> {
  return eventually(`jobs ${ids.join(', ')} to end`, async () => {
    const t = await a.cli(['tick']);
    assert.equal(t.code, 0, t.stderr);
    const rows = await jobs(ids);
    return rows.every((r) => ['finished', 'failed', 'cancelled'].includes(r.status)) ? rows : null;
  }, timeoutMs, 300);
}

describe('jobs through cron ticks', () => {
  test('success, exit code, crash, 100 MB of output, timeout', async () => {
    const ok = a.write('proj/ok.py', 'import sys, os\nprint("hello", sys.argv[1:], os.getcwd(), os.environ["LAB_JOB_ID"])\n');
    const fail = a.write('proj/fail.py', 'import sys\nprint("about to fail", file=sys.stderr)\nsys.exit(3)\n');
    const crash = a.write('proj/crash.py', 'def f():\n    raise ValueError("値が不正です")\nf()\n');
    const flood = a.write('proj/flood.py', 'import sys\nline = "x" * 1023 + "\\n"\nfor i in range(102400):\n    sys.stdout.write(line)\nprint("the end")\n');
    const slow = a.write('proj/slow.py', 'import time\nprint("sleeping", flush=True)\ntime.sleep(60)\n');
    const ids = {
      ok: await submit(ok, ['--n', '3', 'two words']),
      fail: await submit(fail),
      crash: await submit(crash),
      flood: await submit(flood),
      slow: await submit(slow, [], ['--timeout', '2']),
    };
    const [rOk, rFail, rCrash, rFlood, rSlow] = await tickUntilEnded(Object.values(ids));
    assert.equal(rOk!.status, 'finished');
    assert.equal(rOk!.retcode, 0);
    assert.match(rOk!.stdout_tail!, new RegExp(`hello \\['--n', '3', 'two words'\\] ${join(a.home, 'proj')} ${ids.ok}`));
    assert.ok(rOk!.interpreter, 'the interpreter used is recorded');
    assert.deepEqual(rOk!.command!.slice(1), [ok, '--n', '3', 'two words']);
    assert.equal(statSync(join(a.home, 'lab_job_logs', ids.ok)).mode & 0o777, 0o700);

    assert.equal(rFail!.status, 'failed');
    assert.equal(rFail!.retcode, 3);
    assert.equal(rFail!.error, 'exit code 3');
    assert.match(rFail!.stderr_tail!, /about to fail/);

    assert.equal(rCrash!.status, 'failed');
    assert.match(rCrash!.stderr_tail!, /ValueError: 値が不正です/);

    assert.equal(rFlood!.status, 'finished');
    assert.ok(statSync(rFlood!.stdout_path!).size >= 100 * 1024 * 1024, 'the whole 100 MB is in the log');
    assert.ok(Buffer.byteLength(rFlood!.stdout_tail!) <= 8192, 'the tail is at most 8 KiB');
    assert.match(rFlood!.stdout_tail!, /the end\n$/);

    assert.equal(rSlow!.status, 'failed');
    assert.equal(rSlow!.error, 'timeout after 2s');
    assert.ok(rSlow!.pid && !isSameProcess(rSlow!.pid, rSlow!.pid_start), 'the timed-out process is gone');
  });

  test('cancel: a script that ignores SIGTERM is killed after the grace', async () => {
    const stubborn = a.write('proj/stubborn.py', [
      'import signal, time, sys',
      'signal.signal(signal.SIGTERM, lambda *a: print("ignoring SIGTERM", flush=True))',
      'print("ready", flush=True)',
      'while True:',
      '    time.sleep(0.1)',
    ].join('\n'));
    const id = await submit(stubborn);
    await a.cli(['tick']);
    const running = await eventually('the script to be ready', async () => {
      const r = await job(id);
      return r.status === 'running' && existsSync(r.stdout_path!) && readFileSync(r.stdout_path!, 'utf8').includes('ready') ? r : null;
    });
    const c = await a.cli(['cancel', id.slice(0, 8)]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /cancel requested/);
    const [ended] = await tickUntilEnded([id]);
    assert.equal(ended!.status, 'cancelled');
    assert.ok(ended!.kill_sent_at, 'SIGTERM was sent first');
    assert.match(readFileSync(running.stdout_path!, 'utf8'), /ignoring SIGTERM/);
    assert.equal(ended!.signal, 'SIGKILL', 'then SIGKILL after the grace');
    assert.ok(!isSameProcess(running.pid!, running.pid_start));
    const events = (await db.admin.query("select detail->>'action' as action from public.lifecycle_events where subject_id = $1", [id])).rows.map((r) => r.action);
    assert.ok(events.includes('cancel_requested_at') && events.includes('stopping'));
  });

  test('a pending job is cancelled at once and never runs', async () => {
    const marker = join(a.home, 'never-ran');
    const s = a.write('proj/never.py', `open(${JSON.stringify(marker)}, "w").write("ran")\n`);
    const id = await submit(s);
    const c = await a.cli(['cancel', id]);
    assert.match(c.stdout, /cancelled/);
    await a.cli(['tick']);
    assert.equal((await job(id)).status, 'cancelled');
    assert.ok(!existsSync(marker));
  });
});

const noJupyter = requirePart('Jupyter (nbconvert)', hasTestJupyter, 'python3 -m venv .venv && .venv/bin/pip install jupyterlab nbconvert ipykernel');

describe('notebooks', { skip: noJupyter }, () => {
  const nb = (cells: { source: string; tags?: string[] }[]) =>
    JSON.stringify({
      nbformat: 4, nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
      cells: cells.map((c, i) => ({ id: `c${i}`, cell_type: 'code', metadata: { tags: c.tags ?? [] }, execution_count: null, outputs: [], source: c.source })),
    });

  test('executed with parameters injected; a raising notebook fails', async () => {
    const good = a.write('nb/train.ipynb', nb([
      { source: 'epochs = 1\nname = "default"', tags: ['parameters'] },
      { source: 'print(f"epochs={epochs} name={name}")' },
    ]));
    const bad = a.write('nb/bad.ipynb', nb([{ source: 'raise RuntimeError("notebook boom")' }]));
    const env = { LAB_JUPYTER: testJupyter };
    const s1 = await a.cli(['submit', good, '--', '--epochs', '5', '--name', 'テスト'], env);
    const s2 = await a.cli(['submit', bad], env);
    const ids = [s1.stdout.trim(), s2.stdout.trim()];
    const rows = await eventually('notebooks to end', async () => {
      await a.cli(['tick'], env);
      const r = await jobs(ids);
      return r.every((x) => ['finished', 'failed'].includes(x.status)) ? r : null;
    }, 120_000, 500);
    assert.equal(rows[0]!.status, 'finished', rows[0]!.stderr_tail ?? '');
    const output = readFileSync(join(rows[0]!.log_dir!, 'output.ipynb'), 'utf8');
    assert.match(output, /epochs=5 name=テスト/);
    assert.match(output, /injected-parameters/);
    assert.equal(rows[1]!.status, 'failed');
    assert.match(rows[1]!.stderr_tail!, /notebook boom/);
    await sleep(0);
  });
});
