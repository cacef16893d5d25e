// The queue's rows and calls (issue 17): sweeps, dependencies, retries, priorities, drains and
// schedules, as the SQL functions in supabase/migrations/202612010005xx return and take them.
import type { JobRow, JobStatus } from './types.js';

/** The queue's columns of a job row (the row always has them; optional for rows made by hand). */
export interface QueueColumns {
  priority?: number;
  /** Retries of a failed run; null until claimed (then the agent's LAB_JOB_RETRIES). */
  retries?: number | null;
  retry_delay_s?: number | null;
  /** 1 for the first run; n for the n-th. */
  attempt?: number;
  /** Each ended attempt, once there was a retry. */
  attempts?: AttemptRecord[];
  not_before?: string | null;
  deps_left?: number;
  after_any?: boolean;
  held?: boolean;
  sweep_id?: string | null;
  sweep_index?: number | null;
  sweep_params?: Record<string, string> | null;
  schedule_id?: string | null;
  scheduled_for?: string | null;
  /** The run's last `LAB_RESULT {json}` line of stdout. */
  result?: unknown;
  /** Why a pending job does not start yet; null when it only waits for a free slot. */
  pending_reason?: string | null;
}

interface AttemptRecord {
  attempt: number;
  status: JobStatus;
  run_host: string | null;
  started_at: string | null;
  ended_at: string | null;
  retcode: number | null;
  signal: string | null;
  error: string | null;
  log_dir: string | null;
  result: unknown;
}

/** Options every queued job may carry (submit, sweep, schedule). */
export interface QueueOptions {
  priority?: number | null;
  retries?: number | null;
  retryDelayS?: number | null;
  /** Job or sweep ids (full) to wait for. */
  after?: string[] | null;
  /** Start once they ended, however they ended. */
  afterAny?: boolean;
}

export interface SweepCellSpec {
  args: string | null;
  params: Record<string, string>;
}

export interface SweepAxis {
  name: string;
  values: string[];
}

export interface SweepRow {
  sweep_id: string;
  user_id: string;
  script_path: string;
  args: string | null;
  axes: SweepAxis[];
  cells: number;
  max_parallel: number | null;
  notify_each: boolean;
  /** What each cell asks for (20261202000100): 0 for none. */
  gpus?: number;
  gpu_mem_mib?: number | null;
  gpu_model?: string | null;
  created_at: string;
  finished_at: string | null;
  notified_at: string | null;
  notify_attempts: number;
  notify_error: string | null;
  notify_next_at: string | null;
  /** How many of its cells are in each state. */
  counts: Partial<Record<JobStatus, number>>;
}

export interface SweepCell {
  job_id: string;
  sweep_index: number;
  params: Record<string, string>;
  args: string | null;
  status: JobStatus;
  retcode: number | null;
  signal: string | null;
  error: string | null;
  result: unknown;
  attempt: number;
  retries: number | null;
  pending_reason: string | null;
  run_host: string | null;
  started_at: string | null;
  finished_at: string | null;
  notified_at: string | null;
}

export interface SweepView {
  sweep: SweepRow;
  jobs: SweepCell[];
}

export interface ScheduleRow {
  schedule_id: string;
  user_id: string;
  cron: string;
  time_zone: string;
  script_path: string;
  args: string | null;
  host: string | null;
  timeout_s: number | null;
  priority: number;
  retries: number | null;
  retry_delay_s: number | null;
  catch_up: number;
  /** What each job it fires asks for (20261202000100): 0 for none. */
  gpus?: number;
  gpu_mem_mib?: number | null;
  gpu_model?: string | null;
  next_due_at: string;
  paused_at: string | null;
  last_fired_at: string | null;
  last_job_id: string | null;
  runs: number;
  skipped: number;
  created_at: string;
  /** schedules_list only: the status of the last job it made. */
  last_job_status?: JobStatus | null;
}

export interface ScheduleFired {
  fired: boolean;
  jobs: JobRow[];
  skipped?: number;
  next_due_at: string;
  reason?: string;
}

export interface HostDrain {
  drain_id: number;
  user_id: string | null;
  host: string;
  note: string | null;
  drained_at: string;
  lab_wide?: boolean;
}

/** What jobs_for_agent adds for the queue. */
export interface QueueWork {
  drained: boolean;
  sweeps_notify_due: SweepRow[];
  schedules_due: ScheduleRow[];
  /** When something becomes due by itself (a retry's not_before, a schedule), after db_now; null: nothing. */
  next_wake_at: string | null;
  /** The database's clock when it answered: next_wake_at is compared with it, not with this host's. */
  db_now?: string;
}
