// The job lifecycle's names, once: the statuses a job row can have (the SQL check constraint on
// jobs.status lists exactly these; test/machine-states.test.ts compares them), and the states of the
// job machine (the same test walks the machine). `via` in lifecycle_events names one of the states.

/** jobs.status. */
export const JOB_STATUSES = ['pending', 'claimed', 'running', 'finished', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Where a job's machine waits for the next TICK, or ends: a step ends in one of these. */
export const JOB_RESTING_STATES = ['pending', 'claimed', 'running.waiting', 'ended.finished', 'ended.failed', 'ended.cancelled', 'notified'] as const;

/** The states a step passes through within one tick. */
export const JOB_PASSING_STATES = [
  'restoring', 'starting.launching', 'starting.failing', 'starting.releasing',
  'running.probing', 'running.signalling', 'running.killing', 'running.pushingTails', 'concluding', 'notifying',
] as const;

export type JobStateId = (typeof JOB_RESTING_STATES)[number] | (typeof JOB_PASSING_STATES)[number];

/** The state a row in each status starts in (a notified one starts in `notified`). */
export const JOB_STATE_OF_STATUS = {
  pending: 'pending', claimed: 'claimed', running: 'running.waiting',
  finished: 'ended.finished', failed: 'ended.failed', cancelled: 'ended.cancelled',
} as const satisfies Record<JobStatus, JobStateId>;
