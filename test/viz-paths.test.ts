// The visualizer draws the path a job really took when two paths lead to the same status:
// jobs driven by the real agent (ticks), their history read back and laid over the job machine.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { AgentEnv } from './helpers/agent-env.js';
import { jobMachine } from '../src/machines/job-machine.js';
import { machineGraph } from '../src/services/viz/machine-graph.js';
import { traceHistory } from '../src/services/viz/history.js';
import type { LifecycleEvent } from '../src/services/store/types.js';

let db: TestDb;
let a: AgentEnv;

before(async () => {
  db = await freshDatabase();
  a = new AgentEnv(db, 'viz');
});
after(async () => db.drop());

async function pathOf(jobId: string): Promise<string[]> {
  const events: LifecycleEvent[] = (await db.admin.query('select * from public.lifecycle_events where subject_id = $1 order by event_id', [jobId])).rows;
  return traceHistory(machineGraph(jobMachine), events).path.map((id) => id.replace(/^job\./, ''));
}

test('bad input: claimed → starting → failing → failed, not the cancel route', async () => {
  const ok = a.write('there.py', 'print(1)\n');
  const id = (await a.cli(['submit', ok])).stdout.trim();
  await db.admin.query("update public.jobs set script_path = $2 where job_id = $1", [id, join(a.home, 'gone.py')]);
  await a.cli(['tick']);
  const path = await pathOf(id);
  assert.deepEqual(path.slice(0, 6), ['pending', 'claimed', 'starting', 'starting.launching', 'starting.failing', 'ended.failed']);
});

test('failed starts: claimed → starting → releasing, back to pending, and failed at the last try', async () => {
  const id = (await a.cli(['submit', a.write('x.py', 'print(1)\n')])).stdout.trim();
  for (let i = 0; i < 3; i++) await a.cli(['tick'], { LAB_FAULT_FAIL_AT: 'launch' });
  const path = await pathOf(id);
  assert.deepEqual(path.slice(0, 6), ['pending', 'claimed', 'starting', 'starting.launching', 'starting.releasing', 'pending']);
  const end = path.lastIndexOf('ended.failed');
  assert.deepEqual(path.slice(end - 4, end + 1), ['claimed', 'starting', 'starting.launching', 'starting.releasing', 'ended.failed']);
});

test('a non-zero exit: running → probing → concluding → failed', async () => {
  const id = (await a.cli(['submit', a.write('bad.py', 'import sys\nsys.exit(4)\n')])).stdout.trim();
  for (let i = 0; i < 10; i++) {
    await a.cli(['tick']);
    if ((await db.admin.query("select 1 from public.jobs where job_id = $1 and status = 'failed'", [id])).rowCount) break;
  }
  const path = await pathOf(id);
  const i = path.indexOf('running.waiting');
  assert.deepEqual(path.slice(i, i + 4), ['running.waiting', 'running.probing', 'concluding', 'ended.failed']);
});
