// Real Jupyter servers: JupyterLab (Jupyter Server 2) from the test venv and Debian's legacy
// Notebook 6. Each runs in a throwaway HOME / JUPYTER_* folders, bound to free ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hasLegacyJupyter, hasTestJupyter, legacyJupyter, repoRoot, requirePart, testJupyter } from './helpers/required.js';
import { JupyterError } from '../src/services/jupyter/errors.js';
import { checkHealth, waitHealthy } from '../src/services/jupyter/health.js';
import { jupyterLink } from '../src/services/jupyter/link.js';
import { launchJupyter, type JupyterAppKind, type LaunchResult } from '../src/services/jupyter/launch.js';
import { isPortFree, pickFreePort, preferredPort, waitPortFree } from '../src/services/jupyter/ports.js';
import { stopJupyter } from '../src/services/jupyter/stop.js';
import { descendants, groupMembers } from '../src/services/jupyter/proc.js';
import { isAlive } from '../src/services/host/process-identity.js';

const skipLab = requirePart('JupyterLab', hasTestJupyter, 'make the test venv: scripts/test-venv.sh (npm test does it when .venv is missing)');
const skipLegacy = requirePart('legacy Notebook 6', hasLegacyJupyter, 'apt-get install jupyter-notebook (Debian/Ubuntu)');
// Debian's package installs /usr/bin/jupyter (jupyter_core) next to /usr/bin/jupyter-notebook.
const debianJupyter = '/usr/bin/jupyter';

const uid = process.getuid?.() ?? 1000;
const BASE = 28800; // away from the 8800 default so a real agent on this machine is not disturbed
const HEALTHY_MS = 90_000; // a generous liveness bound, not a timing assertion

function isolated(): { root: string; home: string; env: NodeJS.ProcessEnv; logDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'jupyter-test-'));
  const home = join(root, 'home');
  mkdirSync(home, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    HOME: home,
    JUPYTER_RUNTIME_DIR: join(root, 'runtime'),
    JUPYTER_CONFIG_DIR: join(root, 'config'),
    JUPYTER_DATA_DIR: join(root, 'data'),
    IPYTHONDIR: join(root, 'ipython'),
  };
  // A kernel that leaves a child behind in its own process group (as a training script
  // started from a notebook would), to check that stopping a session reaches it.
  if (hasTestJupyter) {
    const spec = join(root, 'data', 'kernels', 'sleepy');
    mkdirSync(spec, { recursive: true });
    const python = join(testJupyter, '..', 'python');
    const argv = ['/bin/sh', '-c', `sleep 300 & exec ${python} -m ipykernel_launcher -f "$0"`, '{connection_file}'];
    writeFileSync(join(spec, 'kernel.json'), JSON.stringify({ argv, display_name: 'sleepy', language: 'python' }));
  }
  return { root, home, env, logDir: join(home, 'lab_job_logs', 'jupyter') };
}

interface Started extends LaunchResult {
  port: number;
  token: string;
  logFile: string;
  root: string;
  ip: string;
}

async function start(opts: { jupyterPath: string; app: JupyterAppKind; legacy: boolean; ip?: string; idleMinutes?: number; extraEnv?: NodeJS.ProcessEnv }): Promise<Started> {
  const iso = isolated();
  const ip = opts.ip ?? '127.0.0.1';
  const port = await pickFreePort({ basePort: BASE, uid, host: ip });
  const token = randomBytes(24).toString('hex');
  const sessionId = `t-${randomBytes(6).toString('hex')}`;
  const logFile = join(iso.logDir, `${sessionId}.log`);
  const launched = await launchJupyter({
    sessionId,
    jupyterPath: opts.jupyterPath,
    app: opts.app,
    legacy: opts.legacy,
    port,
    ip,
    dir: iso.home,
    token,
    idleMinutes: opts.idleMinutes ?? 2,
    logFile,
    env: { ...iso.env, ...opts.extraEnv },
  });
  return { ...launched, port, token, logFile, root: iso.root, ip };
}

