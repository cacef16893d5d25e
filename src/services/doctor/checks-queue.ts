// The queue's check (issue 17): is this host drained, by you or by the lab's administrator?
import type { Config } from '../config.js';
import type { LabStore } from '../store/lab-store.js';
import { formatTime } from '../time-format.js';
import { result, withTimeout, type CheckResult } from './types.js';

export async function checkDrain(config: Config, store: LabStore | null): Promise<CheckResult> {
  const title = 'drain';
  if (!store) return result('drain', title, 'skip', 'needs a working database connection');
  const drains = (await withTimeout(store.listDrains(), 15_000, 'the database')).filter((d) => d.host === config.host);
  if (!drains.length) return result('drain', title, 'ok', `${config.host} takes new jobs and Jupyter servers`);
  const lab = drains.find((d) => d.lab_wide);
  const mine = drains.find((d) => !d.lab_wide);
  const by = [mine && `by you since ${formatTime(mine.drained_at)}${mine.note ? ` (${mine.note})` : ''}`, lab && `by the lab's administrator since ${formatTime(lab.drained_at)}${lab.note ? ` (${lab.note})` : ''}`].filter(Boolean).join(' and ');
  return result('drain', title, 'warn', `${config.host} is drained ${by}: your agent here starts nothing new; running jobs finish`,
    mine ? `lab-agent resume --host ${config.host}` : 'ask the database administrator to lift the lab\'s drain', { drains });
}
