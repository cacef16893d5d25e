// A postmaster killed with SIGKILL leaves postmaster.pid and its socket's lock file behind.
// PostgreSQL ignores them when their pid is gone, but not while that pid is a zombie (killed, not
// yet reaped: some container inits reap late), and then refuses to start ("lock file already
// exists"). The files are stale when their pid is dead or a zombie and no process works in the
// data folder any more: every PostgreSQL process, orphaned backends included, runs with the data
// folder as its working directory, so that check keeps the guard the lock file stands for.
import { readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, processIds } from '../host/process-identity.js';

function lockPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function workingIn(dir: string): boolean {
  for (const pid of processIds()) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) === dir && isAlive(pid)) return true;
    } catch {
      // gone, or another user's (not a server of ours)
    }
  }
  return false;
}

/** Removes the lock files of a dead postmaster; returns the pid they named, or null when none were stale. */
export function clearStalePostmaster(data: string, socketLock: string): number | null {
  const pidFile = join(data, 'postmaster.pid');
  const pid = lockPid(pidFile);
  if (pid === null || isAlive(pid)) return null;
  let real: string;
  try {
    real = realpathSync(data);
  } catch {
    return null;
  }
  if (workingIn(real)) return null; // orphaned backends still use its shared memory: wait for them
  rmSync(pidFile, { force: true });
  if (lockPid(socketLock) === pid) rmSync(socketLock, { force: true });
  return pid;
}
