// The page's calls, written once over DataSource.rpc: each is one SQL function.
import type { AgentItem, HostItem, JobListItem, JobPage, JobRow, LifecycleEvent, ScriptRow, SessionRow } from '../types.js';
import { JOBS_PAGE_SIZE } from '../../../src/services/web/web-boot.js';
import type { DataSource } from './source.js';

export interface JobFilter {
  statuses: string[];
  host: string | null;
  script: string | null;
  q: string;
}

export interface Cursor {
  created: string;
  id: string;
}

/** One page of the list: the size the agent's boot data uses too. */
export const PAGE_SIZE = JOBS_PAGE_SIZE;

export const jobsPage = (s: DataSource, f: JobFilter, before: Cursor | null, limit = PAGE_SIZE): Promise<JobPage> =>
  s.rpc('jobs_page', {
    p_limit: limit, p_statuses: f.statuses.length ? f.statuses : null, p_host: f.host, p_script: f.script,
    p_q: f.q.trim() || null, p_before_created: before?.created ?? null, p_before_id: before?.id ?? null,
  });

export const cursorAfter = (j: JobListItem): Cursor => ({ created: j.created_at, id: j.job_id });
export const jobsFacets = (s: DataSource): Promise<{ hosts: string[]; scripts: string[] }> => s.rpc('jobs_facets');
export const getJob = (s: DataSource, id: string): Promise<JobRow> => s.rpc('job_get', { p_job_id: id });
export const history = (s: DataSource, id: string): Promise<LifecycleEvent[]> => s.rpc('lifecycle_history', { p_subject_id: id });
export const cancelJob = (s: DataSource, id: string): Promise<JobRow> => s.rpc('job_request_cancel', { p_job_id: id });

export interface Submit {
  scriptId: number | null;
  scriptPath: string | null;
  args: string | null;
  host: string | null;
  timeoutS: number | null;
  /** GPUs to wait for (0: none) and a model glob. */
  gpus?: number;
  gpuModel?: string | null;
}

export const submitJob = (s: DataSource, j: Submit): Promise<JobRow> =>
  s.rpc('job_submit', {
    p_script_id: j.scriptId, p_script_path: j.scriptId === null ? j.scriptPath : null, p_args: j.args, p_host: j.host, p_timeout_s: j.timeoutS,
    ...(j.gpus ? { p_gpus: j.gpus, p_gpu_model: j.gpuModel ?? null } : {}),
  });

/** The same script, arguments, host and timeout as an earlier job. */
export const resubmit = (s: DataSource, j: Pick<JobRow, 'script_id' | 'script_path' | 'args' | 'host' | 'timeout_s' | 'gpus' | 'gpu_model'>): Promise<JobRow> =>
  submitJob(s, { scriptId: j.script_id, scriptPath: j.script_path, args: j.args, host: j.host, timeoutS: j.timeout_s, gpus: j.gpus, gpuModel: j.gpu_model });

export const searchScripts = (s: DataSource, q: string, limit = 20): Promise<ScriptRow[]> => s.rpc('scripts_search', { p_q: q.trim() || null, p_limit: limit });
export const getScript = async (s: DataSource, id: number): Promise<ScriptRow | null> => (await s.rpc<ScriptRow[]>('scripts_search', { p_script_id: id }))[0] ?? null;
export const sessions = (s: DataSource, limit = 50): Promise<SessionRow[]> => s.rpc('jupyter_list', { p_limit: limit });
export const startJupyter = (s: DataSource, dir: string | null, host: string | null, app: string | null): Promise<SessionRow> =>
  s.rpc('jupyter_request', { p_dir: dir, p_host: host, p_app: app });
export const stopJupyter = (s: DataSource, id: string): Promise<SessionRow> => s.rpc('jupyter_request_stop', { p_session_id: id });
export const agents = (s: DataSource): Promise<AgentItem[]> => s.rpc('agents_list');
/** Every host's published resources, each GPU with its last hour of utilisation. */
export const hosts = (s: DataSource): Promise<HostItem[]> => s.rpc('hosts_list', { p_history: true });
