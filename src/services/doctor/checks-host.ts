// Doctor checks of this machine: Python and Jupyter as a job would find them (the login PATH, not
// cron's), the mail server, the Jupyter port window, the log folders, and the JUPYTER_IP warning.
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { importPackage } from '../import-package.js';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { agentLogFile } from '../agent/agent-process.js';
import type { Config } from '../config.js';
import { isPortFree, preferredPort } from '../jupyter/ports.js';
import { createMailer } from '../mailer.js';
import { rotationOptions } from '../rotating-file.js';
import { loginEnvironment } from '../host/login-env.js';
import { findJupyter, findPython } from '../runner/interpreter.js';
import { findEntryPoint, installCommand } from '../jupyter/installed.js';
import { result, tildify, withTimeout, type CheckResult } from './types.js';

/** The first line a `--version` prints (some print it on stderr); '' when it does not run. */
async function version(exe: string, args: string[]): Promise<string> {
  const { execa } = await importPackage<typeof import('execa')>('execa');
  const r = await execa(exe, args, { timeout: 10_000, reject: false, stdin: 'ignore', all: true });
  return r.failed ? '' : (r.all.trim().split('\n')[0] ?? '');
}

export async function checkPython(config: Config): Promise<CheckResult> {
  const env = await loginEnvironment(config.home);
  try {
    // As for a script directly in home: LAB_PYTHON, a venv in home, else python3 on the login PATH.
    const found = findPython(join(config.home, 'script.py'), { home: config.home, env, labPython: config.python || undefined });
    const v = await version(found.path, ['--version']);
    if (!v) return result('python', 'Python', 'fail', `${found.path} (${found.source}) does not run`, 'fix or reinstall it, or set LAB_PYTHON=/path/to/python in .env');
    return result('python', 'Python', 'ok', `${tildify(found.path, config.home)} (${v}, from ${found.source}); a script's own .venv/venv wins`, undefined, { path: found.path, source: found.source, version: v });
  } catch (err) {
    return result('python', 'Python', 'fail', (err as Error).message.split('. ')[0]!, 'set LAB_PYTHON=/path/to/python in .env, or ask your admin to install python3');
  }
}

export async function checkJupyter(config: Config): Promise<CheckResult> {
  const env = await loginEnvironment(config.home);
  let found;
  try {
    found = findJupyter(join(config.home, 'notebook.ipynb'), { home: config.home, env, labJupyter: config.jupyter.executable || undefined });
  } catch {
    // Only notebooks and Jupyter requests need it: a warning, not a failure.
    return result('jupyter', 'Jupyter', 'warn', 'no jupyter found (notebooks and Jupyter requests will fail; .py jobs are fine)',
      'python3 -m pip install --user jupyterlab nbconvert ipykernel, or set LAB_JUPYTER=/path/to/jupyter in .env');
  }
  const sub = (name: string) => findEntryPoint(found.path, name, env.PATH) !== null;
  const app = config.jupyter.app;
  const missing = [app, 'nbconvert'].filter((s) => !sub(s));
  const detail = `${tildify(found.path, config.home)} (from ${found.source}); ${app} ${sub(app) ? 'yes' : 'missing'}, nbconvert ${sub('nbconvert') ? 'yes' : 'missing'}`;
  const data = { path: found.path, source: found.source, app, missing };
  if (missing.length) {
    return result('jupyter', 'Jupyter', 'warn', detail,
      `${installCommand(found.path, missing.map((m) => (m === 'lab' ? 'jupyterlab' : m)))}, or set LAB_JUPYTER_APP to what is installed`, data);
  }
  return result('jupyter', 'Jupyter', 'ok', detail, undefined, data);
}

export async function checkSmtp(config: Config): Promise<CheckResult> {
  const { host, port, secure, user, pass, from } = config.smtp;
  const where = `${host}:${port}`;
  if (!config.email) return result('smtp', 'SMTP', 'skip', 'LAB_EMAIL is empty: no email is sent', 'set LAB_EMAIL=you@example.ac.jp in .env to get an email when a run ends');
  const mailer = createMailer({ host, port, secure, user, pass, from, timeoutMs: 5000 });
  try {
    // Connect, greeting, EHLO, STARTTLS and AUTH when configured; nothing is sent.
    await withTimeout(mailer.verify(), 15_000, `SMTP server ${where}`);
    return result('smtp', 'SMTP', 'ok', `${where} answers; results go to ${config.email}`, undefined, { host, port });
  } catch (err) {
    return result('smtp', 'SMTP', 'fail', `${where}: ${(err as Error).message}`,
      'set SMTP_HOST/SMTP_PORT (and SMTP_USER/SMTP_PASS) in .env to your lab\'s mail relay; ask your admin which one', { host, port });
  } finally {
    mailer.close();
  }
}

