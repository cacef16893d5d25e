// Slurm's view of the member's jobs: ONE squeue call per agent pass, whatever the number of jobs
// (a controller answers every squeue with a scan of its whole queue, and a lab's agent must not
// be the reason a cluster's admins rate-limit it). Every job step in a pass reads the same answer.
import { userInfo } from 'node:os';
import type { SlurmClient } from './slurm-cli.js';

export interface SlurmJobView {
  id: string;
  /** Slurm's long state name: PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT … */
  state: string;
  /** Why it waits (Resources, Priority, QOSMaxJobsPerUserLimit …) or why it ended (TimeLimit, NonZeroExitCode …); null for None. */
  reason: string | null;
  /** Where it runs (or ran); null while pending. */
  nodes: string | null;
  startedAt: string | null;
  endedAt: string | null;
  /** As squeue prints it: 1:00, 1-00:00:00, UNLIMITED. */
  timeLimit: string | null;
  name: string;
}

/** %j last: a job's name may hold the separator, everything before it cannot. */
const SQUEUE_FORMAT = '%i|%T|%r|%N|%S|%e|%l|%j';

function squeueArgs(user: string): string[] {
  return ['--noheader', '--states=all', `--user=${user}`, `--format=${SQUEUE_FORMAT}`];
}

const none = (v: string | undefined): string | null => (!v || v === 'None' || v === 'N/A' || v === 'Unknown' || v === '(null)' ? null : v);
/** squeue's times (SLURM_TIME_FORMAT=standard) are the cluster's local time without a zone. */
const isoTime = (v: string | undefined): string | null => {
  const t = none(v);
  if (!t) return null;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
};

export function parseSqueue(text: string): Map<string, SlurmJobView> {
  const jobs = new Map<string, SlurmJobView>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const parts = line.split('|');
    if (parts.length < 8) continue;
    const [id, state, reason, nodes, start, end, limit] = parts;
    jobs.set(id!.trim(), {
      id: id!.trim(),
      state: state!.trim(),
      reason: none(reason?.trim()),
      nodes: none(nodes?.trim()),
      startedAt: isoTime(start?.trim()),
      endedAt: isoTime(end?.trim()),
      timeLimit: none(limit?.trim()),
      name: parts.slice(7).join('|'),
    });
  }
  return jobs;
}

/** States in which the job has not started yet; Slurm may still run it. */
const WAITING_STATES = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD']);
/** States in which its processes are (or may still be) there. */
const LIVE_STATES = new Set(['RUNNING', 'COMPLETING', 'SUSPENDED', 'STOPPED', 'SIGNALING', 'STAGE_OUT', 'RESIZING']);

export const isWaiting = (v: SlurmJobView): boolean => WAITING_STATES.has(v.state);
export const isLive = (v: SlurmJobView): boolean => LIVE_STATES.has(v.state);
/** It ended, one way or another (COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL …). */
export const hasEnded = (v: SlurmJobView): boolean => !isWaiting(v) && !isLive(v);

/**
 * The member's jobs as Slurm sees them, asked for once per pass: the driver calls newPass()
 * when a pass begins, and every view() in that pass shares one squeue call, made only if some
 * step needs it (an idle pass asks nothing). A pass sooner than `minIntervalMs` after the last
 * call reuses its answer: a supervisor passes every 500 ms while jobs run, and a cluster's
 * controller should not hear from every member's agent twice a second.
 */
export class SlurmQueue {
  private current: Promise<Map<string, SlurmJobView>> | null = null;
  /** squeue calls made so far (benchmarks and tests count them). */
  calls = 0;
  /** When the answer in hand was asked for (epoch ms); 0 before the first call. */
  askedAt = 0;

  constructor(
    private readonly client: SlurmClient,
    private readonly user: string = userInfo().username,
    private readonly minIntervalMs = 0,
  ) {}

  newPass(now = Date.now()): void {
    if (now - this.askedAt >= this.minIntervalMs) this.current = null;
  }

  /** Rejects (SlurmCommandError) when squeue fails: no answer is never read as "the jobs are gone". */
  view(): Promise<Map<string, SlurmJobView>> {
    if (!this.current) {
      this.calls++;
      this.askedAt = Date.now();
      // A failure, too, is the answer for the rest of the pass (its steps wait for the next one).
      const asked = this.client.run('squeue', squeueArgs(this.user)).then(parseSqueue);
      asked.catch(() => (this.askedAt = 0)); // a failed call is not reused by later passes
      this.current = asked;
    }
    return this.current;
  }
}
