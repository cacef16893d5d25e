// The page's calls for the queue (issue 17), over DataSource.rpc like the rest: the member's
// sweeps (the grid, cancel), schedules (pause, resume) and the drains that apply to them.
import type { HostDrain, ScheduleRow, SweepRow, SweepView } from '../../../src/services/store/queue-types.js';
import type { DataSource } from './source.js';

export type { HostDrain, ScheduleRow, SweepCell, SweepRow, SweepView } from '../../../src/services/store/queue-types.js';

export const sweeps = (s: DataSource, limit = 50): Promise<SweepRow[]> => s.rpc('sweeps_list', { p_limit: limit });
export const getSweep = (s: DataSource, id: string): Promise<SweepView> => s.rpc('sweep_get', { p_sweep_id: id });
export const cancelSweep = (s: DataSource, id: string): Promise<SweepView> => s.rpc('sweep_request_cancel', { p_sweep_id: id });
export const schedules = (s: DataSource): Promise<ScheduleRow[]> => s.rpc('schedules_list');
export const pauseSchedule = (s: DataSource, id: string): Promise<ScheduleRow> => s.rpc('schedule_pause', { p_schedule_id: id });

/**
 * Resumes from the cron line's next due time after now, in the schedule's zone (as `schedule resume`
 * does). The cron library is loaded only here, so opening the page does not pay for it.
 */
export async function resumeSchedule(s: DataSource, r: Pick<ScheduleRow, 'schedule_id' | 'cron' | 'time_zone'>): Promise<ScheduleRow> {
  const { nextDueAfter } = await import('../../../src/services/queue/cron.js');
  return s.rpc('schedule_resume', { p_schedule_id: r.schedule_id, p_next_due_at: nextDueAfter(r.cron, r.time_zone, new Date()).toISOString() });
}

export const drains = (s: DataSource): Promise<HostDrain[]> => s.rpc('host_drains_list');
