// Schedules falling due (issue 17): an agent's pass fires each due schedule once. The due times
// come from the cron line here (croner); schedule_fire decides which make a job (one per due time,
// one catch-up run after downtime by default) and, of several agents racing, lets one win.
import type { LabStore } from '../store/lab-store.js';
import type { ScheduleRow } from '../store/queue-types.js';
import type { Logger } from '../logger.js';
import { dueTimes } from './cron.js';

/** Fires the due schedules; returns how many fired and how many jobs they made. One schedule's trouble never stops the others. */
export async function fireDueSchedules(store: LabStore, log: Logger, due: ScheduleRow[], now = new Date()): Promise<{ fired: number; made: number }> {
  let made = 0;
  let firedCount = 0;
  for (const s of due) {
    try {
      const { due: times, next } = dueTimes(s.cron, s.time_zone, new Date(s.next_due_at), now);
      const fired = await store.fireSchedule({ scheduleId: s.schedule_id, dueAt: s.next_due_at, dueTimes: times, nextDueAt: next });
      if (fired.fired) {
        firedCount++;
        made += fired.jobs.length;
        log.info({ schedule: s.schedule_id, jobs: fired.jobs.map((j) => j.job_id), skipped: fired.skipped, next: fired.next_due_at }, 'schedule fired');
      }
    } catch (err) {
      log.error({ schedule: s.schedule_id, err: (err as Error).message }, 'could not fire a schedule');
    }
  }
  return { fired: firedCount, made };
}
