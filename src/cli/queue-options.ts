// The queue's options of `submit` (issue 17): priority, retries, dependencies and sweeps, read
// from the command line into the store's shapes; and finding a job or a sweep by id or prefix.
import { isUuid } from '../services/names.js';
import { expandGrid, parseAxis, SweepSpecError } from '../services/queue/sweep-grid.js';
import type { LabStore } from '../services/store/lab-store.js';
import type { QueueOptions, SweepView } from '../services/store/queue-types.js';
import type { JobRow } from '../services/store/types.js';
import type { OptionSpec } from './command.js';
import { CliFailure, positiveInt, UsageError } from './output.js';
import { findByIdOrPrefix, findJob } from './user-store.js';

/** --host and --timeout, the same for a job now (submit) and a scheduled one. */
export const JOB_HOST_OPTION = { type: 'string', help: 'run only on this host', whenAbsent: 'any host of yours' } as const;
export const JOB_TIMEOUT_OPTION = { type: 'string', help: 'stop the job after this many seconds', whenAbsent: 'LAB_JOB_TIMEOUT, 0 = none' } as const;

export const QUEUE_SUBMIT_OPTIONS = {
  priority: { type: 'string', help: 'higher runs first among your pending jobs (-1000..1000)', whenAbsent: '0' },
  retries: { type: 'string', help: 'run a failed job again up to N times', whenAbsent: '0' },
  'retry-delay': { type: 'string', help: 'wait before a retry (90, 5m, 2h), doubling each time', whenAbsent: '60s' },
  after: { type: 'string', multiple: true, help: 'start only after these jobs or sweeps finished (repeatable)', whenAbsent: 'at once' },
  'after-any': { type: 'boolean', help: 'with --after: start once they ended, whatever the outcome', whenAbsent: 'off' },
  sweep: { type: 'string', multiple: true, help: 'one job per value: name=v1,v2 or name=a..b (repeat for a grid)', whenAbsent: 'one job' },
  'max-parallel': { type: 'string', help: "with --sweep: at most N of the sweep's jobs at once", whenAbsent: 'no limit' },
  'notify-each': { type: 'boolean', help: 'with --sweep: an email per job, not one for the sweep', whenAbsent: 'off' },
} as const satisfies OptionSpec;

export const QUEUE_SUBMIT_USAGE = '[--priority N] [--retries N [--retry-delay 60s]] [--after <job|sweep>[,…] [--after-any]] [--sweep name=v1,v2|a..b]… [--max-parallel N] [--notify-each]';

type Options = Readonly<Record<string, string | boolean | string[] | boolean[] | undefined>>;

/** `90`, `90s`, `5m`, `2h`, `1d` → seconds. */
function durationSeconds(value: string, name: string): number {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(value.trim());
  const n = m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's'] : NaN;
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} takes a duration such as 60s, 5m, 2h (got "${value}")`);
  return n;
}

function intOption(value: unknown, name: string, min: number, max: number): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} takes a whole number from ${min} to ${max} (got "${value}")`);
  return n;
}

/** Checks what needs no database: a usage error costs no connection. */
export function queueOptions(options: Options): QueueOptions & { afterRefs: string[] } {
  const afterRefs = ((options.after as string[] | undefined) ?? []).flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean);
  for (const ref of afterRefs) if (!isUuid(ref) && !/^[0-9a-f-]{4,}$/i.test(ref)) throw new UsageError(`--after "${ref}" is not a job or sweep id: use at least 4 characters of it`);
  if (options['after-any'] && afterRefs.length === 0) throw new UsageError('--after-any goes with --after <job|sweep>');
  if (options['retry-delay'] !== undefined && options.retries === undefined) throw new UsageError('--retry-delay goes with --retries N');
  return {
    priority: intOption(options.priority, '--priority', -1000, 1000) ?? 0,
    retries: intOption(options.retries, '--retries', 0, 100),
    retryDelayS: options['retry-delay'] === undefined ? null : durationSeconds(String(options['retry-delay']), '--retry-delay'),
    afterAny: Boolean(options['after-any']),
    afterRefs,
  };
}

/** The grid of `--sweep` options, or null when there are none. */
export function sweepOptions(options: Options, shared: string[]) {
  const specs = (options.sweep as string[] | undefined) ?? [];
  if (specs.length === 0) {
    if (options['max-parallel'] !== undefined || options['notify-each']) throw new UsageError('--max-parallel and --notify-each go with --sweep');
    return null;
  }
  try {
    const axes = specs.map(parseAxis);
    return { axes, cells: expandGrid(axes, shared), maxParallel: options['max-parallel'] === undefined ? null : positiveInt(options['max-parallel'], '--max-parallel', 1), notifyEach: Boolean(options['notify-each']) };
  } catch (err) {
    if (err instanceof SweepSpecError) throw new UsageError(err.message);
    throw err;
  }
}

/** A sweep by full id or the first characters of one of my recent sweeps'. */
export const findSweep = (store: LabStore, idOrPrefix: string): Promise<SweepView> =>
  findByIdOrPrefix(idOrPrefix, (id) => store.getSweep(id), async () => (await store.listSweeps({ limit: 500 })).map((sweep) => ({ sweep, jobs: [] })),
    (v) => v.sweep.sweep_id, { one: 'sweep', many: 'sweeps', lister: 'lab-agent ls --sweeps' }).then((v) => (v.jobs.length ? v : store.getSweep(v.sweep.sweep_id)));

/** An id or prefix that names a sweep of mine, or a job of mine: sweeps are looked at first (fewer). */
export async function findJobOrSweep(store: LabStore, idOrPrefix: string): Promise<{ sweep: SweepView } | { job: JobRow }> {
  const sweep = await findSweep(store, idOrPrefix).catch((err: Error) => {
    if (err instanceof CliFailure && /^no sweep/.test(err.message)) return null;
    if ((err as { isNotFound?: boolean }).isNotFound) return null;
    throw err;
  });
  return sweep ? { sweep } : { job: await findJob(store, idOrPrefix) };
}

/** --after's references as full ids (job or sweep). */
export async function resolveAfter(store: LabStore, refs: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const ref of refs) {
    if (isUuid(ref)) ids.push(ref);
    else {
      const found = await findJobOrSweep(store, ref);
      ids.push('sweep' in found ? found.sweep.sweep.sweep_id : found.job.job_id);
    }
  }
  return ids;
}
