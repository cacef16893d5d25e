// A lock file held by one process at a time. It names its holder by pid and start time (as
// /proc/<pid>/stat gives it), so a lock left by a dead process is taken over even when its pid has
// been reused by another process since.
import { openSync, closeSync, writeSync, readFileSync, unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, isSameProcess, processStartTime } from './host/process-identity.js';

function readHolder(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** `<pid> <start time>`; a file from an older agent holds the pid alone (then the pid decides). */
function holderAlive(content: string): boolean {
  const [pid, startTime] = content.trim().split(/\s+/);
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return false;
  return startTime ? isSameProcess(n, startTime) : isAlive(n);
}

/** The live process holding the lock at `path`, if any. */
export function lockHolder(path: string): number | null {
  const content = readHolder(path);
  return content !== null && holderAlive(content) ? Number(content.trim().split(/\s+/)[0]) : null;
}

/** Takes the lock now or returns null: for "another tick is running, exit at once". */
export function tryLock(path: string): (() => void) | null {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid} ${processStartTime(process.pid) ?? ''}\n`);
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readHolder(path);
      if (holder === null) continue; // released meanwhile
      if (holderAlive(holder)) return null;
      // Stale: its holder died. Remove it only if it is still that same stale file, which narrows
      // the window in which two takers could both remove and re-create it.
      try {
        if (readHolder(path) === holder) unlinkSync(path);
      } catch {
        /* someone else took it over first */
      }
    }
  }
  return null;
}

/** Waits (polling) up to timeoutMs for the lock, runs fn, releases. */
export async function withFileLock<T>(path: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let release = tryLock(path);
  while (!release) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${path}`);
    await sleep(100);
    release = tryLock(path);
  }
  try {
    return await fn();
  } finally {
    release();
  }
}
