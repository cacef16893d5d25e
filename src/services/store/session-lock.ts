// One session file, several processes (the supervisor, cron ticks, CLI calls): auth-js's `lock`
// option runs every auth step (read the session, refresh it, save it) inside this cross-process
// lock, so one process refreshes and the others read the rotated tokens after it, instead of
// spending the same single-use refresh token twice.
import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname } from 'node:path';
import { NavigatorLockAcquireTimeoutError, type LockFunc } from '@supabase/supabase-js';
import { tryLock } from '../file-lock.js';

/**
 * auth-js's contract: a negative timeout waits as long as it takes, zero fails at once when held
 * (its background refresh tick then skips a beat), a positive one fails after that many ms; a
 * failure to acquire must be its LockAcquireTimeoutError.
 */
export function sessionFileLock(lockPath: string, pollMs = 25): LockFunc {
  return async <R>(_name: string, acquireTimeout: number, fn: () => Promise<R>): Promise<R> => {
    const deadline = acquireTimeout < 0 ? Infinity : Date.now() + acquireTimeout;
    mkdirSync(dirname(lockPath), { recursive: true, mode: 0o700 });
    let release = tryLock(lockPath);
    while (!release) {
      if (Date.now() >= deadline) throw new NavigatorLockAcquireTimeoutError(`the session lock ${lockPath} is held by another process`);
      await sleep(pollMs);
      release = tryLock(lockPath);
    }
    try {
      return await fn();
    } finally {
      release();
    }
  };
}
