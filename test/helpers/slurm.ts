// The one-node Slurm cluster of scripts/slurm-local.sh for tests: reused when one already runs in
// LAB_SLURM_DIR (as .ci/run may start it), else started here and stopped again by whoever started it.
// LAB_SLURM_ACCOUNTING=1 asks for the cluster with accounting (slurmdbd + MariaDB), so that the
// Slurm cases run a second time with `sacct` answering, as .ci/run does.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './required.js';
import { which } from './install-env.js';
import type { LinuxUser } from './linux-users.js';

export const slurmScript = join(repoRoot, 'scripts', 'slurm-local.sh');
const slurmDir = process.env.LAB_SLURM_DIR ?? '/tmp/lab-slurm';
const slurmConf = join(slurmDir, 'slurm.conf');
const wantAccounting = process.env.LAB_SLURM_ACCOUNTING === '1';
export const hasSlurm = () =>
  ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scancel', 'sinfo', 'srun', ...(wantAccounting ? ['slurmdbd', 'sacct', 'mariadbd'] : [])].every(which);

export interface LocalSlurm {
  conf: string;
  startedHere: boolean;
  /** slurmdbd keeps accounting: `sacct` answers. */
  accounting: boolean;
  /** Stops the cluster if this process started it. */
  release(): void;
}

const script = (args: string[], timeout = 180_000) =>
  execFileSync('bash', [slurmScript, ...args], { env: { ...process.env, LAB_SLURM_DIR: slurmDir }, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });

export function useLocalSlurm(): LocalSlurm {
  let running = true;
  try {
    script(['status'], 30_000);
  } catch {
    running = false;
  }
  if (!running) script(wantAccounting ? ['start', '--accounting'] : ['start']);
  const accounting = existsSync(join(slurmDir, 'slurmdbd.conf'));
  if (wantAccounting && !accounting) throw new Error(`LAB_SLURM_ACCOUNTING=1, but the cluster running in ${slurmDir} has no accounting`);
  return { conf: slurmConf, startedHere: !running, accounting, release: () => (running ? undefined : void script(['stop'])) };
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command as the user, in a login's bare environment plus SLURM_CONF (no terminal, no root). */
export function runAsUser(user: LinuxUser, argv: string[], timeoutMs = 30_000): Promise<CommandResult> {
  const env = [`HOME=${user.home}`, `USER=${user.name}`, `LOGNAME=${user.name}`, 'PATH=/usr/bin:/bin', 'LANG=C.UTF-8', `SLURM_CONF=${slurmConf}`];
  return new Promise((resolve) => {
    execFile('runuser', ['-u', user.name, '--', 'env', '-i', ...env, ...argv], { cwd: user.home, encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
    });
  });
}
