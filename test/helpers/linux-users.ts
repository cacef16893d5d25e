// Real Linux users for tests that run things as another member (root only, as in CI): random names,
// so runs never meet, and removed again with their homes and processes (each stopped by its pid).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface LinuxUser {
  name: string;
  home: string;
  uid: number;
}

/** useradd with a home and bash; the name is `${prefix}<6 hex>${tag}`. */
export function addLinuxUser(prefix: string, tag = ''): LinuxUser {
  const name = `${prefix}${randomBytes(3).toString('hex')}${tag}`;
  execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', name]);
  const home = execFileSync('sh', ['-c', `getent passwd ${name} | cut -d: -f6`], { encoding: 'utf8' }).trim();
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  return { name, home, uid };
}

/** SIGKILL to every process the user still owns, one pid at a time. */
export function killUserProcesses(name: string): void {
  let pids: number[] = [];
  try {
    pids = execFileSync('ps', ['-u', name, '-o', 'pid='], { encoding: 'utf8' }).split('\n').map(Number).filter(Boolean);
  } catch {
    /* none */
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** userdel with the home (forced when a process was still on its way out). */
export function deleteLinuxUser(name: string): void {
  try {
    execFileSync('userdel', ['--remove', name], { stdio: 'ignore' });
  } catch {
    execFileSync('userdel', ['--force', '--remove', name], { stdio: 'ignore' });
  }
}
