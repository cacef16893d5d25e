// A lock file held by one process at a time. A lock left by a dead process is taken over.
import { openSync, closeSync, writeSync, readFileSync, unlinkSync } from 'node:fs';

function readHolder(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the pid exists but belongs to someone else, so it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock now or returns null: for "another tick is running, exit at once". */
export function tryLock(path: string): (() => void) | null {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
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
      if (pidAlive(Number(holder.trim()))) return null;
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
    await new Promise((r) => setTimeout(r, 100));
    release = tryLock(path);
  }
  try {
    return await fn();
  } finally {
    release();
  }
}
