// Four supervisors (four hosts of one lab member) on 500 queued jobs: every job runs exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useFreshDatabase } from './helpers/fresh-db.js';
import { AgentEnv, eventually, exited } from './helpers/agent-env.js';

const db = await useFreshDatabase();

test('4 agents, 500 jobs: each job run exactly once', async () => {
  const a = new AgentEnv(db, 'grace', { LAB_MAX_PARALLEL: '4', LAB_POLL_INTERVAL_S: '2' });
  const ledger = join(a.home, 'ledger.txt');
  // O_APPEND writes of one short line are atomic: the ledger shows every run.
  const script = a.write('one.py', `import os\nwith open(${JSON.stringify(ledger)}, "a") as f:\n    f.write(os.environ["LAB_JOB_ID"] + "\\n")\n`);
  assert.equal((await a.cli(['ls'])).code, 0); // creates grace's users row
  const user = (await db.admin.query("select user_id from public.users where linux_user = 'grace'")).rows[0].user_id;
  await db.admin.query(
    `insert into public.jobs (user_id, script_path) select $1, $2 from generate_series(1, 500)`,
    [user, script],
  );
  // One member on four hosts over one shared URL: the same LAB_USER_ID on each (a host's data folder
  // would otherwise keep an id of its own).
  const agents = [1, 2, 3, 4].map((n) => a.spawn(['supervise'], { LAB_HOST: `gpu${n}`, LAB_DATA_DIR: join(a.home, `data${n}`), LAB_USER_ID: user }));
  try {
    await eventually('all 500 jobs to finish', async () => {
      const r = await db.admin.query("select count(*) filter (where status = 'finished') as done, count(*) filter (where status = 'failed') as failed from public.jobs");
      if (r.rows[0].failed !== '0') {
        const failed = (await db.admin.query("select job_id, error, stderr_tail from public.jobs where status = 'failed' limit 3")).rows;
        assert.fail(`jobs failed: ${JSON.stringify(failed)}`);
      }
      return r.rows[0].done === '500';
    }, 240_000, 1000);
  } finally {
    for (const s of agents) s.kill('SIGTERM');
    await Promise.all(agents.map(exited));
  }
  const lines = readFileSync(ledger, 'utf8').split('\n').filter(Boolean);
  assert.equal(lines.length, 500, 'no job ran twice');
  assert.equal(new Set(lines).size, 500);
  const hosts = (await db.admin.query('select run_host, count(*) from public.jobs group by run_host')).rows;
  assert.ok(hosts.length >= 2, `the work was shared: ${JSON.stringify(hosts)}`);
  const claims = (await db.admin.query('select max(claim_count) as m from public.jobs')).rows[0].m;
  assert.equal(claims, 1, 'no job was claimed twice');
});
