// Cron lines for schedules (issue 17), read by croner (npm `croner`): five fields (minute hour
// day-of-month month day-of-week, day-of-month OR day-of-week as in Vixie cron) or a nickname
// (@daily, @hourly …), in an IANA time zone. Pure: the caller passes the clock.
import { Cron } from 'croner';

/** Missed due times looked at when an agent was down: enough for any catch-up (at most 100). */
export const MAX_DUE_TIMES = 200;

export class CronError extends Error {
  override name = 'CronError';
}

function parse(cron: string, timeZone: string): Cron {
  const line = cron.trim();
  if (!line.startsWith('@') && line.split(/\s+/).length !== 5) {
    throw new CronError(`"${cron}" is not a cron line: five fields (minute hour day month weekday) such as "0 3 * * *", or @daily, @hourly …`);
  }
  try {
    return new Cron(line, { timezone: timeZone, paused: true });
  } catch (err) {
    throw new CronError(`"${cron}" is not a cron line: ${(err as Error).message.replace(/^CronPattern: /, '')}`);
  }
}

/** Throws CronError with the reason when the line or the zone is not valid. */
export function checkCron(cron: string, timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
  } catch {
    throw new CronError(`${timeZone} is not a time zone name (an IANA name such as Asia/Tokyo or Europe/Berlin)`);
  }
  if (!parse(cron, timeZone).nextRun()) throw new CronError(`"${cron}" never falls due`);
}

/** The first due time strictly after `after`. */
export function nextDueAfter(cron: string, timeZone: string, after: Date): Date {
  const next = parse(cron, timeZone).nextRun(after);
  if (!next) throw new CronError(`"${cron}" never falls due after ${after.toISOString()}`);
  return next;
}

/**
 * The due times from `from` (included) up to `now` (included), the latest `max` of them, and the
 * first one after now.
 */
export function dueTimes(cron: string, timeZone: string, from: Date, now: Date, max = MAX_DUE_TIMES): { due: Date[]; next: Date } {
  const c = parse(cron, timeZone);
  const due: Date[] = [];
  // nextRun is strictly after its argument: start a millisecond before `from` to include it.
  let t = c.nextRun(new Date(from.getTime() - 1));
  while (t && t.getTime() <= now.getTime()) {
    due.push(t);
    if (due.length > max) due.shift();
    t = c.nextRun(t);
  }
  if (!t) throw new CronError(`"${cron}" never falls due after ${now.toISOString()}`);
  return { due, next: t };
}
