// A job's attempts (issue 17): where each attempt's logs go, what a run reports as its result, and
// which failures are worth running again.
import { join } from 'node:path';
import type { JobOutcome, JobProbe } from '../../machines/job-machine.js';
import { readTail } from '../host/tail.js';
import type { JobRow } from '../store/types.js';

/**
 * The first attempt's logs are in <logRoot>/<job_id>/ (as for every job); a retry's in
 * <logRoot>/<job_id>/attempt-<n>/, so every attempt's logs stay.
 */
export function attemptLogDir(logRoot: string, job: Pick<JobRow, 'job_id' | 'attempt'>): string {
  const base = join(logRoot, job.job_id);
  return (job.attempt ?? 1) > 1 ? join(base, `attempt-${job.attempt}`) : base;
}

/** How far back in stdout a result line is looked for. */
const RESULT_WINDOW_BYTES = 1 << 20;
/** The column's limit (lab_jobs_result_size_check), with room for jsonb's own overhead. */
const RESULT_MAX_CHARS = 60_000;
const RESULT_LINE = /^LAB_RESULT\s+(.+?)\s*$/;

/**
 * The value of the last `LAB_RESULT <json>` line among the last MiB of stdout, or null when there
 * is none (a line that is not JSON, or too big, is passed over: an earlier good one counts).
 */
export async function readLabResult(stdoutPath: string | null): Promise<unknown> {
  if (!stdoutPath) return null;
  const text = await readTail(stdoutPath, { maxBytes: RESULT_WINDOW_BYTES, maxLines: Number.MAX_SAFE_INTEGER });
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = RESULT_LINE.exec(lines[i]!);
    if (!m || m[1]!.length > RESULT_MAX_CHARS) continue;
    try {
      return JSON.parse(m[1]!) as unknown;
    } catch {
      // not JSON: look further back
    }
  }
  return null;
}

/**
 * A failure of the run itself, worth another attempt while retries are left: the process was lost
 * (its machine or agent died). A stop the agent made (timeout) and a full disk are not: running
 * again would end the same way. A non-zero exit is retried by job_finish itself.
 */
export function isRetryableFailure(job: JobRow, outcome: JobOutcome, probe: JobProbe | null): boolean {
  return outcome.kind === 'fail' && !job.stop_reason && !probe?.exit;
}
