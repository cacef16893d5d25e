// Opening the store for a user command, and finding a job by id or unique prefix.
import { loadConfig, type Config } from '../services/config.js';
import { createLogger } from '../services/logger.js';
import type { LabStore } from '../services/store/lab-store.js';
import { openStore } from '../services/store/open-store.js';
import type { JobRow } from '../services/store/types.js';
import { CliFailure, UsageError } from './output.js';

export async function withUserStore<T>(env: NodeJS.ProcessEnv, fn: (store: LabStore, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig({ env });
  // Warnings only, on stderr: stdout is for the command's own output.
  const store = await openStore(config, createLogger({ level: 'warn' }));
  try {
    return await fn(store, config);
  } finally {
    await store.close();
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks a job argument before anything is opened: a usage error costs no database start. */
export function jobArg(args: string[]): string {
  const id = args[0];
  if (!id) throw new UsageError('which job? give its id (or the first characters shown by `lab-agent ls`)');
  if (args.length > 1) throw new UsageError(`one job at a time (got ${args.length})`);
  if (!UUID.test(id) && !/^[0-9a-f-]{4,}$/i.test(id)) throw new UsageError(`"${id}" is not a job id: use at least 4 characters of it`);
  return id;
}

/** A full id, or the first characters of one of my recent jobs' ids (as `ls` shows them). */
export async function findJob(store: LabStore, idOrPrefix: string): Promise<JobRow> {
  if (UUID.test(idOrPrefix)) return store.getJob(idOrPrefix);
  const matches = (await store.listJobs(1000)).filter((j) => j.job_id.startsWith(idOrPrefix.toLowerCase()));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CliFailure(`no job of yours starts with ${idOrPrefix}`);
  throw new CliFailure(`${idOrPrefix} matches ${matches.length} jobs; give more characters`);
}

export const isEnded = (j: JobRow) => j.status === 'finished' || j.status === 'failed' || j.status === 'cancelled';

/** `wait`'s exit code: the job's own, so scripts can chain on it. */
export function jobExitCode(j: JobRow): number {
  if (j.status === 'finished') return 0;
  if (j.status === 'cancelled') return 130;
  return j.retcode && j.retcode > 0 ? j.retcode : 1;
}
