// When the agent itself cannot start a claimed job (its own trouble, not the request's), the job
// goes back to the queue, and fails after the third try with the reason. Tails are pushed while
// a job runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useFreshDatabase, jobRow } from './helpers/fresh-db.js';
import { AgentEnv, eventually } from './helpers/agent-env.js';

const db = await useFreshDatabase();

test('a job the agent cannot start is released, then failed after 3 tries', async () => {
  const a = new AgentEnv(db, 'henry');
  const id = (await a.cli(['submit', a.write('ok.py', 'print(1)\n')])).stdout.trim();
  // The agent's own trouble, not the request's (a problem with the member's log folder fails at once: jobs-input-limits).
  const broken = { LAB_FAULT_FAIL_AT: 'launch' };
  await a.cli(['tick'], broken);
  const first = await jobRow(db, id);
  assert.equal(first.status, 'pending', 'back in the queue after one failed start');
  assert.equal(first.claim_count, 1);
  await a.cli(['tick'], broken);
  await a.cli(['tick'], broken);
  const last = await jobRow(db, id);
  assert.equal(last.status, 'failed');
  assert.match(last.error!, /could not be started after 3 tries: injected fault at launch/);
  const events = (await db.admin.query('select from_status, to_status from public.lifecycle_events where subject_id = $1 order by event_id', [id])).rows;
  assert.deepEqual(events.map((e) => `${e.from_status}>${e.to_status}`), [
    'null>pending', 'pending>claimed', 'claimed>pending', 'pending>claimed', 'claimed>pending', 'pending>claimed', 'claimed>failed', 'failed>notified',
  ]);
});

test('tails reach the row while the job runs, only when they change', async () => {
  const a = new AgentEnv(db, 'iris');
  const script = a.write('progress.py', 'import time\nfor i in range(3):\n    print("step", i, flush=True)\n    time.sleep(0.4)\ntime.sleep(30)\n');
  const sup = a.spawn(['supervise']);
  try {
    const id = (await a.cli(['submit', script, '--timeout', '60'])).stdout.trim();
    const seen = await eventually('a tail while running', async () => {
      const j = await jobRow(db, id);
      return j.status === 'running' && j.stdout_tail?.includes('step 2') ? j : null;
    }, 20_000, 100);
    assert.ok(seen.heartbeat_at);
    // Nothing changes now: the row is not rewritten (heartbeat_at stays) for the next seconds.
    const before = String((await jobRow(db, id)).updated_at);
    await new Promise((r) => setTimeout(r, 6000));
    assert.equal(String((await jobRow(db, id)).updated_at), before, 'no write when the tails did not change');
    await a.cli(['cancel', id]);
    await eventually('cancelled', async () => (await jobRow(db, id)).status === 'cancelled', 20_000);
  } finally {
    sup.kill('SIGTERM');
  }
});
