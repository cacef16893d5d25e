// The job lifecycle's rules, as pure functions of the row, the probe and the TICK's time: when a
// stop is due, when SIGKILL is, when tails go to the row, when an email is due, and how a job ended.
// The job machine (job-machine.ts) asks them; the driver asks isQuiet to skip a step altogether.
import type { JobRow } from '../services/store/types.js';
import type { RowContext } from './kit.js';
import { ms } from './timestamps.js';

/** What an agent sees of a job's process from its log folder and /proc. */
export interface JobProbe {
  /** The wrapper's exit record, once the process has ended. */
  exit: { code: number | null; signal: string | null; endedAt: string; diskFull?: boolean } | null;
  /** The process (pid and start time as recorded) is still there. */
  alive: boolean;
  stdoutTail: string;
  stderrTail: string;
}

/** How a job ends, decided here and carried out by the concludeJob actor. */
export type JobOutcome =
  | { kind: 'finish'; retcode: number | null; signal: string | null; finishedAt: string | null }
  | { kind: 'fail'; error: string; retcode: number | null; signal: string | null }
  | { kind: 'cancel'; retcode: number | null; signal: string | null };

export interface JobMachineInput {
  row: JobRow;
  now: number;
  /** SIGTERM → SIGKILL (LAB_KILL_GRACE_S). */
  killGraceMs: number;
  /** Tails go to the row at most this often while running. */
  heartbeatMs: number;
  /** LAB_JOB_TIMEOUT, used when the job has no timeout_s; 0 = none. */
  defaultTimeoutS: number;
}

export interface JobContext extends JobMachineInput, RowContext<JobRow> {
  probe: JobProbe | null;
  /** A problem found while starting, for the failing step. */
  error: string | null;
}

/** Raised by startJob for bad input (missing script, bad args ...): the job fails, no retry. */
export const INPUT_ERROR = 'JobInputError';

function timeoutSeconds(c: Pick<JobContext, 'row' | 'defaultTimeoutS'>): number {
  return c.row.timeout_s ?? c.defaultTimeoutS;
}

function isTimedOut(c: Pick<JobContext, 'row' | 'defaultTimeoutS' | 'now'>): boolean {
  const limit = timeoutSeconds(c);
  const started = ms(c.row.started_at);
  return limit > 0 && started !== null && c.now - started >= limit * 1000;
}

type Timing = Pick<JobContext, 'row' | 'now' | 'killGraceMs' | 'heartbeatMs' | 'defaultTimeoutS'>;

/** A cancel or a timeout that has not been signalled yet. */
export function mustSignal(c: Timing): boolean {
  return c.row.kill_sent_at === null && (c.row.cancel_requested_at !== null || isTimedOut(c));
}

/** SIGTERM went long enough ago: SIGKILL is due. */
export function isGraceOver(c: Timing): boolean {
  const sent = ms(c.row.kill_sent_at);
  return sent !== null && c.now - sent >= c.killGraceMs;
}

const heartbeatDue = (c: Timing): boolean => c.now - (ms(c.row.heartbeat_at) ?? 0) >= c.heartbeatMs;

/**
 * Pure: a running job whose process is still alive has nothing for a step to do: no stop to
 * signal, no grace over, no tails due. The driver then skips its step (no probe, no machine).
 */
export function isQuiet(c: Timing): boolean {
  return c.row.status === 'running' && !mustSignal(c) && !isGraceOver(c) && !heartbeatDue(c);
}

export function isNotifyDue(job: JobRow, now: number): boolean {
  if (job.notified_at) return false;
  const next = ms(job.notify_next_at);
  return next === null || next <= now;
}

/**
 * Pure: the outcome once the process has ended, or vanished without a record. A job the agent
 * stopped (stop_reason, recorded before the signal) ends by that stop whatever its exit code:
 * a cancelled job that exits 0 on SIGTERM is cancelled, a timed-out one failed.
 */
export function outcomeOf(job: JobRow, probe: JobProbe | null): JobOutcome {
  if (job.status === 'claimed') return { kind: 'cancel', retcode: null, signal: null };
  const exit = probe?.exit;
  if (!exit) {
    return {
      kind: 'fail', retcode: null, signal: null,
      error: 'lost: the process is gone and left no exit record (the machine restarted, or the job was killed together with its recorder)',
    };
  }
  if (job.stop_reason === 'cancel') return { kind: 'cancel', retcode: exit.code, signal: exit.signal };
  if (job.stop_reason) return { kind: 'fail', error: job.stop_reason, retcode: exit.code, signal: exit.signal };
  if (exit.diskFull) {
    // Its output was cut short whatever its exit code says; the folder is the one the member set (LAB_LOG_DIR).
    const folder = (job.log_dir ?? '').replace(/\/[^/]+\/?$/, '') || 'the log disk';
    const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
    return { kind: 'fail', retcode: exit.code, signal: exit.signal, error: `no space left on ${folder}: the disk filled up while the job ran (${how}), so its logs are cut short` };
  }
  return { kind: 'finish', retcode: exit.code, signal: exit.signal, finishedAt: exit.endedAt };
}

/** The probe read tails other than the row's, and the heartbeat is due: they go to the row. */
export function tailsDue(c: Timing, probe: JobProbe): boolean {
  const changed = probe.stdoutTail !== (c.row.stdout_tail ?? '') || probe.stderrTail !== (c.row.stderr_tail ?? '');
  return changed && heartbeatDue(c);
}

/** What a stop is for: the member's cancel, or the timeout. */
export const stopReason = (c: Pick<JobContext, 'row' | 'defaultTimeoutS'>): string =>
  c.row.cancel_requested_at ? 'cancel' : `timeout after ${timeoutSeconds(c)}s`;
