// Process-group facts from /proc that host/process-identity.ts does not provide
// (it owns start time / liveness; this adds parents, groups, and a server's kernels).
import { readFileSync } from 'node:fs';
import { parseProcStat, processIds } from '../host/process-identity.js';

export interface ProcGroupStat {
  pid: number;
  /** One-letter state: R, S, D, Z (zombie) ... */
  state: string;
  ppid: number;
  /** Field 5: the process group id. */
  pgrp: number;
  /** Field 22, as process-identity.ts reports it. */
  startTime: string;
}

/** /proc/<pid>/stat with the group id; null when there is no such process. */
export function readProcGroup(pid: number): ProcGroupStat | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  let line: string;
  try {
    line = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const base = parseProcStat(line);
  // Fields after the last ')' (the command name may contain spaces and parentheses): rest[1] is
  // field 4 (ppid), rest[2] field 5 (pgrp).
  const rest = line.slice(line.lastIndexOf(')') + 1).trim().split(/\s+/);
  const ppid = Number(rest[1]);
  const pgrp = Number(rest[2]);
  if (!base || !Number.isInteger(pgrp) || !Number.isInteger(ppid)) return null;
  return { pid, state: base.state, ppid, pgrp, startTime: base.startTime };
}

/** Every live (non-zombie) process on the machine. */
export function listProcesses(): ProcGroupStat[] {
  const all: ProcGroupStat[] = [];
  for (const pid of processIds()) {
    const stat = readProcGroup(pid);
    if (stat && stat.state !== 'Z' && stat.state !== 'X') all.push(stat);
  }
  return all;
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number): ProcGroupStat[] {
  return listProcesses().filter((p) => p.pgrp === pgid);
}

/** All live descendants of pid (children, grandchildren ...), whatever group they are in. */
export function descendants(pid: number, all: ProcGroupStat[] = listProcesses()): ProcGroupStat[] {
  const found: ProcGroupStat[] = [];
  let frontier = [pid];
  while (frontier.length > 0) {
    const next = all.filter((p) => frontier.includes(p.ppid));
    found.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return found;
}

/**
 * Processes that a Jupyter server (pid, startTime) started as kernels, and their children, found
 * by JPY_PARENT_PID in their environment: Jupyter starts every kernel in a new session (its own
 * process group), so after the server is gone they are no longer its descendants. Only this
 * user's processes are readable, and only those started after the server count.
 */
export function kernelsOf(pid: number, startTime: string, all: ProcGroupStat[] = listProcesses()): ProcGroupStat[] {
  const marker = `JPY_PARENT_PID=${pid}\0`;
  return all.filter((p) => {
    if (p.pid === pid || BigInt(p.startTime) < BigInt(startTime)) return false;
    try {
      return `\0${readFileSync(`/proc/${p.pid}/environ`, 'latin1')}`.includes(`\0${marker}`);
    } catch {
      return false; // another user's process, or gone
    }
  });
}
