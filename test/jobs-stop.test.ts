// Cancel and timeout end everything a job started, on every way a stop ends (SIGTERM honoured,
// SIGTERM ignored, timeout); the stop is recorded before the signal goes, so neither a job that
// exits 0 on SIGTERM nor an agent that dies in between turns a stopped job into a plain finish.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useFreshDatabase, jobRow } from './helpers/fresh-db.js';
import { AgentEnv, eventually, exited } from './helpers/agent-env.js';
import { isAlive } from '../src/services/host/process-identity.js';

const db = await useFreshDatabase();
// The stop note's times are in the agent's zone (it runs as the member: TZ), like every time shown.
const AT = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+09:00 \(Asia/Tokyo\)`;

/**
 * A job that leaves its process group two ways: a classic daemon (fork, setsid, fork) that keeps
 * the environment, and a child in the job's session with a group of its own and no environment
 * at all (so only the session finds it). `onTerm`: what the job itself does on SIGTERM.
 */
function escapingScript(a: AgentEnv, name: string, onTerm: 'die' | 'ignore' | 'exit0'): { path: string; pids: () => number[] | null } {
  const mark = join(a.home, `${name}.pids`);
  const handler = { die: '', ignore: 'signal.signal(signal.SIGTERM, signal.SIG_IGN)', exit0: 'signal.signal(signal.SIGTERM, lambda *_: os._exit(0))' }[onTerm];
  const path = a.write(`${name}.py`, [
    'import os, signal, sys, time',
    `mark = ${JSON.stringify(mark)}`,
    'r, w = os.pipe()',
    'if os.fork() == 0:',
    '    os.setsid()',
    '    if os.fork() == 0:',
    '        os.write(w, b"%d\\n" % os.getpid()); time.sleep(300); os._exit(0)',
    '    os._exit(0)',
    'if os.fork() == 0:',
    '    os.setpgid(0, 0)',
    '    os.write(w, b"%d\\n" % os.getpid())',
    '    os.execve("/bin/sleep", ["sleep", "300"], {})',
    'got = b""',
    'while got.count(b"\\n") < 2: got += os.read(r, 64)',
    'open(mark + ".tmp", "w").write(got.decode()); os.rename(mark + ".tmp", mark)',
    handler,
    'print("up", flush=True)',
    'print("the job\'s own last words", file=sys.stderr, flush=True)',
    'time.sleep(300)',
  ].join('\n') + '\n');
  return { path, pids: () => (existsSync(mark) ? readFileSync(mark, 'utf8').trim().split('\n').map(Number) : null) };
}

async function noneLeft(pids: number[], what: string): Promise<void> {
  await eventually(`${what}: every escaped process gone (${pids.join(', ')})`, async () => pids.every((p) => !isAlive(p)), 10_000, 100);
}

describe('supervise: cancel ends the whole job', () => {
  let a: AgentEnv;
  let sup: ReturnType<AgentEnv['spawn']>;
  before(() => {
    a = new AgentEnv(db, 'judy', { LAB_MAX_PARALLEL: '4', TZ: 'Asia/Tokyo' });
    sup = a.spawn(['supervise']);
  });
  after(async () => {
    sup.kill('SIGTERM');
    await exited(sup);
  });

  for (const onTerm of ['die', 'ignore', 'exit0'] as const) {
    test(`a daemonising job cancelled (SIGTERM: ${onTerm}): cancelled, wait exits 130, nothing of it left`, async () => {
      const s = escapingScript(a, `esc_${onTerm}`, onTerm);
      const id = (await a.cli(['submit', s.path])).stdout.trim();
      const pids = await eventually('the escaped processes to start', async () => s.pids(), 20_000);
      await eventually('running', async () => (await jobRow(db, id)).status === 'running');
      assert.equal((await a.cli(['cancel', id])).code, 0);
      const waited = await a.cli(['wait', id], {}, 90_000);
      assert.equal(waited.code, 130, `wait: ${waited.stdout}${waited.stderr}`);
      const j = await jobRow(db, id);
      assert.equal(j.status, 'cancelled', `${j.status}: ${j.error}`);
      assert.equal(j.stop_reason, 'cancel');
      assert.ok(j.kill_sent_at, 'the stop is recorded');
      // The tail says who cancelled it and when, after the job's own output.
      const lines = (j.stderr_tail ?? '').trimEnd().split('\n');
      assert.match(lines.at(-1)!, new RegExp(`^\\[lab-job-agent\\] cancelled by judy \\(cancel requested at ${AT}\\); the agent sent SIGTERM at ${AT}$`), j.stderr_tail ?? '');
      assert.ok(lines.indexOf("the job's own last words") >= 0 && lines.indexOf("the job's own last words") < lines.length - 1, j.stderr_tail ?? '');
      await noneLeft(pids, onTerm);
    });
  }
});

describe('tick: timeout, and the agent dying between the record and the signal', () => {
  test('a timed-out daemonising job: failed with the timeout, nothing of it left', async () => {
    const a = new AgentEnv(db, 'kate', { TZ: 'Asia/Tokyo' });
    const s = escapingScript(a, 'slow', 'die');
    const id = (await a.cli(['submit', s.path, '--timeout', '1'])).stdout.trim();
    const ended = await eventually('the job to end', async () => {
      await a.cli(['tick']);
      const j = await jobRow(db, id);
      return ['failed', 'finished', 'cancelled'].includes(j.status) ? j : null;
    }, 120_000, 300); // ticks take seconds each with the CPUs shared
    assert.equal(ended.status, 'failed');
    assert.match(ended.error ?? '', /^timeout after 1s/);
    assert.match(ended.stderr_tail ?? '', new RegExp(`\\n\\[lab-job-agent\\] stopped by the agent at ${AT}: timeout after 1s$`));
    // agent.log: one pid per line, the agent's; the job's is jobPid.
    const log = readFileSync(a.agentLog, 'utf8').trim().split('\n');
    for (const line of log) assert.ok((line.match(/"pid":/g) ?? []).length <= 1, `two pid keys: ${line}`);
    assert.ok(log.some((l) => /"jobPid":\d+/.test(l) && l.includes('job started')), 'the job\'s pid is jobPid');
    await noneLeft(s.pids() ?? [], 'timeout');
  });

  test('the agent dies after recording the stop, before the signal: still a timeout, never a finish', async () => {
    const a = new AgentEnv(db, 'leo');
    const s = a.write('polite.py', 'import os, signal, time\nsignal.signal(signal.SIGTERM, lambda *_: os._exit(0))\nprint("up", flush=True)\ntime.sleep(300)\n');
    const id = (await a.cli(['submit', s, '--timeout', '1'])).stdout.trim();
    await eventually('running', async () => {
      await a.cli(['tick']);
      return (await jobRow(db, id)).status === 'running';
    });
    await eventually('a tick to die while stopping', async () => (await a.cli(['tick'], { LAB_FAULT_KILL_AT: 'stopping' })).signal === 'SIGKILL', 20_000, 200);
    const ended = await eventually('the job to end', async () => {
      await a.cli(['tick']);
      const j = await jobRow(db, id);
      return ['failed', 'finished', 'cancelled'].includes(j.status) ? j : null;
    }, 120_000, 300);
    assert.equal(ended.status, 'failed', `a stopped job is not a plain finish: ${ended.status} ${ended.error}`);
    assert.match(ended.error ?? '', /^timeout after 1s/);
  });
});
