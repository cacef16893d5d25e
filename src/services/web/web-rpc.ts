// The SQL functions the page may call through the agent's API, with the arguments each takes.
// The page's other data source (supabase-js from the static build) calls the same functions by
// the same names, so the rules stay in SQL once. Nothing here lets the page act as an agent
// (claim, start, finish ...), and p_user_id is never taken from a browser: the store adds who acts.
import type { LabStore } from '../store/lab-store.js';
import { StoreError } from '../store/types.js';

const PAGE_FUNCTIONS: Readonly<Record<string, readonly string[]>> = {
  jobs_page: ['p_limit', 'p_statuses', 'p_host', 'p_script', 'p_q', 'p_before_created', 'p_before_id'],
  jobs_facets: [],
  job_get: ['p_job_id'],
  job_submit: ['p_script_path', 'p_args', 'p_host', 'p_timeout_s', 'p_script_id', 'p_gpus', 'p_gpu_model'],
  job_request_cancel: ['p_job_id'],
  lifecycle_history: ['p_subject_id'],
  scripts_search: ['p_q', 'p_limit', 'p_script_id'],
  jupyter_list: ['p_limit', 'p_active_only', 'p_host'],
  jupyter_get: ['p_session_id'],
  jupyter_request: ['p_dir', 'p_host', 'p_app'],
  jupyter_request_stop: ['p_session_id'],
  agents_list: [],
  hosts_list: ['p_history'],
  // The queue (issue 17): the member's sweeps, schedules and the drains that apply to them.
  sweeps_list: ['p_limit'],
  sweep_get: ['p_sweep_id'],
  sweep_request_cancel: ['p_sweep_id'],
  schedules_list: [],
  schedule_pause: ['p_schedule_id'],
  schedule_resume: ['p_schedule_id', 'p_next_due_at'],
  host_drains_list: [],
  user_whoami: [],
  dashboard_changes: ['p_since'],
};

export class RpcRefused extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/** The checked arguments: an object with only the function's own parameter names. */
export function pageRpcArgs(fn: string, body: unknown): Record<string, unknown> {
  const allowed = Object.hasOwn(PAGE_FUNCTIONS, fn) ? PAGE_FUNCTIONS[fn] : undefined;
  if (!allowed) throw new RpcRefused(`${fn} is not a function the page may call`, 404);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RpcRefused('the body must be a JSON object of arguments', 400);
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (!allowed.includes(k)) throw new RpcRefused(`${fn} takes no argument ${k}`, 400);
    args[k] = v;
  }
  return args;
}

/** An HTTP status for a store error, by SQL state: not found, not yours, wrong state, bad input. */
export function statusOfStoreError(err: StoreError): number {
  if (err.isNotFound) return 404;
  if (err.code === '42501') return 403;
  if (err.isWrongState) return 409;
  if (err.code?.startsWith('22') || err.code?.startsWith('23')) return 400;
  return 500;
}

export function callPageFunction(store: LabStore, fn: string, body: unknown): Promise<unknown> {
  return store.transport.rpc(fn, pageRpcArgs(fn, body));
}

export { StoreError };
