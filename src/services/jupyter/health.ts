// Is the server up and is it ours? /api/status answers 200 only with the right token (Jupyter
// Server and Notebook 6 alike). The token travels in the Authorization header, never in the
// query string, so it cannot land in an access log.
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { readTail } from '../host/tail.js';
import { JupyterError, printedTokens, scrubbedTail } from './errors.js';
import { isAlive, isSameProcess } from '../host/process-identity.js';
import type { JupyterAppKind } from './launch.js';

export interface HealthOptions {
  port: number;
  token: string;
  /** Where to connect; a wildcard bind address (0.0.0.0, ::) is probed on loopback. */
  host?: string;
  /** Kept for symmetry with launch: both apps serve /api/status. */
  legacy?: boolean;
  /** Per-request limit (default 3000 ms). */
  requestTimeoutMs?: number;
}

/** Loopback for wildcard addresses; brackets for IPv6 literals. */
function probeHost(host: string | undefined): string {
  if (!host || host === '0.0.0.0' || host === '*') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host.replace(/^\[(.*)\]$/, '$1');
}

/** The HTTP status of GET /api/status with the token, or null when nothing answers. */
export function probeStatus(opts: HealthOptions): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: probeHost(opts.host),
        port: opts.port,
        path: '/api/status',
        method: 'GET',
        headers: { Authorization: `token ${opts.token}`, Connection: 'close' },
        agent: false,
        timeout: opts.requestTimeoutMs ?? 3000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? null);
      },
    );
    // A listener that accepts but never answers (not a Jupyter server) must not hang the probe.
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(null));
    req.on('close', () => resolve(null)); // no-op when already resolved
    req.end();
  });
}

/** True when the server answers 200 on /api/status with this token. */
export async function checkHealth(opts: HealthOptions): Promise<boolean> {
  return (await probeStatus(opts)) === 200;
}

export interface WaitHealthyOptions extends HealthOptions {
  timeoutMs: number;
  /** The server's pid: stop waiting as soon as it is gone. */
  pid?: number;
  /** With pid: a reused pid counts as gone. */
  startTime?: string;
  intervalMs?: number;
  /** Its last lines become the reason when the server exits or never answers. */
  logFile?: string;
  /** Instead of pid: says whether the server has gone (one that runs on another node). */
  gone?: () => boolean;
}

/**
 * A server refusing our token that printed a token of its own ignored the config file the agent
 * gave it (a classic NotebookApp given ServerApp settings, or the other way round): it will never
 * accept ours, so fail now instead of at the timeout. Its token is scrubbed from the message too.
 */
async function failOnOwnToken(logFile: string, token: string, port: number): Promise<void> {
  const own = printedTokens(await readTail(logFile, { maxLines: 200, maxBytes: 65536 }).catch(() => ''), token);
  if (!own.length) return;
  throw new JupyterError(
    'own-token',
    `the Jupyter server on port ${port} ignored the agent's token settings and made its own token, so the agent cannot vouch for it: ` +
      'it is a classic Notebook (NotebookApp) run with Jupyter Server settings, or the other way round. ' +
      'Leave JUPYTER_LEGACY empty in the agent\'s .env so the agent sees which one is installed (true only for Notebook 6 and older).',
    await scrubbedTail(logFile, [token, ...own]),
  );
}

/**
 * Resolves once healthy; rejects with JupyterError 'exited' as soon as the process is gone, or
 * 'timeout' after timeoutMs. The log tail in the error has the token scrubbed.
 */
export async function waitHealthy(opts: WaitHealthyOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 200;
  const tail = async (): Promise<string | undefined> => (opts.logFile ? await scrubbedTail(opts.logFile, [opts.token]) : undefined);
  const gone = opts.gone ?? ((): boolean =>
    opts.pid !== undefined && (opts.startTime !== undefined ? !isSameProcess(opts.pid, opts.startTime) : !isAlive(opts.pid)));
  let last: number | null = null;
  for (;;) {
    // Short probes while waiting, so a dead server is noticed promptly even if something else
    // holds the port and never answers.
    last = await probeStatus({ ...opts, requestTimeoutMs: opts.requestTimeoutMs ?? 1000 });
    if (last === 200) return;
    if (last === 403 && opts.logFile) await failOnOwnToken(opts.logFile, opts.token, opts.port);
    if (gone()) {
      throw new JupyterError('exited', `Jupyter (${opts.pid === undefined ? `on ${opts.host}` : `pid ${opts.pid}`}) exited before answering on port ${opts.port}`, await tail());
    }
    if (Date.now() >= deadline) {
      const answer = last === null ? 'nothing answered' : `/api/status answered ${last}${last === 403 ? ' (token refused: is another server on this port?)' : ''}`;
      throw new JupyterError('timeout', `Jupyter not healthy on port ${opts.port} after ${opts.timeoutMs} ms: ${answer}`, await tail());
    }
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
}
