// The Jupyter machine alone: pure transitions with stub actors through provide(), no servers, no
// database. What each step calls, with what input (deadlines computed from TICK's `now`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromPromise } from 'xstate';
import { jupyterMachine } from '../src/machines/jupyter-machine.js';
import { graceLeft, limitMessage, sessionsAhead, tokenlessUrl, type LaunchInfo, type ServerProbe } from '../src/machines/jupyter-rules.js';
import { JUPYTER_RESTING_STATES } from '../src/machines/jupyter-states.js';
import { classifyEnd } from '../src/services/agent/jupyter-actors.js';
import { stepMachine } from '../src/services/agent/machine-runner.js';
import { silentLogger } from '../src/services/logger.js';
import type { SessionRow } from '../src/services/store/types.js';

const NOW = Date.parse('2026-11-29T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function session(over: Partial<SessionRow> = {}): SessionRow {
  return {
    session_id: '00000000-0000-4000-8000-000000000001', user_id: 'u', status: 'starting', host: null, run_host: 'gpu1', agent_id: 'a',
    dir: null, app: null, port: null, token: null, pid: null, pid_start: null, url: null, tunnel: null, log_path: null, error_message: null,
    stop_requested_at: null, stopping_at: null, notified_at: null, created_at: iso(NOW - 5000), started_at: null, stopped_at: null,
    updated_at: iso(NOW - 5000), ...over,
  };
}

type Calls = { name: string; input: Record<string, unknown> }[];

/** The machine with every actor stubbed: each records its call and answers from `answers`. */
function stubbed(answers: Partial<Record<string, (input: Record<string, unknown>) => unknown>>, calls: Calls) {
  const names = ['findLaunch', 'launchServer', 'awaitHealthy', 'markRunning', 'probeServer', 'notifyUser', 'concludeGone', 'stopServer', 'failSession'];
  const actors = Object.fromEntries(
    names.map((name) => [
      name,
      fromPromise(async ({ input }: { input: Record<string, unknown> }) => {
        calls.push({ name, input });
        const answer = answers[name];
        if (!answer) throw new Error(`unexpected call to ${name}`);
        return answer(input);
      }),
    ]),
  );
  return jupyterMachine.provide({ actors: actors as never });
}

// A claimed session is a row in `starting`: its machine starts there (no replay of the claim).
async function step(s: SessionRow, answers: Parameters<typeof stubbed>[0], over: Record<string, unknown> = {}) {
  const calls: Calls = [];
  const input = { row: s, now: NOW, others: [], max: 1, startTimeoutMs: 60_000, killGraceMs: 10_000, emailOn: false, ...over };
  const { state } = await stepMachine({ machine: stubbed(answers, calls), input, now: NOW, resting: JUPYTER_RESTING_STATES, kind: 'jupyter', id: s.session_id, log: silentLogger, trace: false });
  return { state, calls, names: calls.map((c) => c.name) };
}

const launch: LaunchInfo = { pid: 4242, startTime: '99', port: 8801, launchedAt: NOW - 20_000 };
const runningRow = session({ status: 'running', port: 8801, token: 't'.repeat(64), pid: 4242, pid_start: '99', url: `http://gpu1:8801/lab?token=${'t'.repeat(64)}`, started_at: iso(NOW - 1000) });

test('restoring: each status rests where the row says', async () => {
  for (const status of ['pending', 'stopped', 'failed'] as const) {
    const { state, calls } = await step(session({ status }), {});
    assert.equal(state, status);
    assert.deepEqual(calls, []);
  }
});

test('claimed: launch → healthy (the whole start timeout) → running', async () => {
  const { state, names, calls } = await step(session(), {
    findLaunch: () => null, launchServer: () => ({ ...launch, launchedAt: NOW }), awaitHealthy: () => undefined,
    markRunning: () => ({ ...runningRow }),
  });
  assert.equal(state, 'running.waiting');
  assert.deepEqual(names, ['findLaunch', 'launchServer', 'awaitHealthy', 'markRunning']);
  assert.equal(calls[2]!.input.timeoutMs, 60_000);
});

test('a launch found after a crash is adopted, never launched again, and gets only what is left of the timeout', async () => {
  const { state, names, calls } = await step(session(), { findLaunch: () => launch, awaitHealthy: () => undefined, markRunning: () => runningRow }, { others: [runningRow, runningRow] });
  assert.equal(state, 'running.waiting');
  assert.deepEqual(names, ['findLaunch', 'awaitHealthy', 'markRunning'], 'adoption is not subject to the limit');
  assert.equal(calls[1]!.input.timeoutMs, 40_000);
  const late = await step(session(), { findLaunch: () => ({ ...launch, launchedAt: NOW - 90_000 }), awaitHealthy: () => { throw new Error('not healthy in time'); }, failSession: (i) => ({ ...session(), status: 'failed', error_message: i.error }) });
  assert.equal(late.state, 'failed');
  assert.equal(late.calls[1]!.input.timeoutMs, 0, 'the deadline passed: one last probe');
  assert.equal(late.calls[2]!.input.error, 'not healthy in time');
});

