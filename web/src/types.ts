// Row shapes, as the SQL functions return them (the agent's own types, shared).
export type { HostRow as HostItem, JobRow, LifecycleEvent, ScriptRow, SessionRow } from '../../src/services/store/types.js';
import type { AgentRow, JobRow } from '../../src/services/store/types.js';

/** A job as jobs_page lists it: no tails, no argv; columns added later (GPUs) pass through. */
export type JobListItem = Omit<JobRow, 'stdout_tail' | 'stderr_tail' | 'command' | 'pid_start'> & Partial<Pick<JobRow, 'stdout_tail' | 'stderr_tail'>> & Record<string, unknown>;

export interface JobPage {
  jobs: JobListItem[];
  has_more: boolean;
  total: number;
  counts: Partial<Record<string, number>>;
}

export interface AgentItem extends AgentRow {
  alive: boolean;
  seconds_since_heartbeat: number;
}

export interface NotebookParam {
  name: string;
  source: string;
  value: string;
  kind: 'int' | 'float' | 'bool' | 'str' | 'other';
  comment: string | null;
}

export interface LogChunk {
  available: boolean;
  reason?: string;
  status?: string;
  from: number;
  to: number;
  size: number;
  text: string;
}