export async function checkPorts(config: Config): Promise<CheckResult> {
  const { basePort, portRange, ip } = config.jupyter;
  const first = preferredPort(basePort, userInfo().uid);
  const last = Math.min(first + portRange - 1, 65535);
  let free = 0;
  let firstFree: number | null = null;
  try {
    for (let p = first; p <= last; p++) {
      if (await isPortFree(p, ip)) {
        free++;
        firstFree ??= p;
      }
    }
  } catch (err) {
    return result('ports', 'Jupyter ports', 'fail', `cannot listen on ${ip}: ${(err as Error).message}`, 'set JUPYTER_IP to an address of this machine (127.0.0.1 or 0.0.0.0)');
  }
  const detail = `${free} of ${last - first + 1} free in ${first}–${last} on ${ip} (preferred ${first} = ${basePort} + uid % 100${firstFree === first ? ', free' : ', in use'})`;
  const data = { first, last, free, firstFree, ip };
  if (!free) return result('ports', 'Jupyter ports', 'fail', detail, 'stop old Jupyter servers (`jupyter server list`), or set JUPYTER_BASE_PORT to another range', data);
  if (firstFree !== first) return result('ports', 'Jupyter ports', 'warn', detail, `the next free port (${firstFree}) will be used; stop whatever holds ${first} if it is an old server of yours`, data);
  return result('ports', 'Jupyter ports', 'ok', detail, undefined, data);
}

function writable(dir: string): string | null {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.doctor-${process.pid}`);
    writeFileSync(probe, 'ok', { mode: 0o600 });
    rmSync(probe);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export function checkLogs(config: Config): CheckResult {
  const problems: string[] = [];
  // agent.log's folder (the agent folder, or LAB_DATA_DIR for a clone run before any install): never made just to check it.
  const agentLogDir = dirname(agentLogFile(config));
  for (const [key, dir] of [['LAB_LOG_DIR', config.logDir], [agentLogDir === config.agentDir ? 'LAB_AGENT_DIR' : 'LAB_DATA_DIR', agentLogDir]] as const) {
    const why = writable(dir);
    if (why) problems.push(`${key} ${dir}: ${why}`);
  }
  const { maxBytes, keep } = rotationOptions(config.values);
  const rotation = `agent.log rotated at ${(maxBytes / 1048576).toFixed(maxBytes < 1048576 ? 3 : 0)} MB, ${keep} kept`;
  if (problems.length) return result('logs', 'log folders', 'fail', problems.join('; '), 'make the folder yours and writable, or point LAB_LOG_DIR / LAB_AGENT_DIR elsewhere');
  let freeBytes = 0;
  try {
    const s = statfsSync(config.logDir);
    freeBytes = s.bavail * s.bsize;
  } catch {
    /* statfs unsupported: no free-space note */
  }
  const gb = (freeBytes / 1e9).toFixed(1);
  const detail = `${tildify(config.logDir, config.home)} and ${tildify(agentLogDir, config.home)} (agent.log) writable, ${gb} GB free; ${rotation}`;
  const data = { logDir: config.logDir, agentDir: config.agentDir, agentLog: agentLogFile(config), freeBytes, maxBytes, keep };
  if (freeBytes && freeBytes < 1e9) return result('logs', 'log folders', 'warn', detail, 'less than 1 GB free for job logs: clean up old runs in LAB_LOG_DIR', data);
  return result('logs', 'log folders', 'ok', detail, undefined, data);
}

export function checkJupyterIp(config: Config): CheckResult {
  const ip = config.jupyter.ip;
  if (ip === '0.0.0.0' || ip === '::') {
    return result('jupyter-ip', 'JUPYTER_IP', 'warn', `${ip}: Jupyter servers listen on every network, guarded by their token only`,
      'set JUPYTER_IP=127.0.0.1 in .env: links then name 127.0.0.1 and come with the `ssh -N -L <port>:127.0.0.1:<port>` tunnel to open them through');
  }
  return result('jupyter-ip', 'JUPYTER_IP', 'ok', `${ip}`);
}