test('LAB_JUPYTER_MAX: a request beyond it fails naming the running session and its tokenless link', async () => {
  const other = { ...runningRow, session_id: '00000000-0000-4000-8000-0000000000aa' };
  const { state, names, calls } = await step(session(), { findLaunch: () => null, failSession: (i) => ({ ...session(), status: 'failed', error_message: i.error }) }, { others: [other] });
  assert.equal(state, 'failed');
  assert.deepEqual(names, ['findLaunch', 'failSession']);
  const error = String(calls[1]!.input.error);
  assert.match(error, /LAB_JUPYTER_MAX is 1: you already have 1 Jupyter server on gpu1/);
  assert.ok(error.includes(`${other.session_id} (running, http://gpu1:8801/lab)`));
  assert.ok(!error.includes('t'.repeat(64)));
  // max 2 leaves room; a later request does not block an earlier one; stopping ones do not count.
  assert.deepEqual((await step(session(), { findLaunch: () => null, launchServer: () => launch, awaitHealthy: () => undefined, markRunning: () => runningRow }, { others: [other], max: 2 })).names.slice(0, 2), ['findLaunch', 'launchServer']);
  const later = { ...session(), session_id: '00000000-0000-4000-8000-0000000000bb', created_at: iso(NOW) };
  assert.deepEqual(sessionsAhead(session(), [later, { ...other, status: 'stopping' }]), []);
  assert.deepEqual(sessionsAhead(later, [session()]).length, 1);
  assert.match(limitMessage(later, [session()], 1), /\(starting\)/);
});

test('launch errors (Jupyter missing, no free port) fail the session with the message', async () => {
  const { state, calls } = await step(session(), { findLaunch: () => null, launchServer: () => { throw new Error('No Jupyter found; pip install jupyterlab'); }, failSession: (i) => ({ ...session(), status: 'failed', error_message: i.error }) });
  assert.equal(state, 'failed');
  assert.match(String(calls.at(-1)!.input.error), /pip install jupyterlab/);
});

test('running: a probe per tick; gone → concluded; stop requested → stopped with the full grace', async () => {
  const alive: ServerProbe = { alive: true, healthy: true };
  assert.equal((await step(runningRow, { probeServer: () => alive })).state, 'running.waiting');
  const gone = await step(runningRow, { probeServer: () => ({ alive: false, healthy: false }), concludeGone: () => ({ ...runningRow, status: 'failed' }) });
  assert.equal(gone.state, 'failed');
  assert.deepEqual(gone.names, ['probeServer', 'concludeGone']);
  const stop = await step({ ...runningRow, stop_requested_at: iso(NOW - 100) }, { probeServer: () => alive, stopServer: () => ({ ...runningRow, status: 'stopped' }) });
  assert.equal(stop.state, 'stopped');
  assert.equal(stop.calls[1]!.input.graceMs, 10_000);
});

test('stopping (begun by an earlier tick): the grace goes on from stopping_at', async () => {
  const s = { ...runningRow, status: 'stopping' as const, stop_requested_at: iso(NOW - 5000), stopping_at: iso(NOW - 4000) };
  const r = await step(s, { stopServer: () => ({ ...s, status: 'stopped' }) });
  assert.equal(r.state, 'stopped');
  assert.equal(r.calls[0]!.input.graceMs, 6000);
  assert.equal(graceLeft({ row: { ...s, stopping_at: iso(NOW - 60_000) }, now: NOW, killGraceMs: 10_000 }), 0);
  // A stop asked for while starting goes straight to stopping whatever was launched.
  const early = await step(session({ stop_requested_at: iso(NOW) }), { stopServer: () => ({ ...session(), status: 'stopped' }) });
  assert.deepEqual(early.names, ['stopServer']);
});

test('email: once, at most one try per tick, retried while SMTP is down, only within the window', async () => {
  const sent = await step(session(), { findLaunch: () => launch, awaitHealthy: () => undefined, markRunning: () => runningRow, notifyUser: () => ({ ...runningRow, notified_at: iso(NOW) }) }, { emailOn: true });
  assert.deepEqual(sent.names, ['findLaunch', 'awaitHealthy', 'markRunning', 'notifyUser']);
  const failing = await step(runningRow, { probeServer: () => ({ alive: true, healthy: true }), notifyUser: () => runningRow }, { emailOn: true });
  assert.equal(failing.state, 'running.waiting');
  assert.deepEqual(failing.names, ['probeServer', 'notifyUser'], 'the check, then one try in this tick');
  assert.deepEqual((await step({ ...runningRow, notified_at: iso(NOW) }, { probeServer: () => ({ alive: true, healthy: true }) }, { emailOn: true })).names, ['probeServer']);
  assert.deepEqual((await step({ ...runningRow, started_at: iso(NOW - 2 * 3600_000) }, { probeServer: () => ({ alive: true, healthy: true }) }, { emailOn: true })).names, ['probeServer']);
  assert.deepEqual((await step(runningRow, { probeServer: () => ({ alive: true, healthy: true }) }, { emailOn: false })).names, ['probeServer']);
});

test('how a server that went away ended, from its log; links lose their token', () => {
  assert.deepEqual(classifyEnd('[I 12:00 ServerApp] No kernels for 720 seconds; shutting down.', 1, 12), { kind: 'stopped', reason: 'idle: Jupyter shut itself down after 12 min with no kernels (LAB_JUPYTER_IDLE_MIN)' });
  assert.equal(classifyEnd('[I NotebookApp] No kernels or terminals for 61 seconds; shutting down.', 1, 1).kind, 'stopped');
  assert.equal(classifyEnd('Shutting down on /api/shutdown request.', 1, 1).kind, 'stopped');
  assert.deepEqual(classifyEnd('[C 12:00 ServerApp] received signal 15, stopping', 1, 1), { kind: 'stopped', reason: 'stopped by signal 15 from outside the agent' });
  const crash = classifyEnd('[I ServerApp] Serving notebooks', 77, 1);
  assert.equal(crash.kind, 'failed');
  assert.match((crash as { error: string }).error, /pid 77\) is gone[\s\S]*Serving notebooks/);
  assert.equal(tokenlessUrl('http://h:1/lab?token=abc'), 'http://h:1/lab');
  assert.equal(tokenlessUrl('http://h:1/?a=1&token=abc'), 'http://h:1/?a=1');
  assert.equal(tokenlessUrl(null), null);
});
