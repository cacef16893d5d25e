// A lab member on the one-node Slurm of scripts/slurm-local.sh: a fresh Linux user whose agent
// (LAB_EXECUTOR=slurm, its own local database) is driven by `lab-agent` commands run as that user
// in a bare environment, as cron runs them, with shims on its PATH that count every squeue and
// sbatch the agent makes (then run the real ones).
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, type CliResult } from './agent-env.js';
import { addLinuxUser, deleteLinuxUser, killUserProcesses, type LinuxUser } from './linux-users.js';
import type { LocalSlurm } from './slurm.js';

export interface SlurmMember {
  user: LinuxUser;
  /** The CLI as the member; `extra` adds to (or overrides) the agent's environment. */
  cli(args: string[], extra?: Record<string, string>, timeoutMs?: number): Promise<CliResult>;
  /** How many times the agent ran `tool` (squeue, sbatch) so far. */
  calls(tool: 'squeue' | 'sbatch'): number;
  /** What the agent passed to `tool`, one line per call. */
  callLines(tool: 'squeue' | 'sbatch'): string[];
  /** Cancels the member's Slurm jobs, stops their database and processes, removes the user. */
  remove(): Promise<void>;
}

export function addSlurmMember(slurm: LocalSlurm, prefix: string, env: Record<string, string> = {}): SlurmMember {
  const user = addLinuxUser(prefix, 'x');
  const shims = mkdtempSync(join(tmpdir(), 'lab-slurm-shims-'));
  chmodSync(shims, 0o755);
  for (const tool of ['squeue', 'sbatch']) {
    writeFileSync(join(shims, tool), `#!/bin/sh\necho "$*" >> "$HOME/${tool}-calls.log"\nexec /usr/bin/${tool} "$@"\n`, { mode: 0o755 });
  }
  const base: Record<string, string> = {
    HOME: user.home, USER: user.name, LOGNAME: user.name, PATH: `${shims}:/usr/bin:/bin`, LANG: 'C.UTF-8', SLURM_CONF: slurm.conf,
    LAB_EXECUTOR: 'slurm', LAB_KILL_GRACE_S: '2', LAB_EMAIL: '', LAB_LOG_LEVEL: 'debug', ...env,
  };
  const callLines = (tool: string): string[] => {
    const f = join(user.home, `${tool}-calls.log`);
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
  };
  return {
    user,
    callLines,
    calls: (tool) => callLines(tool).length,
    cli(args, extra = {}, timeoutMs = 60_000) {
      const vars = Object.entries({ ...base, ...extra }).map(([k, v]) => `${k}=${v}`);
      return new Promise((resolve) => {
        execFile('runuser', ['-u', user.name, '--', 'env', '-i', ...vars, process.execPath, cliPath, ...args], { cwd: user.home, encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
          const e = err as (Error & { code?: number | string }) | null;
          resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, signal: null, stdout, stderr });
        });
      });
    },
    async remove() {
      try {
        execFileSync('scancel', ['-u', user.name], { env: { ...process.env, SLURM_CONF: slurm.conf }, stdio: 'ignore' });
      } catch {
        /* the cluster is gone already */
      }
      await this.cli(['db', 'stop']).catch(() => undefined);
      killUserProcesses(user.name);
      await new Promise((r) => setTimeout(r, 300));
      deleteLinuxUser(user.name);
      rmSync(shims, { recursive: true, force: true });
    },
  };
}
