// Jupyter sessions end to end with real servers, through the real CLI: `lab-agent jupyter start`
// waits while cron-style `lab-agent tick` runs (or a `supervise` process) launch, check, stop.
// JupyterLab from the test venv and Debian's legacy Notebook 6; Notebook 6 starts in about half a
// second, so the fault cases use it. Every server binds 127.0.0.1 on ports away from 8800.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { killLeftoverJupyter } from './helpers/db.js';
import { useFreshDatabase } from './helpers/fresh-db.js';
import { AgentEnv, eventually, exited, sleep, type CliResult } from './helpers/agent-env.js';
import { hasLegacyJupyter, hasTestJupyter, requirePart, testJupyter } from './helpers/required.js';
import { readMail, startSmtp, type TestSmtp } from './helpers/smtp.js';
import { isPortFree, preferredPort } from '../src/services/jupyter/ports.js';
import { isAlive } from '../src/services/host/process-identity.js';
import type { SessionRow } from '../src/services/store/types.js';

const skipLab = requirePart('JupyterLab', hasTestJupyter, 'make the test venv: scripts/test-venv.sh (npm test does it when .venv is missing)');
const skipLegacy = requirePart('legacy Notebook 6', hasLegacyJupyter, 'apt-get install jupyter-notebook (Debian/Ubuntu)');
const debianJupyter = '/usr/bin/jupyter'; // jupyter_core from Debian's package: `jupyter notebook` is Notebook 6
const uid = process.getuid?.() ?? 0;

const db = await useFreshDatabase({ beforeDrop: killLeftoverJupyter }); // whatever a failed test left running
let smtp: TestSmtp;
let nextBase = 26000;

before(async () => {
  smtp = await startSmtp();
});

const row = async (id: string): Promise<SessionRow> => (await db.admin.query('select * from public.jupyter_sessions where session_id = $1', [id])).rows[0];

/** A member whose agent serves Jupyter on 127.0.0.1 from its own window of 20 ports. */
function agentFor(user: string, extra: NodeJS.ProcessEnv = {}): AgentEnv & { base: number } {
  const base = nextBase;
  nextBase += 100;
  const a = new AgentEnv(db, user, {
    JUPYTER_IP: '127.0.0.1', JUPYTER_BASE_PORT: String(base), LAB_JUPYTER_PORT_RANGE: '20', LAB_PUBLIC_HOST: 'gpu1.lab',
    LAB_JUPYTER: testJupyter, LAB_JUPYTER_START_TIMEOUT: '60', ...extra,
  });
  return Object.assign(a, { base });
}

/** Debian's Notebook 6 with JUPYTER_LEGACY unset: the agent sees it is the classic NotebookApp. */
const legacyEnv = { LAB_JUPYTER_APP: 'notebook', LAB_JUPYTER: debianJupyter };

/** `jupyter start` (which waits) with cron ticks beside it until it returns. */
async function startWithTicks(a: AgentEnv, args: string[] = []): Promise<{ r: CliResult; s: SessionRow }> {
  let done = false;
  const starting = a.cli(['jupyter', 'start', '--json', ...args]).finally(() => (done = true));
  while (!done) {
    const t = await a.cli(['tick', '--trace']);
    assert.equal(t.code, 0, t.stderr);
    await sleep(100);
  }
  const r = await starting;
  return { r, s: JSON.parse(r.stdout) as SessionRow };
}

