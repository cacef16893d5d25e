// A job's attempts (issue 17): where each attempt's logs go, what a run reports as its result, and
// which failures are worth running again.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobOutcome, JobProbe } from '../../machines/job-rules.js';
import { readTail } from '../host/tail.js';
import { OUTPUT_NOTEBOOK } from '../runner/prepare.js';
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

/** The value of the last good `LAB_RESULT <json>` line (one that is not JSON, or too big, is passed over). */
function lastResult(lines: string[]): unknown {
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
 * The value of the last `LAB_RESULT <json>` line among the last MiB of stdout, or null when there
 * is none (a line that is not JSON, or too big, is passed over: an earlier good one counts).
 */
async function readLabResult(stdoutPath: string | null): Promise<unknown> {
  if (!stdoutPath) return null;
  const text = await readTail(stdoutPath, { maxBytes: RESULT_WINDOW_BYTES, maxLines: Number.MAX_SAFE_INTEGER });
  return lastResult(text.split('\n'));
}

/** An executed notebook bigger than this (plots, tables) is not read for a result. */
const NOTEBOOK_MAX_BYTES = 64 << 20;

interface NotebookOutput {
  output_type?: string;
  name?: string;
  text?: string | string[];
}

/** The last LAB_RESULT line a notebook printed: nbconvert keeps its prints in the output cells, not in stdout. */
async function readNotebookResult(path: string): Promise<unknown> {
  const size = (await stat(path).catch(() => null))?.size;
  if (size === undefined || size > NOTEBOOK_MAX_BYTES) return null;
  const nb = JSON.parse(await readFile(path, 'utf8')) as { cells?: { outputs?: NotebookOutput[] }[] };
  const printed = (nb.cells ?? []).flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === 'stream' && o.name === 'stdout');
  return lastResult(printed.map((o) => [o.text ?? ''].flat().join('')).join('').split('\n'));
}

/** A run's result: a notebook's from its executed copy (when it has one), else the last in stdout. */
export async function readRunResult(job: Pick<JobRow, 'script_path' | 'log_dir' | 'stdout_path'>): Promise<unknown> {
  if (job.script_path?.endsWith('.ipynb') && job.log_dir) {
    const fromNotebook = await readNotebookResult(join(job.log_dir, OUTPUT_NOTEBOOK)).catch(() => null);
    if (fromNotebook !== null) return fromNotebook;
  }
  return readLabResult(job.stdout_path);
}

/**
 * A failure of the run itself, worth another attempt while retries are left: the process was lost
 * (its machine or agent died). A stop the agent made (timeout) and a full disk are not: running
 * again would end the same way. A non-zero exit is retried by job_finish itself.
 */
export function isRetryableFailure(job: JobRow, outcome: JobOutcome, probe: JobProbe | null): boolean {
  return outcome.kind === 'fail' && !job.stop_reason && !probe?.exit;
}
