// Stops a session's server and what it started. Jupyter puts every kernel (and terminal) in a new
// session of its own, so signalling the server's group is not enough: the kernels (which may hold
// GPU memory) are found as descendants before the stop, and by JPY_PARENT_PID after it.
import { rmSync, rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSameProcess } from '../host/process-identity.js';
import { waitPortFree } from './ports.js';
import { descendants, groupMembers, kernelsOf, listProcesses, readProcGroup, type ProcGroupStat } from './proc.js';

export interface StopOptions {
  pgid: number;
  pid: number;
  startTime: string;
  port: number;
  /** How long SIGTERM gets before SIGKILL (default 10 s; Jupyter shuts its kernels down first). */
  graceMs?: number;
  /** How long to wait for the port to be free once the processes are gone (default 5 s). */
  portWaitMs?: number;
  /** The bind address to test the port on (default 0.0.0.0, which collides with any IPv4 bind). */
  host?: string;
  /** The session's generated config (it holds the token): removed (and its folder, if empty) once stopped. */
  configFile?: string;
}

export interface StopResult {
  /** What it took to stop the server itself. */
  killed: 'term' | 'kill' | 'already-dead';
  portFree: boolean;
  /** Kernels or their children still running after the server had gone, which were then killed. */
  leftovers: number;
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Whether the group led by (pid, startTime) may be signalled: its leader is still that process,
 * or the leader is gone and members remain (Linux keeps a pid number out of reuse while a group
 * still uses it as its id, so those members are the leader's). Never when the pid is reused.
 */
function groupIsOurs(pid: number, startTime: string): boolean {
  if (isSameProcess(pid, startTime)) return true;
  const holder = readProcGroup(pid);
  if (holder !== null && holder.startTime !== startTime) return false; // pid reused
  return groupMembers(pid).length > 0;
}

/** Kills processes left after the server: whole groups for group leaders (kernels), else the process. */
async function killLeftovers(procs: ProcGroupStat[], graceMs: number): Promise<number> {
  const alive = () => procs.filter((p) => isSameProcess(p.pid, p.startTime));
  const left = alive();
  if (left.length === 0) return 0;
  const hit = (sig: NodeJS.Signals) => {
    for (const p of alive()) signal(p.pgrp === p.pid && groupIsOurs(p.pid, p.startTime) ? -p.pid : p.pid, sig);
  };
  hit('SIGTERM');
  if (!(await waitUntil(() => alive().length === 0, graceMs))) {
    hit('SIGKILL');
    await waitUntil(() => alive().length === 0, 5000);
  }
  return left.length;
}

/**
 * SIGTERM to the server's group, up to graceMs for it to exit (Jupyter shuts its kernels down on
 * SIGTERM), then SIGKILL; then kernels and their children still running are killed; then waits
 * for the port. A pid now held by another process (different start time) is never signalled.
 */
export async function stopJupyter(opts: StopOptions): Promise<StopResult> {
  const graceMs = opts.graceMs ?? 10_000;
  const { pid, pgid, startTime } = opts;
  const serverGone = () => !isSameProcess(pid, startTime) && groupMembers(pgid).length === 0;
  let killed: StopResult['killed'];
  let watch: ProcGroupStat[] = [];

  if (isSameProcess(pid, startTime)) {
    const all = listProcesses();
    watch = [...descendants(pid, all), ...kernelsOf(pid, startTime, all)];
    signal(-pgid, 'SIGTERM');
    if (await waitUntil(serverGone, graceMs)) {
      killed = 'term';
    } else {
      signal(-pgid, 'SIGKILL');
      await waitUntil(serverGone, 5000);
      killed = 'kill';
    }
  } else {
    killed = 'already-dead';
    // Leftovers of the server's own group, when its id cannot belong to anyone else.
    if (pgid === pid && groupIsOurs(pid, startTime)) {
      watch = groupMembers(pgid);
      signal(-pgid, 'SIGKILL');
    }
  }
  // Kernels orphaned by a crash or a SIGKILL are found by their JPY_PARENT_PID; if the pid now
  // belongs to a newer process (maybe another Jupyter server), only kernels older than it are ours.
  const holder = readProcGroup(pid);
  const newer = holder !== null && holder.startTime !== startTime ? BigInt(holder.startTime) : null;
  const seen = new Set(watch.map((p) => `${p.pid}:${p.startTime}`));
  for (const k of kernelsOf(pid, startTime)) {
    if (newer !== null && BigInt(k.startTime) >= newer) continue;
    if (!seen.has(`${k.pid}:${k.startTime}`)) watch.push(k);
  }
  const leftovers = await killLeftovers(watch, Math.min(graceMs, 3000));

  const portFree = await waitPortFree(opts.port, opts.portWaitMs ?? 5000, opts.host ?? '0.0.0.0');
  if (opts.configFile) removeConfig(opts.configFile);
  return { killed, portFree, leftovers };
}

/** Removes the config file and its per-session folder when that is now empty. */
function removeConfig(configFile: string): void {
  rmSync(configFile, { force: true });
  try {
    rmdirSync(dirname(configFile));
  } catch {
    // not empty or already gone: leave it
  }
}