/** `jupyter stop` (which waits) with ticks beside it. */
async function stopWithTicks(a: AgentEnv, id: string): Promise<CliResult> {
  let done = false;
  const stopping = a.cli(['jupyter', 'stop', id]).finally(() => (done = true));
  while (!done) {
    await a.cli(['tick', '--trace']);
    await sleep(100);
  }
  return stopping;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { Connection: 'close', ...headers }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The url answers with the token and refuses without it. */
async function checkServes(s: SessionRow, uiPath: string): Promise<void> {
  const token = s.token!;
  assert.match(token, /^[0-9a-f]{64}$/, '32 random bytes, hex');
  // Bound to 127.0.0.1: the link names that address, with the tunnel from the member's computer.
  assert.equal(s.url, `http://127.0.0.1:${s.port}${uiPath}?token=${token}`);
  assert.match(s.tunnel ?? '', new RegExp(`^ssh -N -L ${s.port}:127\\.0\\.0\\.1:${s.port} \\w+@gpu1\\.lab$`));
  assert.equal((await get(s.port!, '/api/status', { Authorization: `token ${token}` })).status, 200);
  assert.equal((await get(s.port!, `${uiPath}?token=${token}`)).status, 200, 'the link itself opens the UI');
  const anon = await get(s.port!, '/api/status');
  assert.ok(anon.status === 403 || anon.status === 401, `no token → ${anon.status}`);
  const ui = await get(s.port!, uiPath);
  assert.equal(ui.status, 302);
  assert.match(ui.location ?? '', /\/login/);
}

function assertTokenHidden(a: AgentEnv, token: string): void {
  assert.ok(!execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8', maxBuffer: 64 << 20 }).includes(token), 'token in ps output');
  const log = readFileSync(a.agentLog, 'utf8');
  assert.match(log, /Jupyter server healthy/, 'the agent log is the one that saw the start');
  assert.ok(!log.includes(token), 'token in the agent log');
}

async function checkStopped(a: AgentEnv, s: SessionRow): Promise<void> {
  const r = await stopWithTicks(a, s.session_id);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${s.session_id} stopped`));
  const done = await row(s.session_id);
  assert.equal(done.status, 'stopped');
  assert.ok(done.stopping_at, 'the stop began in the row');
  assert.equal(isAlive(s.pid!), false, 'the server is gone');
  assert.equal(await isPortFree(s.port!, '127.0.0.1'), true, 'the port is free');
  const history = (await db.admin.query('select from_status, to_status from public.lifecycle_events where subject_id = $1 order by event_id', [s.session_id])).rows;
  const path = history.filter((e) => e.from_status !== e.to_status).map((e) => e.to_status);
  assert.deepEqual(path.filter((x) => x !== 'notified'), ['pending', 'starting', 'running', 'stopping', 'stopped']);
}

test('JupyterLab: start → healthy → link with the token only → one email → stop frees the port; token never shown', { skip: skipLab, timeout: 120_000 }, async () => {
  const a = agentFor('lab', { LAB_EMAIL: 'lab@lab.example', SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port) });
  const { r, s } = await startWithTicks(a);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(s.status, 'running');
  assert.equal(s.port, preferredPort(a.base, uid), 'the original rule: base + uid % 100');
  assert.equal(s.app, 'lab');
  await checkServes(s, '/lab');
  assertTokenHidden(a, s.token!);
  // Text output: the link for `url`, no token in `ls`.
  assert.equal((await a.cli(['jupyter', 'url', s.session_id.slice(0, 8)])).stdout.trim(), s.url);
  const ls = await a.cli(['jupyter', 'ls']);
  assert.match(ls.stdout, new RegExp(`${s.session_id.slice(0, 8)}\\s+running`));
  assert.ok(!ls.stdout.includes(s.token!));
  // More ticks: still running, the same process, exactly one email with the link.
  await a.cli(['tick']);
  const again = await row(s.session_id);
  assert.equal(again.status, 'running');
  assert.equal(again.pid, s.pid);
  assert.ok(again.notified_at);
  const mails = smtp.received.filter((m) => readMail(m).text.includes(s.session_id));
  assert.equal(mails.length, 1, 'one email');
  assert.ok(readMail(mails[0]!).text.includes(s.url!), 'the email carries the link');
  assert.equal(readMail(mails[0]!).messageId, `<jupyter-${s.session_id}@lab-job-agent>`, 'one Message-ID per session, the same on every try');
  await checkStopped(a, s);
});

test('legacy Notebook 6 (Debian jupyter, JUPYTER_LEGACY unset): found to be NotebookApp; start → healthy → /tree link → stop', { skip: skipLegacy, timeout: 150_000 }, async () => {
  const a = agentFor('legacy', { LAB_JUPYTER: debianJupyter });
  const { r, s } = await startWithTicks(a, ['--app', 'notebook']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(s.app, 'notebook');
  await checkServes(s, '/tree');
  assert.ok(readFileSync(s.log_path!, 'utf8').includes('NotebookApp'), 'Notebook 6 served it');
  assertTokenHidden(a, s.token!);
  await checkStopped(a, s);
});

test('JUPYTER_LEGACY=false forced on Notebook 6: the server makes its own token; failed at once, its token scrubbed', { skip: skipLegacy, timeout: 200_000 }, async () => {
  const a = agentFor('owntoken', { ...legacyEnv, JUPYTER_LEGACY: 'false', LAB_JUPYTER_START_TIMEOUT: '120' });
  const startedAt = Date.now();
  const { r, s } = await startWithTicks(a);
  assert.equal(r.code, 1, r.stdout);
  assert.ok(Date.now() - startedAt < 60_000, `failed at once, not after the 120 s start timeout (${Date.now() - startedAt} ms)`);
  assert.equal(s.status, 'failed');
  assert.match(s.error_message!, /ignored the agent's token settings and made its own token/);
  assert.match(s.error_message!, /Leave JUPYTER_LEGACY empty/);
  const own = [...readFileSync(join(a.home, 'lab_job_logs', 'jupyter', `${s.session_id}.log`), 'utf8').matchAll(/token=([0-9a-f]{16,})/g)].map((m) => m[1]!);
  assert.ok(own.length > 0, 'the server printed its own token in its log');
  for (const t of own) assert.ok(!s.error_message!.includes(t), 'its token is not in the row');
  assert.ok(!execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(s.session_id), 'the server was stopped');
});

test('jupyter-lab missing (Debian jupyter, app lab): failed at once with the install command and the Notebook that is there', { skip: skipLegacy, timeout: 60_000 }, async () => {
  const a = agentFor('nolab', { LAB_JUPYTER: debianJupyter });
  const { r, s } = await startWithTicks(a);
  assert.equal(r.code, 1);
  assert.equal(s.status, 'failed');
  assert.match(s.error_message!, /jupyter-lab not found next to \/usr\/bin\/jupyter or on your PATH, so a Jupyter lab server cannot start/);
  assert.match(s.error_message!, /Install it with: python3 -m pip install --user jupyterlab/);
  assert.match(s.error_message!, /jupyter start --app notebook/);
  assert.equal(s.pid, null, 'nothing was started');
});

test('preferred port occupied: the next free one is used and reported', { skip: skipLegacy, timeout: 60_000 }, async () => {
  const a = agentFor('busyport', legacyEnv);
  const preferred = preferredPort(a.base, uid);
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(preferred, '127.0.0.1', () => resolve()));
  try {
    const { r, s } = await startWithTicks(a);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.port, preferred + 1);
    assert.equal((await get(s.port!, '/api/status', { Authorization: `token ${s.token}` })).status, 200);
    await checkStopped(a, s);
  } finally {
    await new Promise((res) => blocker.close(res));
  }
});

test('Jupyter missing (LAB_JUPYTER=/nonexistent): failed, saying how to install it', { timeout: 60_000 }, async () => {
  const a = agentFor('nojupyter', { LAB_JUPYTER: '/nonexistent/bin/jupyter' });
  const { r, s } = await startWithTicks(a);
  assert.equal(r.code, 1);
  assert.equal(s.status, 'failed');
  assert.match(s.error_message!, /LAB_JUPYTER is set to \/nonexistent\/bin\/jupyter/);
  assert.match(s.error_message!, /pip install --user jupyterlab/);
  const text = await a.cli(['jupyter', 'start', '--wait', '0']);
  assert.equal(text.code, 1, 'no agent ran: still pending');
  assert.match(text.stderr, /still pending/);
});

test('server killed from outside: noticed on the next tick (SIGKILL → failed with the log; SIGTERM → stopped)', { skip: skipLegacy, timeout: 60_000 }, async () => {
  const a = agentFor('killed', legacyEnv);
  const { s } = await startWithTicks(a);
  assert.equal(s.status, 'running');
  process.kill(-s.pid!, 'SIGKILL');
  await eventually('the server gone', async () => !isAlive(s.pid!), 10_000, 50);
  await a.cli(['tick']);
  const failed = await row(s.session_id);
  assert.equal(failed.status, 'failed');
  assert.match(failed.error_message!, new RegExp(`the Jupyter server \\(pid ${s.pid}\\) is gone: it was killed or crashed`));
  assert.match(failed.error_message!, /last lines of the Jupyter log/);
  assert.ok(!failed.error_message!.includes(s.token!));
  assert.equal(await isPortFree(s.port!, '127.0.0.1'), true);

  const { s: s2 } = await startWithTicks(a);
  assert.equal(s2.status, 'running', 'the place is free again');
  process.kill(s2.pid!, 'SIGTERM');
  await eventually('the server gone', async () => !isAlive(s2.pid!), 10_000, 50);
  await a.cli(['tick']);
  const stopped = await row(s2.session_id);
  assert.equal(stopped.status, 'stopped');
  const reason = (await db.admin.query("select detail from public.lifecycle_events where subject_id = $1 and to_status = 'stopped'", [s2.session_id])).rows[0].detail;
  assert.match(reason.reason, /stopped by signal 15 from outside the agent/);
});

test('LAB_JUPYTER_MAX exceeded: the request fails naming the running session and its link (without the token)', { skip: skipLegacy, timeout: 60_000 }, async () => {
  const a = agentFor('max', legacyEnv);
  const { s: first } = await startWithTicks(a);
  assert.equal(first.status, 'running');
  const { r, s: second } = await startWithTicks(a);
  assert.equal(r.code, 1);
  assert.equal(second.status, 'failed');
  assert.match(second.error_message!, /LAB_JUPYTER_MAX is 1/);
  assert.ok(second.error_message!.includes(first.session_id), 'names the running session');
  assert.ok(second.error_message!.includes(`http://127.0.0.1:${first.port}/tree`), 'and its link');
  assert.ok(!second.error_message!.includes(first.token!), 'but not its token');
  assert.equal(second.port, null, 'nothing was launched');
  await checkStopped(a, first);
});

test('agent killed right after the spawn: the next tick adopts that server, no second one', { skip: skipLegacy, timeout: 60_000 }, async () => {
  const a = agentFor('spawncrash', legacyEnv);
  const req = await a.cli(['jupyter', 'start', '--wait', '0', '--json']);
  const id = (JSON.parse(req.stdout) as SessionRow).session_id;
  const crashed = await a.cli(['tick'], { LAB_FAULT_KILL_AT: 'jupyter-after-spawn' });
  assert.equal(crashed.signal, 'SIGKILL');
  assert.equal((await row(id)).status, 'starting');
  const servers = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`/jupyter/${id}/`);
    } catch {
      return false;
    }
  });
  const orphan = await eventually('the orphaned server', async () => servers()[0], 5000, 50);
  await a.cli(['tick']);
  const s = await row(id);
  assert.equal(s.status, 'running');
  assert.equal(String(s.pid), orphan, 'the same process');
  assert.deepEqual(servers(), [orphan], 'one server for the session');
  assert.match(readFileSync(a.agentLog, 'utf8'), /adopting a Jupyter server launched by an earlier agent run/);
  await checkStopped(a, s);
});

