// Opening the store for a user command, and finding a job by id or unique prefix.
import { loadConfig, type Config } from '../services/config.js';
import { isUuid } from '../services/names.js';
import type { LabStore } from '../services/store/lab-store.js';
import { StoreError, type JobRow, type SessionRow } from '../services/store/types.js';
import { CliFailure, UsageError } from './output.js';

export function withUserStore<T>(env: NodeJS.ProcessEnv, fn: (store: LabStore, config: Config) => Promise<T>): Promise<T> {
  return withStoreOpening(env, async (opening, config) => fn(await opening, config));
}

/**
 * As withUserStore, but `fn` starts while the store is still opening: a command with work of its
 * own (sync's scan of home) does it while the connection is set up, which is mostly the
 * server's work, on another core. The store is closed when `fn` is done, whatever came.
 */
export async function withStoreOpening<T>(env: NodeJS.ProcessEnv, fn: (opening: Promise<LabStore>, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig({ env });
  // Loaded here, not at the top: `--help` and a usage error cost no database client or logger.
  const [{ preflight }, { openStore }, { createLogger }] = await Promise.all([
    import('../services/process-safety.js'), import('../services/store/open-store.js'), import('../services/logger.js'),
  ]);
  // Root is refused where it would run something: the local database (local-postgres.ts).
  preflight(config, null);
  // Warnings only, on stderr: stdout is for the command's own output.
  const opening = openStore(config, createLogger({ level: 'warn' }));
  opening.catch(() => undefined); // its failure reaches `fn` through the promise; none goes unhandled
  try {
    return await fn(opening, config);
  } finally {
    const store = await opening.catch(() => null);
    await store?.close();
  }
}

/**
 * Checks an id argument before anything is opened: a usage error costs no database start.
 * `noun` is what it names (job, session); `lister` the command that shows the ids.
 */
export function idArg(args: string[], noun: string, lister: string): string {
  const id = args[0];
  if (!id) throw new UsageError(`which ${noun}? give its id (or the first characters shown by \`${lister}\`)`);
  if (args.length > 1) throw new UsageError(`one ${noun} at a time (got ${args.length})`);
  if (!isUuid(id) && !/^[0-9a-f-]{4,}$/i.test(id)) throw new UsageError(`"${id}" is not a ${noun} id: use at least 4 characters of it`);
  return id;
}

/** A full id, or the first characters of one of my recent rows' ids (as the list commands show them). */
export async function findByIdOrPrefix<T>(idOrPrefix: string, one: (id: string) => Promise<T>, recent: () => Promise<T[]>, idOf: (row: T) => string, what: { one: string; many: string; lister: string }): Promise<T> {
  const next = `; \`${what.lister}\` lists yours`;
  if (isUuid(idOrPrefix)) {
    return one(idOrPrefix).catch((err: unknown) => {
      // the database's "no job … among your jobs", with where to look next (still a not-found error)
      throw err instanceof StoreError && err.isNotFound ? new StoreError(`${err.message}${next}`, err.code) : err;
    });
  }
  const matches = (await recent()).filter((row) => idOf(row).startsWith(idOrPrefix.toLowerCase()));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CliFailure(`no ${what.one} of yours starts with ${idOrPrefix}${next}`);
  throw new CliFailure(`${idOrPrefix} matches ${matches.length} ${what.many}; give more characters`);
}

export const jobArg = (args: string[]): string => idArg(args, 'job', 'lab-agent ls');

export const findJob = (store: LabStore, idOrPrefix: string): Promise<JobRow> =>
  findByIdOrPrefix(idOrPrefix, (id) => store.getJob(id), () => store.listJobs({ limit: 1000 }), (j) => j.job_id, { one: 'job', many: 'jobs', lister: 'lab-agent ls' });

export const findSession = (store: LabStore, idOrPrefix: string): Promise<SessionRow> =>
  findByIdOrPrefix(idOrPrefix, (id) => store.getSession(id), () => store.listSessions({ limit: 1000 }), (s) => s.session_id, { one: 'Jupyter session', many: 'sessions', lister: 'lab-agent jupyter ls' });

export const isEnded = (j: JobRow) => j.status === 'finished' || j.status === 'failed' || j.status === 'cancelled';

/** `wait`'s exit code: the job's own, so scripts can chain on it. */
export function jobExitCode(j: JobRow): number {
  if (j.status === 'finished') return 0;
  if (j.status === 'cancelled') return 130;
  return j.retcode && j.retcode > 0 ? j.retcode : 1;
}
