// CPU and memory of a process from /proc, and of a whole command from wait4 (bench/lib/rusage.py).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TICKS = 100; // USER_HZ on Linux

/** utime + stime of a live process, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Resident memory of a live process, in MiB. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export interface TimedRun {
  cpuS: number;
  wallS: number;
  maxRssMiB: number;
  code: number;
}

/** Runs a command under bench/lib/rusage.py: CPU (user+sys, µs resolution), wall clock and peak RSS of the whole process. */
export function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<TimedRun> {
  const rusage = fileURLToPath(new URL('rusage.py', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile('python3', [rusage, cmd, ...args], { env, maxBuffer: 16 << 20 }, (err, _out, stderr) => {
      const m = /LABRUSAGE (\{.*\})/.exec(stderr);
      if (!m) return reject(new Error(`no timing from ${cmd}: ${err?.message ?? ''} ${stderr}`));
      resolve(JSON.parse(m[1]!) as TimedRun);
    });
  });
}

/**
 * A cgroup (v1 cpuacct, root only) whose CPU counts every descendant of the processes put in it,
 * also those re-parented away from them (the jobs an agent starts through its launcher), or null
 * where none can be made.
 */
export function cpuCgroup(name: string): { add(pid: number): void; cpuMs(): number; remove(): void } | null {
  const dir = `/sys/fs/cgroup/cpuacct/${name}`;
  try {
    mkdirSync(dir);
  } catch {
    return null;
  }
  return {
    add: (pid) => writeFileSync(`${dir}/cgroup.procs`, String(pid)),
    cpuMs: () => Number(readFileSync(`${dir}/cpuacct.usage`, 'utf8')) / 1e6,
    remove: () => {
      try {
        rmdirSync(dir);
      } catch {
        // processes still in it (a job ending): the empty group is removed by the next run's clean-up
      }
    },
  };
}
