// A lock file held by one process at a time. It names its holder by pid and start time (as
// /proc/<pid>/stat gives it), so a lock left by a dead process is taken over even when its pid has
// been reused by another process since.
import { closeSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
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

/**
 * How long a lock file with no holder written in it counts as held. This agent never shows one (it
 * links a whole file in place); one from an older agent, made and then written, may be seen
 * between the two, and one that stays empty was left by a process that died between them.
 */
const UNWRITTEN_GRACE_MS = 10_000;

function unwrittenYet(path: string, holder: string): boolean {
  if (holder.trim() !== '') return false;
  try {
    return Date.now() - statSync(path).mtimeMs < UNWRITTEN_GRACE_MS;
  } catch {
    return false; // gone meanwhile: the next attempt sees
  }
}

/**
 * Creates the lock file with its content in one step, or returns false when it exists. The content
 * is written under another name and hard-linked in place (link fails when the name exists, as
 * open's O_EXCL does), so no taker ever reads it empty: an empty holder looked dead, and a second
 * process removed a live lock and took it too (test/file-lock.test.ts). File systems without hard
 * links get O_EXCL and the write after it.
 */
function createWhole(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, content);
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
  }
}

/** Takes the lock now or returns null: for "another tick is running, exit at once". */
export function tryLock(path: string): (() => void) | null {
  const content = `${process.pid} ${processStartTime(process.pid) ?? ''}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (createWhole(path, content)) {
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
    }
    const holder = readHolder(path);
    if (holder === null) continue; // released meanwhile
    if (holderAlive(holder) || unwrittenYet(path, holder)) return null;
    // Stale: its holder died. Remove it only if it is still that same stale file, which narrows
    // the window in which two takers could both remove and re-create it.
    try {
      if (readHolder(path) === holder) unlinkSync(path);
    } catch {
      /* someone else took it over first */
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
