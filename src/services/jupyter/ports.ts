// Port choice for a user's Jupyter server. The original agent used base + uid % 100 and never
// checked it; here the preferred port is tried first and the next free one in a window is taken.
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** The original agent's rule: JUPYTER_BASE_PORT + uid % 100. */
export function preferredPort(basePort: number, uid: number): number {
  return basePort + (uid % 100);
}

/**
 * True when a listening socket can be bound to port on host right now. Node sets SO_REUSEADDR
 * like Tornado does, so this agrees with Jupyter's own bind (TIME_WAIT leftovers do not count).
 * host '0.0.0.0' (the default, JUPYTER_IP's default) also collides with any IPv4 address in use.
 */
export function isPortFree(port: number, host = '0.0.0.0'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    });
    server.listen({ port, host }, () => {
      server.close(() => resolve(true));
    });
  });
}

export interface PickPortOptions {
  basePort: number;
  uid: number;
  /** Size of the window of candidates starting at the preferred port. */
  range?: number;
  /** The address Jupyter will bind (its --ip). */
  host?: string;
}

/**
 * The preferred port if free, else the first free one in [preferred, preferred + range): `range`
 * (LAB_JUPYTER_PORT_RANGE) is the number of ports tried, the preferred one included.
 * There is a window between this check and Jupyter's bind: Jupyter runs with port_retries=0, so
 * losing that race makes the start fail visibly (and the caller may pick again) rather than
 * silently serving on a port nobody was told about.
 */
export async function pickFreePort(opts: PickPortOptions): Promise<number> {
  const range = opts.range ?? 100;
  const host = opts.host ?? '0.0.0.0';
  if (!Number.isInteger(opts.basePort) || opts.basePort < 1 || opts.basePort > 65535) {
    throw new Error(`invalid Jupyter base port ${opts.basePort}`);
  }
  if (!Number.isInteger(range) || range < 1) throw new Error(`invalid port range ${range}`);
  const first = preferredPort(opts.basePort, opts.uid);
  const last = Math.min(first + range - 1, 65535);
  for (let port = first; port <= last; port++) {
    if (await isPortFree(port, host)) return port;
  }
  throw new Error(
    `no free port in ${first}–${last} on ${host} (preferred ${first} = base ${opts.basePort} + uid ${opts.uid} % 100); ` +
      'stop an old Jupyter server or set JUPYTER_BASE_PORT to another range',
  );
}

/** Polls until the port can be bound again; false when timeoutMs passes first. */
export async function waitPortFree(port: number, timeoutMs: number, host = '0.0.0.0', intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await isPortFree(port, host)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}
