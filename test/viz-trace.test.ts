// Section 3 of the visualizer issue: `--trace` logs every machine transition (eventless ones
// included) as a structured pino line: machine, id, from, to, event.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromPromise } from 'xstate';
import { freshDatabase, makeUser, storeAs } from './helpers/db.js';
import { AgentEnv } from './helpers/agent-env.js';
import { walk } from './helpers/machine-walk.js';
import { jobMachine } from '../src/machines/job-machine.js';
import { JOB_RESTING_STATES } from '../src/machines/job-states.js';
import { stepMachine } from '../src/services/agent/machine-runner.js';
import type { Logger } from '../src/services/logger.js';
import type { JobRow } from '../src/services/store/types.js';

interface TraceLine {
  trace: boolean;
  machine: string;
  id: string;
  from: string | null;
  to: string;
  event: string;
}

describe('tracing: one structured line per machine transition', () => {
  test('eventless steps are traced too, and each line is a transition of the machine', async () => {
    const machine = jobMachine;
    const now = Date.now();
    const job = { job_id: 'j-trace', status: 'running', notified_at: null, notify_next_at: null, started_at: new Date(now).toISOString(), timeout_s: null, kill_sent_at: null, cancel_requested_at: null, heartbeat_at: null } as unknown as JobRow;
    const provided = machine.provide({
      actors: {
        probeJob: fromPromise(async () => ({ exit: { code: 1, signal: null, endedAt: new Date(now).toISOString() }, alive: false, stdoutTail: '', stderrTail: '' })),
        concludeJob: fromPromise(async () => ({ ...job, status: 'failed' })),
        notifyUser: fromPromise(async () => ({ ...job, status: 'failed', notified_at: new Date(now).toISOString() })),
      },
    } as never);
    const lines: TraceLine[] = [];
    const log = { info: (o: TraceLine) => lines.push(o), debug() {}, warn() {}, error() {} } as unknown as Logger;
    const end = await stepMachine({
      machine: provided, input: { row: job, now, killGraceMs: 1000, heartbeatMs: 1000, defaultTimeoutS: 0 },
      now, resting: JOB_RESTING_STATES, kind: 'job', id: 'j-trace', log, trace: true,
    });
    assert.equal(end.state, 'notified');
    const { transitions } = walk(machine);
    for (const l of lines) {
      assert.equal(l.trace, true);
      assert.equal(l.machine, 'job');
      assert.equal(l.id, 'j-trace');
      // A parent's transition applies in its children; entering a compound state enters its initial child.
      const within = (id: string | null, state: string) => id === state || Boolean(id?.startsWith(`${state}.`));
      assert.ok(transitions.some((t) => within(l.from, t.source) && within(l.to, t.target)), `traced ${l.from} → ${l.to} is a transition of the machine`);
    }
    assert.deepEqual(lines.map((l) => `${l.from}→${l.to}:${l.event}`), [
      'restoring→running.waiting:always',
      'running.waiting→running.probing:TICK',
      'running.probing→concluding:xstate.done.actor.0.job.running.probing',
      'concluding→ended.failed:xstate.done.actor.0.job.concluding',
      'ended.failed→notifying:always',
      'notifying→notified:xstate.done.actor.0.job.notifying',
    ]);
  });

  test('`lab-agent tick --trace` writes them to the agent log as pino JSON lines', async () => {
    const db = await freshDatabase();
    try {
      const userId = await makeUser(db, 'tracy');
      const env = new AgentEnv(db, 'tracy', { LAB_USER_ID: userId });
      const store = storeAs(db, userId);
      // A script that is not there: the job fails on its first tick, with no Python needed.
      const job = await store.submitJob({ scriptPath: join(env.home, 'missing.py') });
      await store.close();
      const r = await env.cli(['tick', '--trace']);
      assert.equal(r.code, 0, r.stderr);
      const traced = readFileSync(env.agentLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TraceLine & { msg: string })
        .filter((l) => l.trace && l.id === job.job_id);
      assert.ok(traced.length >= 3, `trace lines for the job: ${JSON.stringify(traced)}`);
      for (const l of traced) {
        assert.equal(l.machine, 'job');
        assert.equal(typeof l.event, 'string');
        assert.ok(l.to);
      }
      const path = traced.map((l) => l.to);
      assert.ok(path.includes('starting.launching') && path.includes('starting.failing') && path.includes('ended.failed'), `claimed → starting → failing → failed in ${path.join(' → ')}`);
    } finally {
      await db.drop();
    }
  });
});
