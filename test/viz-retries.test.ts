// Issue 17: a retried job's history over the machine shows each attempt: every failed attempt
// goes running → probing → concluding → pending inside the machine (not "outside the machine"),
// and the timeline names the retry, its count and when the next attempt may start.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { freshDatabase, makeUser, storeAs, type TestDb } from './helpers/db.js';
import { loadMachine } from '../src/services/viz/machines.js';
import { machineGraph } from '../src/services/viz/machine-graph.js';
import { traceHistory } from '../src/services/viz/history.js';
import { timelineText } from '../src/services/viz/timeline.js';
import type { LabStore } from '../src/services/store/lab-store.js';

let db: TestDb;
let store: LabStore;
const agent = randomUUID();

before(async () => {
  db = await freshDatabase();
  store = storeAs(db, await makeUser(db, 'retrier'));
});
after(async () => {
  await store.close();
  await db.drop();
});

/** One attempt: claimed (its retry delay skipped), started, and the process exits with `code`. */
async function attempt(jobId: string, code: number): Promise<string> {
  await db.admin.query('update public.jobs set not_before = null where job_id = $1', [jobId]);
  const [claimed] = await store.claimJobs({ agentId: agent, host: 'testhost', limit: 1 });
  assert.equal(claimed?.job_id, jobId);
  await store.startJob({
    jobId, agentId: agent, pid: 4242, pidStart: '12345', interpreter: '/usr/bin/python3',
    command: ['/usr/bin/python3', '/home/retrier/flaky.py'], logDir: '/tmp/x', stdoutPath: '/tmp/x/out', stderrPath: '/tmp/x/err',
  });
  return (await store.finishJob({ jobId, retcode: code, signal: null })).status;
}

test('a job that succeeds on its third attempt: each attempt is a path through the machine, and the timeline names each retry', async () => {
  const job = await store.submitJob({ scriptPath: '/home/retrier/flaky.py', retries: 2, retryDelayS: 60 });
  assert.equal(await attempt(job.job_id, 3), 'pending');
  assert.equal(await attempt(job.job_id, 3), 'pending');
  assert.equal(await attempt(job.job_id, 0), 'finished');

  const graph = machineGraph(await loadMachine('job'));
  const history = traceHistory(graph, await store.history(job.job_id));
  assert.equal(history.current, 'ended.finished');
  // The only steps outside the machine are the database's claims (one per attempt).
  assert.deepEqual(history.external.map((x) => `${x.source}->${x.target}`), ['pending->claimed']);
  assert.deepEqual(history.external[0]!.steps.length, 3, 'three claims, one per attempt');
  const retried = history.steps.filter((s) => s.fromStatus === 'running' && s.toStatus === 'pending');
  assert.equal(retried.length, 2, 'two attempts went back to the queue');
  for (const s of retried) {
    assert.equal(s.external, false);
    assert.deepEqual(s.edges.map((e) => e.target), ['running.probing', 'concluding', 'pending']);
  }
  assert.deepEqual(retried.map((s) => [s.detail.retry, s.detail.of]), [[1, 2], [2, 2]]);

  const text = timelineText({ machine: 'job', id: job.job_id, title: null, status: 'finished' }, history);
  const retryLines = text.split('\n').filter((l) => l.includes('running → pending'));
  assert.equal(retryLines.length, 2, text);
  assert.match(retryLines[0]!, /retry=1/);
  assert.match(retryLines[1]!, /retry=2/);
  assert.equal(text.split('\n').filter((l) => l.includes('running → finished')).length, 1, text);
});
