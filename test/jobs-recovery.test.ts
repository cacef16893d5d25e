// Crash recovery: the agent SIGKILLed at every step of a job, in tick mode and in supervise mode,
// then started again. Each job must run exactly once, end with the right outcome, and be emailed once.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useFreshDatabase, jobRow } from './helpers/fresh-db.js';
import { AgentEnv, eventually, exited, sleep } from './helpers/agent-env.js';
import { readMail, startSmtp, type TestSmtp } from './helpers/smtp.js';

const db = await useFreshDatabase();
let smtp: TestSmtp;

before(async () => {
  smtp = await startSmtp();
});

function agentFor(user: string): AgentEnv {
  return new AgentEnv(db, user, { LAB_EMAIL: `${user}@lab.example`, SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port) });
}

/** A script that counts its runs in a file, so a second run would show. */
function countingScript(a: AgentEnv, name: string, seconds = 0): { path: string; runs: () => number } {
  const counter = join(a.home, `${name}.runs`);
  const path = a.write(`${name}.py`, `import time\nopen(${JSON.stringify(counter)}, "a").write("run\\n")\ntime.sleep(${seconds})\nprint("done")\n`);
  return { path, runs: () => (existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0) };
}

const emailsFor = (id: string) => smtp.received.filter((m) => readMail(m).text.includes(id)).length;

// Where the agent dies: entering a machine state, or a point inside a step.
const FAULTS = [
  'job:claimed', // claimed, never started
  'job:starting', // about to spawn
  'after-spawn', // spawned, start not yet recorded
  'job:running', // start recorded; the job runs on without an agent
  'job:probing', // checking a job that has ended
  'before-finish', // the end seen, not yet recorded
  'job:notifying', // about to email
];

describe('tick mode: the agent killed at each step', () => {
  for (const fault of FAULTS) {
    test(`killed at ${fault}`, async () => {
      const a = agentFor(`tick_${fault.replace(/\W/g, '_')}`);
      const s = countingScript(a, 'job', 0);
      const id = (await a.cli(['submit', s.path])).stdout.trim();
      // Tick with the fault until the agent has died at it once (a finished job needs a tick or two).
      await eventually(`a tick to die at ${fault}`, async () => {
        const r = await a.cli(['tick'], { LAB_FAULT_KILL_AT: fault });
        return r.signal === 'SIGKILL';
      }, 30_000, 100);
      const ended = await eventually('the job to be done and reported', async () => {
        const r = await a.cli(['tick']);
        assert.notEqual(r.signal, 'SIGKILL');
        const j = await jobRow(db, id);
        return j.notified_at ? j : null;
      }, 60_000, 200);
      assert.equal(ended.status, 'finished', `${fault}: ${ended.error}`);
      assert.equal(s.runs(), 1, 'the script ran exactly once');
      assert.equal(ended.command?.[1], s.path, 'the command is recorded, also for an adopted start');
      assert.equal(emailsFor(id), 1, 'one email');
    });
  }

  test('a process that ended with no exit record and no agent is failed as lost', async () => {
    const a = agentFor('lost');
    const s = countingScript(a, 'lost', 30);
    const id = (await a.cli(['submit', s.path])).stdout.trim();
    const running = await eventually('running', async () => {
      await a.cli(['tick']);
      const j = await jobRow(db, id);
      return j.status === 'running' ? j : null;
    });
    // The whole job, recorder included, dies with the machine, say: kill both groups, the recorder
    // first (killed second, under load it could see the job die and write its record in between).
    const rec = JSON.parse(readFileSync(join(running.log_dir!, 'pid'), 'utf8'));
    process.kill(rec.wrapperPid, 'SIGKILL');
    process.kill(-running.pid!, 'SIGKILL');
    await sleep(200);
    const ended = await eventually('the job to be failed', async () => {
      await a.cli(['tick']);
      const j = await jobRow(db, id);
      return j.status === 'failed' ? j : null;
    });
    assert.match(ended.error!, /^lost/);
  });

  test('a job that ended while no agent ran is finished from its exit record', async () => {
    const a = agentFor('offline');
    const s = countingScript(a, 'offline', 1);
    const id = (await a.cli(['submit', s.path])).stdout.trim();
    await a.cli(['tick']);
    const j = await jobRow(db, id);
    assert.equal(j.status, 'running');
    await eventually('the exit record', async () => existsSync(join(j.log_dir!, 'exit.json')), 10_000);
    await a.cli(['tick']);
    const ended = await jobRow(db, id);
    assert.equal(ended.status, 'finished');
    assert.equal(ended.retcode, 0);
  });

  test('overlapping cron ticks: the second leaves at once, the job runs once', async () => {
    const a = agentFor('overlap');
    const s = countingScript(a, 'overlap', 0);
    const id = (await a.cli(['submit', s.path])).stdout.trim();
    const results = await Promise.all([a.cli(['tick']), a.cli(['tick']), a.cli(['tick'])]);
    assert.ok(results.every((r) => r.code === 0));
    assert.ok(results.some((r) => /another agent .* is running for this user on this host; this tick exits/.test(r.stderr)), 'an overlapping tick says why it left');
    await eventually('done', async () => {
      await a.cli(['tick']);
      return (await jobRow(db, id)).notified_at;
    });
    assert.equal(s.runs(), 1);
  });
});

describe('supervise mode: the agent killed while jobs run', () => {
  test('SIGKILL mid-job, restart: adopted, finished once, one email', async () => {
    const a = agentFor('sup_kill');
    const s = countingScript(a, 'long', 2);
    const sup = a.spawn(['supervise']);
    const id = (await a.cli(['submit', s.path])).stdout.trim();
    await eventually('running', async () => (await jobRow(db, id)).status === 'running');
    sup.kill('SIGKILL');
    await exited(sup);
    const sup2 = a.spawn(['supervise']);
    const ended = await eventually('finished and reported', async () => {
      const j = await jobRow(db, id);
      return j.notified_at ? j : null;
    }, 30_000);
    assert.equal(ended.status, 'finished');
    assert.equal(s.runs(), 1);
    assert.equal(emailsFor(id), 1);
    sup2.kill('SIGTERM');
    assert.deepEqual(await exited(sup2), { code: 0, signal: null });
  });

  for (const fault of ['job:starting', 'after-spawn', 'before-finish', 'job:notifying']) {
    test(`supervisor dies at ${fault}; the next one completes the job once`, async () => {
      const a = agentFor(`sup_${fault.replace(/\W/g, '_')}`);
      const s = countingScript(a, 'job', 0);
      const id = (await a.cli(['submit', s.path])).stdout.trim();
      const dying = a.spawn(['supervise'], { LAB_FAULT_KILL_AT: fault });
      assert.equal((await exited(dying)).signal, 'SIGKILL');
      const sup = a.spawn(['supervise']);
      const ended = await eventually('reported', async () => {
        const j = await jobRow(db, id);
        return j.notified_at ? j : null;
      }, 30_000);
      sup.kill('SIGTERM');
      await exited(sup);
      assert.equal(ended.status, 'finished');
      assert.equal(s.runs(), 1);
      assert.equal(emailsFor(id), 1);
    });
  }
});
