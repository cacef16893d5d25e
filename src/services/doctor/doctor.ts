// `lab-agent doctor`: every check in order, each bounded in time, so one hung server never hides
// the rest. The configuration comes first: without it nothing else can be checked.
import type { Logger } from '../logger.js';
import { checkJupyter, checkJupyterIp, checkLogs, checkPorts, checkPython, checkSmtp } from './checks-host.js';
import { checkAccount, checkCredentials, checkIdentity, checkJupyterLinks } from './checks-identity.js';
import { checkConfig, checkDatabase } from './checks-store.js';
import { checkDrain } from './checks-queue.js';
import { checkGpus } from './checks-gpu.js';
import { checkScheduler } from './scheduler.js';
import { checkSlurm } from './checks-slurm.js';
import { result, type CheckResult } from './types.js';

export interface DoctorReport {
  ok: boolean;
  mode: string | null;
  checks: CheckResult[];
}

const LATER = ['account', 'database', 'identity', 'credentials', 'python', 'jupyter', 'smtp', 'scheduler', 'ports', 'logs', 'jupyter-ip', 'jupyter-link', 'gpus'];

export async function runDoctor(env: NodeJS.ProcessEnv, log: Logger): Promise<DoctorReport> {
  const { check: configCheck, config } = checkConfig(env);
  if (!config) {
    const skipped = LATER.map((id) => result(id, id, 'skip', 'needs a valid configuration'));
    return { ok: false, mode: null, checks: [configCheck, ...skipped] };
  }
  const guard = async (id: string, title: string, fn: () => Promise<CheckResult> | CheckResult): Promise<CheckResult> => {
    try {
      return await fn();
    } catch (err) {
      return result(id, title, 'fail', `the check itself failed: ${(err as Error).message}`);
    }
  };
  const db = await checkDatabase(config, log).catch((err: Error) => ({ check: result('database', 'database', 'fail', err.message), store: null, openError: err }));
  try {
    // Independent of each other: run together, reported in a fixed order.
    const rest = await Promise.all([
      guard('identity', 'identity', () => checkIdentity(config, db.store, db.openError)),
      guard('credentials', 'credentials', () => checkCredentials(config, db.store)),
      guard('python', 'Python', () => checkPython(config)),
      guard('jupyter', 'Jupyter', () => checkJupyter(config)),
      guard('smtp', 'SMTP', () => checkSmtp(config)),
      guard('scheduler', 'cron / systemd', () => checkScheduler(config, env)),
      guard('ports', 'Jupyter ports', () => checkPorts(config)),
      guard('logs', 'log folders', () => checkLogs(config)),
      guard('jupyter-ip', 'JUPYTER_IP', () => checkJupyterIp(config)),
      guard('jupyter-link', 'Jupyter links', () => checkJupyterLinks(config, db.store)),
      guard('drain', 'drain', () => checkDrain(config, db.store)),
      guard('gpus', 'GPUs', () => checkGpus(config)),
    ]);
    const slurm = await checkSlurm(config).catch((err: Error) => [result('slurm', 'Slurm', 'fail', `the check itself failed: ${err.message}`)]);
    const checks = [configCheck, checkAccount(config), db.check, ...rest, ...slurm];
    return { ok: checks.every((c) => c.status !== 'fail'), mode: config.mode, checks };
  } finally {
    await db.store?.close().catch(() => undefined);
  }
}
