// The Jupyter-session lifecycle's names, once: the statuses a session row can have (the SQL check
// constraint on jupyter_sessions.status lists exactly these; test/machine-states.test.ts compares
// them), and the states of the Jupyter machine (the same test walks the machine).

/** jupyter_sessions.status. */
export const SESSION_STATUSES = ['pending', 'starting', 'running', 'stopping', 'stopped', 'failed'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** Where a session's machine waits for the next TICK, or ends: a step ends in one of these. */
export const JUPYTER_RESTING_STATES = ['pending', 'starting.waiting', 'running.waiting', 'stopping.waiting', 'stopped', 'failed'] as const;

/** The states a step passes through within one tick. */
export const JUPYTER_PASSING_STATES = [
  'restoring', 'starting.findingLaunch', 'starting.launching', 'starting.awaitingHealth', 'starting.markingRunning',
  'running.probing', 'running.checkingEmail', 'running.notifying', 'concluding', 'stopping.halting', 'failing',
] as const;

export type JupyterStateId = (typeof JUPYTER_RESTING_STATES)[number] | (typeof JUPYTER_PASSING_STATES)[number];

/** The state a row in each status starts in. */
export const JUPYTER_STATE_OF_STATUS = {
  pending: 'pending', starting: 'starting.waiting', running: 'running.waiting', stopping: 'stopping.waiting', stopped: 'stopped', failed: 'failed',
} as const satisfies Record<SessionStatus, JupyterStateId>;
