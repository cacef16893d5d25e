// What the agent keeps on disk about a session's server between ticks, before the row can hold it
// (the row gets port, token and pid only once the server is healthy): the token, the port and,
// once spawned, pid and start time. Written before the spawn, so an agent that dies right after
// it leaves enough behind for the next tick to find the server rather than start a second one.
// Lives next to the session's Jupyter config, mode 0600 in a 0700 folder (it holds the token).
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processIds, processStartTime } from '../host/process-identity.js';
import { defaultRuntimeDir, type JupyterAppKind } from './launch.js';

export interface SessionRecord {
  sessionId: string;
  port: number;
  token: string;
  /** The address the server binds (JUPYTER_IP at launch). */
  ip: string;
  app: JupyterAppKind;
  legacy: boolean;
  logFile: string;
  /** Epoch ms: the start timeout counts from here. */
  launchedAt: number;
  /** Set once spawned. */
  pid?: number;
  startTime?: string;
  configFile?: string;
}

const FILE = 'session.json';

/** ~/.local/state/lab-job-agent/jupyter/<session_id>: the launcher's config goes here too. */
export function sessionRuntimeDir(home: string, sessionId: string): string {
  return defaultRuntimeDir({ HOME: home }, sessionId);
}

export function readSessionRecord(home: string, sessionId: string): SessionRecord | null {
  try {
    const rec = JSON.parse(readFileSync(join(sessionRuntimeDir(home, sessionId), FILE), 'utf8')) as SessionRecord;
    return rec.sessionId === sessionId && Number.isInteger(rec.port) && typeof rec.token === 'string' ? rec : null;
  } catch {
    return null;
  }
}

/** Atomic (write + rename), private. */
export function writeSessionRecord(home: string, rec: SessionRecord): void {
  const dir = sessionRuntimeDir(home, rec.sessionId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const tmp = join(dir, `${FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(rec) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, join(dir, FILE));
}

/** Removes the record and the session's runtime folder (the config with the token included). */
export function removeSessionRecord(home: string, sessionId: string): void {
  rmSync(sessionRuntimeDir(home, sessionId), { recursive: true, force: true });
}

/**
 * A server started with this session's config (`--config=<runtime dir>/…` on its command line),
 * for when the agent died between the spawn and writing the pid down. Only this user's
 * processes are readable, which is all that can be ours.
 */
export function findServerByRuntimeDir(home: string, sessionId: string): { pid: number; startTime: string } | null {
  const marker = Buffer.from(`--config=${sessionRuntimeDir(home, sessionId)}/`);
  let found: { pid: number; startTime: string } | null = null;
  for (const name of processIds()) {
    try {
      if (!readFileSync(`/proc/${name}/cmdline`).includes(marker)) continue;
    } catch {
      continue; // gone, or not ours
    }
    const pid = name;
    const startTime = processStartTime(pid);
    // The oldest match is the server (a kernel never carries the server's --config).
    if (startTime && (!found || BigInt(startTime) < BigInt(found.startTime))) found = { pid, startTime };
  }
  return found;
}