test('supervise: request → running; supervisor killed and restarted → the session is adopted (same pid); stop', { skip: skipLab, timeout: 120_000 }, async () => {
  const a = agentFor('restart');
  let sup = a.spawn(['supervise', '--trace']);
  const started = await a.cli(['jupyter', 'start', '--json']);
  assert.equal(started.code, 0, started.stderr + sup.output());
  const s = JSON.parse(started.stdout) as SessionRow;
  assert.equal(s.status, 'running');
  sup.kill('SIGKILL');
  await exited(sup);
  sup = a.spawn(['supervise', '--trace']);
  try {
    // The new supervisor's first pass checks the session (a trace line running.waiting → running.probing).
    await eventually('the new supervisor to check the session', async () => {
      const parts = readFileSync(a.agentLog, 'utf8').split('supervisor started');
      return parts.length >= 3 && parts.at(-1)!.split('\n').some((l) => l.includes(`"id":"${s.session_id}"`) && l.includes('"from":"running.waiting","to":"running.probing"'));
    }, 30_000);
    const adopted = await row(s.session_id);
    assert.equal(adopted.status, 'running');
    assert.equal(adopted.pid, s.pid, 'the same server');
    assert.equal((await get(s.port!, '/api/status', { Authorization: `token ${s.token}` })).status, 200);
    const stop = await a.cli(['jupyter', 'stop', s.session_id, '--json']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((JSON.parse(stop.stdout) as SessionRow).status, 'stopped');
    assert.equal(isAlive(s.pid!), false);
    assert.equal(await isPortFree(s.port!, '127.0.0.1'), true);
    assertTokenHidden(a, s.token!);
  } finally {
    sup.kill('SIGTERM');
    await exited(sup);
  }
});

// Jupyter checks for inactivity once a minute, so this takes one to two minutes, mostly waiting
// (other files run meanwhile): always, as `npm test` runs everything that can run here.
test('idle shutdown (LAB_JUPYTER_IDLE_MIN=1): Jupyter stops itself, the next tick marks the session stopped', { skip: skipLegacy, timeout: 240_000 }, async () => {
  const a = agentFor('idle', { ...legacyEnv, LAB_JUPYTER_IDLE_MIN: '1' });
  const { s } = await startWithTicks(a);
  assert.equal(s.status, 'running');
  const ended = await eventually('the idle shutdown to be noticed', async () => {
    await a.cli(['tick']);
    const r = await row(s.session_id);
    return r.status === 'running' ? null : r;
  }, 200_000, 5000);
  assert.equal(ended.status, 'stopped');
  const detail = (await db.admin.query("select detail from public.lifecycle_events where subject_id = $1 and to_status = 'stopped'", [s.session_id])).rows[0].detail;
  assert.match(detail.reason, /^idle: Jupyter shut itself down after 1 min/);
  assert.equal(await isPortFree(s.port!, '127.0.0.1'), true);
});
