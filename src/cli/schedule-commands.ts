// Recurring runs (issue 17): `schedule add|ls|rm|pause|resume`. A cron line in a time zone (the
// member's --tz, else this machine's) makes one job at each due time; the agents fire them.
import type { LabStore } from '../services/store/lab-store.js';
import type { ScheduleRow } from '../services/store/queue-types.js';
import { formatTime, memberTimeZone, timeHeading } from '../services/time-format.js';
import { defineCommand, type Command } from './command.js';
import { checkScript } from './job-commands.js';
import { CliFailure, table, UsageError } from './output.js';
import { JOB_HOST_OPTION, JOB_TIMEOUT_OPTION, QUEUE_SUBMIT_OPTIONS, queueOptions } from './queue-options.js';
import { GPU_OPTIONS, GPU_USAGE, gpuOptions } from './gpu-options.js';
import { gpuRequestText } from './job-format.js';
import { findByIdOrPrefix, idArg, withUserStore } from './user-store.js';

// croner is loaded by the commands that read a cron line only, not by every CLI start.
const loadCron = () => import('../services/queue/cron.js');

function schedulesTable(rows: ScheduleRow[], zone = memberTimeZone()): string {
  if (rows.length === 0) return "no schedules yet: add one with `lab-agent schedule add '0 3 * * *' eval.py -- --ckpt latest`";
  return table([
    ['SCHEDULE', 'CRON', 'ZONE', timeHeading('NEXT', zone), 'RUNS', 'LAST', 'GPUS', 'SCRIPT'],
    ...rows.map((s) => [s.schedule_id.slice(0, 8), s.cron, s.time_zone, s.paused_at ? 'paused' : formatTime(s.next_due_at, zone, 'cell'), String(s.runs),
      s.last_job_id ? `${s.last_job_id.slice(0, 8)} ${s.last_job_status ?? ''}`.trim() : '-', gpuRequestText(s) ?? '-', s.script_path]),
  ]);
}

const scheduleLine = (s: ScheduleRow) => `${s.schedule_id}  ${s.cron} (${s.time_zone})  ${s.paused_at ? 'paused' : `next ${formatTime(s.next_due_at)}`}`;

const findSchedule = (store: LabStore, idOrPrefix: string): Promise<ScheduleRow> =>
  findByIdOrPrefix(idOrPrefix, async (id) => {
    const hit = (await store.listSchedules()).find((s) => s.schedule_id === id);
    if (!hit) throw new CliFailure(`no schedule ${id} among yours`);
    return hit;
  }, () => store.listSchedules(), (s) => s.schedule_id, { one: 'schedule', many: 'schedules', lister: 'lab-agent schedule ls' });

const scheduleArg = (args: string[]) => idArg(args, 'schedule', 'lab-agent schedule ls');

function onSchedule(name: string, summary: string, act: (store: LabStore, s: ScheduleRow) => Promise<ScheduleRow>): Command {
  return defineCommand({
    name: `schedule ${name}`,
    summary,
    usage: `lab-agent schedule ${name} <schedule> [--json]`,
    json: true,
    async run({ args, env, out }) {
      const id = scheduleArg(args);
      const row = await withUserStore(env, async (store) => act(store, await findSchedule(store, id)));
      out.data(row, scheduleLine);
    },
  });
}

export const scheduleCommands: Command[] = [
  defineCommand({
    name: 'schedule add',
    summary: 'run a script at each time a cron line names (in your time zone); prints the schedule id',
    usage: `lab-agent schedule add '<cron>' <script> [--tz Area/City] [--catch-up N] [--host H] [--timeout S] [--priority N] [--retries N [--retry-delay 60s]] ${GPU_USAGE} [--json] [-- args…]`,
    json: true,
    scriptArgsAfter: 2,
    options: {
      tz: { type: 'string', help: 'the time zone of the cron line', whenAbsent: 'your local zone' },
      'catch-up': { type: 'string', help: 'runs to make up after the agent was down', whenAbsent: '1' },
      host: JOB_HOST_OPTION, timeout: JOB_TIMEOUT_OPTION,
      priority: QUEUE_SUBMIT_OPTIONS.priority, retries: QUEUE_SUBMIT_OPTIONS.retries, 'retry-delay': QUEUE_SUBMIT_OPTIONS['retry-delay'],
      ...GPU_OPTIONS,
    },
    async run({ args, rest, options, env, out }) {
      if (args.length !== 2) throw new UsageError("give the cron line (quoted) and the script: schedule add '0 3 * * *' eval.py -- --ckpt latest");
      const [cron, path] = args as [string, string];
      const timeZone = (options.tz as string | undefined) ?? memberTimeZone();
      const catchUp = options['catch-up'] === undefined ? 1 : Number(options['catch-up']);
      if (!Number.isInteger(catchUp) || catchUp < 0 || catchUp > 100) throw new UsageError('--catch-up takes how many missed runs to make up after downtime, 0 to 100');
      const timeout = options.timeout === undefined ? null : Number(options.timeout);
      if (timeout !== null && (!Number.isInteger(timeout) || timeout <= 0)) throw new UsageError('--timeout takes whole seconds, e.g. --timeout 3600');
      const { CronError, checkCron, nextDueAfter } = await loadCron();
      let nextDueAt: Date;
      try {
        checkCron(cron, timeZone);
        nextDueAt = nextDueAfter(cron, timeZone, new Date());
      } catch (err) {
        if (err instanceof CronError) throw new UsageError(err.message);
        throw err;
      }
      const { priority, retries, retryDelayS } = queueOptions(options);
      const gpu = gpuOptions(options);
      const row = await withUserStore(env, async (store, config) => {
        const script = await checkScript(path, config.home);
        await store.syncScripts({ upserts: [script], deletes: [] });
        return store.addSchedule({
          cron, timeZone, nextDueAt, catchUp, scriptPath: script.path, args: rest.length ? JSON.stringify(rest) : null,
          host: (options.host as string) ?? null, timeoutS: timeout, priority, retries, retryDelayS, ...gpu,
        });
      });
      out.data(row, (s: ScheduleRow) => s.schedule_id);
      if (!out.json) process.stderr.write(`first run at ${formatTime(row.next_due_at)}${timeZone === memberTimeZone() ? '' : `; the cron line is read in ${timeZone}`}\n`);
    },
  }),
  defineCommand({
    name: 'schedule ls',
    summary: 'your schedules: cron line, zone, next due time, runs, last job',
    usage: 'lab-agent schedule ls [--json]',
    json: true,
    async run({ env, out }) {
      out.data(await withUserStore(env, (store) => store.listSchedules()), schedulesTable);
    },
  }),
  onSchedule('rm', 'remove a schedule (the jobs it made stay)', (store, s) => store.removeSchedule(s.schedule_id)),
  onSchedule('pause', 'stop a schedule from firing until resumed', (store, s) => store.pauseSchedule(s.schedule_id)),
  onSchedule('resume', 'fire a paused schedule again, from its next due time after now (missed ones are not made up)', async (store, s) =>
    store.resumeSchedule({ scheduleId: s.schedule_id, nextDueAt: (await loadCron()).nextDueAfter(s.cron, s.time_zone, new Date()) })),
];
