// With LAB_EXECUTOR=slurm: the client commands are found (on the agent's or the login PATH), the
// controller answers (sinfo), the partition jobs go to exists and is up, and LAB_SLURM_EXTRA_ARGS
// is usable. Nothing with the local executor.
import type { Config } from '../config.js';
import { loginEnvironment } from '../host/login-env.js';
import { parseExtraArgs } from '../slurm/batch-script.js';
import { createSlurmClient, type SlurmTool } from '../slurm/slurm-cli.js';
import { result, type CheckResult } from './types.js';

const TOOLS: SlurmTool[] = ['sbatch', 'squeue', 'scancel', 'sinfo', 'sacct'];

export async function checkSlurm(config: Config): Promise<CheckResult[]> {
  if (config.executor !== 'slurm') return [];
  const client = createSlurmClient({ loginEnv: await loginEnvironment(config.home), timeoutMs: 10_000 });
  const missing = TOOLS.filter((t) => !client.which(t));
  const commands = missing.length
    ? result('slurm-commands', 'Slurm commands', missing.some((t) => t !== 'sacct') ? 'fail' : 'warn', `not found: ${missing.join(', ')}`,
        'run the agent on a Slurm login node, or put Slurm\'s bin folder on PATH (in ~/.profile: cron reads your login PATH)')
    : result('slurm-commands', 'Slurm commands', 'ok', TOOLS.map((t) => client.which(t)).join(', '));
  let extra: CheckResult | null = null;
  try {
    parseExtraArgs(config.slurm.extraArgs);
  } catch (err) {
    extra = result('slurm-extra-args', 'LAB_SLURM_EXTRA_ARGS', 'fail', (err as Error).message, 'remove those options from LAB_SLURM_EXTRA_ARGS');
  }
  if (!client.which('sinfo')) {
    return [commands, result('slurm-cluster', 'Slurm cluster', 'skip', 'needs sinfo'), result('slurm-partition', 'Slurm partition', 'skip', 'needs sinfo'), ...(extra ? [extra] : [])];
  }
  // %P marks the default partition with *; %a is up/down.
  let partitions: { name: string; isDefault: boolean; up: boolean }[];
  try {
    partitions = (await client.run('sinfo', ['--noheader', '--format=%P|%a']))
      .split('\n').filter(Boolean)
      .map((l) => { const [p, a] = l.split('|'); return { name: p!.replace(/\*$/, ''), isDefault: p!.endsWith('*'), up: a === 'up' }; });
  } catch (err) {
    return [commands, result('slurm-cluster', 'Slurm cluster', 'fail', `sinfo: ${(err as Error).message}`, 'check that slurmctld runs and SLURM_CONF (or /etc/slurm/slurm.conf) names it'),
      result('slurm-partition', 'Slurm partition', 'skip', 'needs the cluster'), ...(extra ? [extra] : [])];
  }
  const cluster = result('slurm-cluster', 'Slurm cluster', 'ok', `sinfo answers: partitions ${partitions.map((p) => p.name).join(', ') || '(none)'}`);
  const wanted = config.slurm.partition ? partitions.find((p) => p.name === config.slurm.partition) : partitions.find((p) => p.isDefault);
  const what = config.slurm.partition ? `LAB_SLURM_PARTITION=${config.slurm.partition}` : 'the default partition';
  const partition = !wanted
    ? result('slurm-partition', 'Slurm partition', 'fail', `${what}: ${config.slurm.partition ? 'no such partition' : 'the cluster has none'}`, `set LAB_SLURM_PARTITION to one of: ${partitions.map((p) => p.name).join(', ')}`)
    : wanted.up
      ? result('slurm-partition', 'Slurm partition', 'ok', `${wanted.name} is up`)
      : result('slurm-partition', 'Slurm partition', 'warn', `${wanted.name} is down: jobs wait until it is up`, 'ask the cluster\'s admins, or pick another partition');
  return [commands, cluster, partition, ...(extra ? [extra] : [])];
}
