import { readFileSync, readdirSync } from 'node:fs';

// A pid alone does not identify a process across time: pids are reused. The pair
// (pid, starttime from /proc/<pid>/stat) does, for the life of the machine.

interface ProcStat {
  state: string;
  startTime: string;
}

/**
 * Parses /proc/<pid>/stat. Field 2 (comm) is in parentheses and may itself contain spaces and
 * parentheses, so the fields after it are found from the LAST ')' in the line.
 */
export function parseProcStat(line: string): ProcStat | null {
  const close = line.lastIndexOf(')');
  if (close < 0) return null;
  const rest = line.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19]
  const state = rest[0];
  const startTime = rest[19];
  if (!state || !startTime || !/^\d+$/.test(startTime)) return null;
  return { state, startTime };
}

function readStat(pid: number): ProcStat | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** The process's start time in clock ticks after boot (field 22 of /proc/<pid>/stat), or null if there is no such process. */
export function processStartTime(pid: number): string | null {
  return readStat(pid)?.startTime ?? null;
}

/** True when `pid` is still the very process that had `startTime` (not a reuse of its pid). */
export function isSameProcess(pid: number, startTime: string | null | undefined): boolean {
  if (!startTime) return false;
  const st = readStat(pid);
  return st !== null && st.state !== 'Z' && st.startTime === startTime;
}

/** True when a process with this pid exists and is not a zombie (exited, waiting to be reaped). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const st = readStat(pid);
  if (st) return st.state !== 'Z';
  try {
    process.kill(pid, 0); // no /proc (not Linux): ask the kernel
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every pid in /proc (empty where /proc cannot be read). */
export function processIds(): number[] {
  try {
    return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
  } catch {
    return [];
  }
}

/**
 * Pids of this user's processes whose environment holds `name=value` (e.g. LAB_JOB_ID=<id>).
 * Finds what a job started outside its process group (a Jupyter kernel runs in its own
 * session, for one), so a cancel can check that nothing of the job is left.
 * The environment is the one the process started with; other users' processes are unreadable.
 * For a job this can include its wrapper (the exit recorder: where it was spawned rather than
 * forked by the launcher) until exit.json is written: leave it be.
 */
export function findProcessesWithEnv(name: string, value: string): number[] {
  const entry0 = Buffer.from(`${name}=${value}\0`);
  const inner = Buffer.from(`\0${name}=${value}\0`);
  return findProcesses((pid) => hasEnvEntry(pid, entry0, inner));
}

/** Field 6 of /proc/<pid>/stat: the process's session id, or null. */
function sessionOf(pid: number): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const sid = Number(line.slice(line.lastIndexOf(')') + 1).trim().split(/\s+/)[3]);
    return Number.isInteger(sid) ? sid : null;
  } catch {
    return null;
  }
}

/**
 * Pids of the live processes in session `sid` (a job is the leader of its own session): finds
 * what moved to another process group and dropped its environment, which no LAB_JOB_ID finds.
 */
export function findProcessesInSession(sid: number): number[] {
  if (!Number.isInteger(sid) || sid <= 1) return [];
  return findProcesses((pid) => sessionOf(pid) === sid);
}

function findProcesses(match: (pid: number) => boolean): number[] {
  const found: number[] = [];
  for (const pid of processIds()) {
    if (match(pid) && readStat(pid)?.state !== 'Z') found.push(pid);
  }
  return found;
}

function hasEnvEntry(pid: number, entry0: Buffer, inner: Buffer): boolean {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`);
    // whole entries only (each ends in NUL): the first one, or one after a NUL
    return environ.subarray(0, entry0.length).equals(entry0) || environ.indexOf(inner) >= 0;
  } catch {
    return false; // gone, or not ours
  }
}