async function cleanup(s: Started): Promise<void> {
  await stopJupyter({ pgid: s.pgid, pid: s.pid, startTime: s.startTime, port: s.port, graceMs: 3000, host: s.ip });
  rmSync(s.root, { recursive: true, force: true });
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { Connection: 'close', ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Starts the 'sleepy' kernel through the REST API; resolves with the pid of its `sleep` child. */
async function startSleepyKernel(s: Started): Promise<number> {
  const res = await get(s.port, '/api/kernels', { Authorization: `token ${s.token}`, 'Content-Type': 'application/json' }, 'POST', JSON.stringify({ name: 'sleepy' }));
  assert.equal(res.status, 201, res.body);
  const deadline = Date.now() + 60_000;
  for (;;) {
    // A descendant may end between the listing and the read (the kernel's start-up helpers): not the sleeper.
    const sleeper = descendants(s.pid).find((p) => commOf(p.pid) === 'sleep');
    if (sleeper) return sleeper.pid;
    assert.ok(Date.now() < deadline, 'kernel child never appeared');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

/** The checks every real server must pass: auth, token secrecy, private files, idle config. */
async function checkRunningServer(s: Started, uiPath: string, legacy: boolean): Promise<void> {
  await waitHealthy({ port: s.port, token: s.token, host: s.ip, legacy, timeoutMs: HEALTHY_MS, pid: s.pid, startTime: s.startTime, logFile: s.logFile });
  assert.equal(s.pgid, s.pid, 'the server leads its own process group');

  const ok = await get(s.port, '/api/status', { Authorization: `token ${s.token}` });
  assert.equal(ok.status, 200);
  assert.ok('started' in JSON.parse(ok.body));
  const anon = await get(s.port, '/api/status');
  assert.ok(anon.status === 403 || anon.status === 401, `no token → ${anon.status}`);
  const wrong = await get(s.port, '/api/status', { Authorization: 'token wrong-token-0123456789' });
  assert.ok(wrong.status === 403 || wrong.status === 401, `wrong token → ${wrong.status}`);
  const ui = await get(s.port, uiPath);
  assert.equal(ui.status, 302, `${uiPath} without token should redirect to login`);
  assert.match(ui.location ?? '', /\/login/);

  // The token is on no command line and in no log.
  const psOut = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  assert.ok(psOut.includes(`--port=${s.port}`), 'ps shows the server');
  assert.ok(!psOut.includes(s.token), 'token visible in ps output');
  const cmdline = readFileSync(`/proc/${s.pid}/cmdline`, 'utf8');
  assert.ok(cmdline.includes(`--port=${s.port}`));
  assert.ok(!cmdline.includes(s.token), 'token in /proc/<pid>/cmdline');
  assert.ok(!readFileSync(`/proc/${s.pid}/environ`, 'utf8').includes(s.token), 'token in the environment');
  assert.ok(!readFileSync(s.logFile, 'utf8').includes(s.token), 'token in the server log');

  // Private files; idle settings in the generated config, and Jupyter read them.
  assert.equal(modeOf(s.configFile), 0o600);
  assert.equal(modeOf(join(s.configFile, '..')), 0o700);
  assert.equal(modeOf(join(s.logFile, '..')), 0o700);
  assert.equal(modeOf(s.logFile), 0o600);
  const cfg = JSON.parse(readFileSync(s.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
  const appSection = legacy ? 'NotebookApp' : 'ServerApp';
  assert.equal(cfg[appSection]?.shutdown_no_activity_timeout, 120);
  assert.equal(cfg.MappingKernelManager?.cull_idle_timeout, 120);
  assert.ok(Number(cfg.MappingKernelManager?.cull_interval) > 0);
  assert.equal(cfg.TerminalManager?.cull_inactive_timeout, 120);
  assert.match(readFileSync(s.logFile, 'utf8'), /Will shut down after 120 seconds/);
}

async function stopAndCheck(s: Started): Promise<void> {
  const res = await stopJupyter({ pgid: s.pgid, pid: s.pid, startTime: s.startTime, port: s.port, graceMs: 15_000, host: s.ip, configFile: s.configFile });
  assert.equal(res.killed, 'term');
  assert.equal(res.portFree, true);
  assert.equal(isAlive(s.pid), false);
  assert.deepEqual(groupMembers(s.pgid), []);
  assert.equal(existsSync(s.configFile), false, 'the config holding the token is removed');
  assert.equal(await checkHealth({ port: s.port, token: s.token }), false);
}

test('ports: preferred rule, next free when taken, clear error when none', async () => {
  assert.equal(preferredPort(8800, 1005), 8805);
  assert.equal(preferredPort(8800, 1099), 8899);
  const held: Server[] = [];
  const hold = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => resolve());
      held.push(srv);
    });
  let free = 0;
  try {
    const preferred = preferredPort(BASE + 200, uid);
    free = await pickFreePort({ basePort: BASE + 200, uid, range: 50, host: '127.0.0.1' });
    assert.ok(free >= preferred && free < preferred + 50);
    await hold(free);
    assert.equal(await isPortFree(free, '127.0.0.1'), false);
    assert.equal(await isPortFree(free, '0.0.0.0'), false, 'a 127.0.0.1 listener blocks a 0.0.0.0 bind');
    const next = await pickFreePort({ basePort: free - (uid % 100), uid, range: 50, host: '127.0.0.1' });
    assert.ok(next > free, `expected a port after ${free}, got ${next}`);
    // Fill a 3-port window completely.
    const first = next + 1;
    for (const p of [first, first + 1, first + 2]) if (await isPortFree(p, '127.0.0.1')) await hold(p);
    await assert.rejects(pickFreePort({ basePort: first - (uid % 100), uid, range: 3, host: '127.0.0.1' }), (err: Error) => {
      assert.match(err.message, new RegExp(`no free port in ${first}–${first + 2}`));
      return true;
    });
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
  assert.equal(await waitPortFree(free, 5000, '127.0.0.1'), true, 'free again once the listener closed');
});

test('missing jupyter executable or root dir gives a clear error', async () => {
  const iso = isolated();
  try {
    const base = {
      sessionId: 'missing-1',
      app: 'lab' as const,
      legacy: false,
      port: 28999,
      ip: '127.0.0.1',
      dir: iso.home,
      token: 'x'.repeat(32),
      idleMinutes: 5,
      logFile: join(iso.logDir, 'missing-1.log'),
      env: iso.env,
    };
    await assert.rejects(launchJupyter({ ...base, jupyterPath: join(iso.root, 'no-such-venv', 'bin', 'jupyter') }), (err: unknown) => {
      assert.ok(err instanceof JupyterError);
      assert.equal(err.kind, 'not-found');
      assert.match(err.message, /Jupyter not found or not executable: .*no-such-venv\/bin\/jupyter/);
      return true;
    });
    // A jupyter script whose Python is gone (a deleted venv) fails at exec time.
    const orphanScript = join(iso.root, 'jupyter');
    writeFileSync(orphanScript, '#!/nonexistent/venv/bin/python\n', { mode: 0o755 });
    await assert.rejects(launchJupyter({ ...base, jupyterPath: orphanScript }), (err: unknown) => {
      assert.ok(err instanceof JupyterError);
      assert.equal(err.kind, 'not-found');
      assert.match(err.message, /interpreter is missing/);
      return true;
    });
    await assert.rejects(launchJupyter({ ...base, jupyterPath: '/bin/true', dir: join(iso.root, 'nope') }), /root directory does not exist/);
    await assert.rejects(launchJupyter({ ...base, jupyterPath: '/bin/true', token: 'short' }), /at least 16 characters/);
    await assert.rejects(launchJupyter({ ...base, jupyterPath: '/bin/true', sessionId: '../etc' }), /invalid session id/);
  } finally {
    rmSync(iso.root, { recursive: true, force: true });
  }
});

test('JupyterLab: healthy, token-protected, token never visible, kernels and their children stopped with it', { skip: skipLab, timeout: 120_000 }, async () => {
  // A stale JUPYTER_TOKEN in the caller's environment must neither win nor reach the server.
  const s = await start({ jupyterPath: testJupyter, app: 'lab', legacy: false, extraEnv: { JUPYTER_TOKEN: 'stale-env-token-0123456789' } });
  try {
    await checkRunningServer(s, '/lab', false);
    const stale = await get(s.port, '/api/status', { Authorization: 'token stale-env-token-0123456789' });
    assert.equal(stale.status, 403);
    assert.equal(jupyterLink({ ip: '0.0.0.0', publicHost: 'gpu1.lab', port: s.port, token: s.token, app: 'lab', linuxUser: 'u' }).url, `http://gpu1.lab:${s.port}/lab?token=${s.token}`);
    // Jupyter starts kernels in sessions of their own: the stop must still reach them and their children.
    const sleeper = await startSleepyKernel(s);
    const kernelPids = descendants(s.pid).map((p) => p.pid);
    assert.ok(groupMembers(s.pgid).every((p) => p.pid !== sleeper), 'the kernel is not in the server group');
    await stopAndCheck(s);
    assert.equal(isAlive(sleeper), false, 'the kernel child is gone');
    for (const k of kernelPids) assert.equal(isAlive(k), false, `kernel process ${k} is gone`);
  } finally {
    await cleanup(s);
  }
});

test('legacy Notebook 6 via /usr/bin/jupyter notebook: healthy, token-protected, token never visible', { skip: skipLegacy, timeout: 120_000 }, async () => {
  const s = await start({ jupyterPath: debianJupyter, app: 'notebook', legacy: true });
  try {
    assert.deepEqual(s.args.slice(0, 2), ['notebook', '--no-browser']);
    assert.ok(s.args.includes('--NotebookApp.port_retries=0'));
    await checkRunningServer(s, '/tree', true);
    assert.equal(jupyterLink({ ip: '0.0.0.0', publicHost: 'gpu1.lab', port: s.port, token: s.token, app: 'notebook', linuxUser: 'u' }).url, `http://gpu1.lab:${s.port}/tree?token=${s.token}`);
    await stopAndCheck(s);
  } finally {
    await cleanup(s);
  }
});

test('legacy /usr/bin/jupyter-notebook directly, launched by a process that then exits', { skip: skipLegacy, timeout: 120_000 }, async () => {
  const iso = isolated();
  const port = await pickFreePort({ basePort: BASE, uid, host: '127.0.0.1' });
  const token = randomBytes(24).toString('hex');
  const logFile = join(iso.logDir, 'detached.log');
  const opts = { sessionId: 'detached', jupyterPath: legacyJupyter, app: 'notebook', legacy: true, port, ip: '127.0.0.1', dir: iso.home, token, idleMinutes: 2, logFile, env: iso.env };
  const code = `const { launchJupyter } = await import(${JSON.stringify(join(repoRoot, 'src/services/jupyter/launch.ts'))});
    const r = await launchJupyter(JSON.parse(process.env.LAUNCH_OPTS));
    process.stdout.write(JSON.stringify(r));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: repoRoot,
    env: { ...process.env, LAUNCH_OPTS: JSON.stringify(opts) },
  });
  const r = JSON.parse(stdout) as LaunchResult;
  const s: Started = { ...r, port, token, logFile, root: iso.root, ip: '127.0.0.1' };
  try {
    assert.equal(r.args[0], '--no-browser', 'jupyter-notebook gets no subcommand');
    // The launcher has exited; the server lives on in its own session.
    await waitHealthy({ port, token, legacy: true, timeoutMs: HEALTHY_MS, pid: r.pid, startTime: r.startTime, logFile });
    assert.equal(await checkHealth({ port, token, legacy: true }), true);
    await stopAndCheck(s);
  } finally {
    await cleanup(s);
  }
});

test('jupyter server on 0.0.0.0 killed from outside: unhealthy, gone, stop reports already-dead and reaps the orphaned kernel', { skip: skipLab, timeout: 120_000 }, async () => {
  const s = await start({ jupyterPath: testJupyter, app: 'server', legacy: false, ip: '0.0.0.0' });
  try {
    assert.equal(s.args[0], 'server');
    await waitHealthy({ port: s.port, token: s.token, host: '0.0.0.0', timeoutMs: HEALTHY_MS, pid: s.pid, startTime: s.startTime, logFile: s.logFile });
    assert.equal(jupyterLink({ ip: '0.0.0.0', publicHost: 'gpu1.lab', port: s.port, token: s.token, app: 'server', linuxUser: 'u' }).url, `http://gpu1.lab:${s.port}/?token=${s.token}`);
    const sleeper = await startSleepyKernel(s);
    process.kill(-s.pgid, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (isAlive(s.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(isAlive(s.pid), false);
    assert.equal(await checkHealth({ port: s.port, token: s.token, host: '0.0.0.0' }), false);
    assert.equal(isAlive(sleeper), true, 'the orphaned kernel child outlives the server');
    const res = await stopJupyter({ pgid: s.pgid, pid: s.pid, startTime: s.startTime, port: s.port, configFile: s.configFile });
    assert.equal(res.killed, 'already-dead');
    assert.equal(res.portFree, true);
    assert.ok(res.leftovers >= 1, 'the orphan was found by JPY_PARENT_PID');
    assert.equal(isAlive(sleeper), false, 'and killed');
  } finally {
    await cleanup(s);
  }
});

test('port taken after the pick: Jupyter exits (no port retries) and waitHealthy says why at once', { skip: skipLegacy, timeout: 120_000 }, async () => {
  const iso = isolated();
  // It accepts connections and never answers: health probes must time out, not hang.
  const accepted = new Set<import('node:net').Socket>();
  const blocker = createServer((sock) => accepted.add(sock));
  const port = await pickFreePort({ basePort: BASE, uid, host: '127.0.0.1' });
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', () => resolve()));
  const token = randomBytes(24).toString('hex');
  const logFile = join(iso.logDir, 'taken.log');
  try {
    const r = await launchJupyter({ sessionId: 'taken', jupyterPath: legacyJupyter, app: 'notebook', legacy: true, port, ip: '127.0.0.1', dir: iso.home, token, idleMinutes: 0, logFile, env: iso.env });
    await assert.rejects(waitHealthy({ port, token, timeoutMs: HEALTHY_MS, pid: r.pid, startTime: r.startTime, logFile }), (err: unknown) => {
      assert.ok(err instanceof JupyterError);
      assert.equal(err.kind, 'exited');
      assert.match(err.logTail ?? '', /already in use/);
      assert.ok(!err.message.includes(token));
      return true;
    });
  } finally {
    for (const sock of accepted) sock.destroy();
    await new Promise((r) => blocker.close(r));
    rmSync(iso.root, { recursive: true, force: true });
  }
});

test('stop never signals a process that reused the pid', async () => {
  const sleeper = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  await new Promise((r) => sleeper.once('spawn', r));
  const pid = sleeper.pid!;
  try {
    const res = await stopJupyter({ pgid: pid, pid, startTime: '1', port: 28998, graceMs: 500, portWaitMs: 500 });
    assert.equal(res.killed, 'already-dead');
    assert.equal(isAlive(pid), true, 'the unrelated process is untouched');
  } finally {
    process.kill(-pid, 'SIGKILL');
  }
});
