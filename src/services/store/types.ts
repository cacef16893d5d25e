// The store: one interface over the SQL functions in supabase/migrations, whatever the transport.
import type { QueueColumns, QueueOptions, QueueWork } from './queue-types.js';

export type JobStatus = 'pending' | 'claimed' | 'running' | 'finished' | 'failed' | 'cancelled';
type SessionStatus = 'pending' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface JobRow extends QueueColumns {
  job_id: string;
  user_id: string;
  script_id: number | null;
  script_path: string | null;
  args: string | null;
  status: JobStatus;
  host: string | null;
  run_host: string | null;
  agent_id: string | null;
  claimed_at: string | null;
  claim_count: number;
  pid: number | null;
  pid_start: string | null;
  interpreter: string | null;
  command: string[] | null;
  log_dir: string | null;
  stdout_path: string | null;
  stderr_path: string | null;
  retcode: number | null;
  signal: string | null;
  stdout_tail: string | null;
  stderr_tail: string | null;
  error: string | null;
  timeout_s: number | null;
  heartbeat_at: string | null;
  cancel_requested_at: string | null;
  /** When SIGTERM was sent to stop it, and why ('cancel' or 'timeout after Ns'). */
  kill_sent_at: string | null;
  stop_reason: string | null;
  notified_at: string | null;
  notify_attempts: number;
  notify_error: string | null;
  notify_next_at: string | null;
  /** Why the agent sent no end-of-run email (LAB_EMAIL empty; the sweep's one email covers this cell); null when it sent one. */
  no_email_reason: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  /** GPUs asked for (0: none), and optionally a minimum free memory each and a model glob. */
  gpus: number;
  gpu_mem_mib: number | null;
  gpu_model: string | null;
  /** The GPUs the claim leased, and the CUDA_VISIBLE_DEVICES the job got. */
  gpu_uuids: string[] | null;
  cuda_visible_devices: string | null;
  /** Why a pending job waits (GPUs not free ...), for the member. */
  pending_reason: string | null;
}

export interface SessionRow {
  session_id: string;
  user_id: string;
  status: SessionStatus;
  host: string | null;
  run_host: string | null;
  agent_id: string | null;
  dir: string | null;
  app: string | null;
  port: number | null;
  token: string | null;
  pid: number | null;
  pid_start: string | null;
  url: string | null;
  /** The SSH tunnel a loopback-bound server is reached through; null when the URL works as it is. */
  tunnel: string | null;
  log_path: string | null;
  error_message: string | null;
  stop_requested_at: string | null;
  /** When the agent began stopping it (SIGTERM): the kill grace counts from here. */
  stopping_at: string | null;
  notified_at: string | null;
  created_at: string;
  started_at: string | null;
  stopped_at: string | null;
  updated_at: string;
  /** GPUs asked for (0: none), the free memory each must have, a model pattern (issue 16). */
  gpus?: number;
  gpu_mem_mib?: number | null;
  gpu_model?: string | null;
  /** What a local agent's claim leased (in index order) and what the server got in CUDA_VISIBLE_DEVICES. */
  gpu_uuids?: string[] | null;
  cuda_visible_devices?: string | null;
  /** Why a pending session waits (for GPUs), for the member. */
  pending_reason?: string | null;
  /** Which executor runs it, set by the claim: 'local' (the agent's host) or 'slurm' (a batch job). */
  executor?: 'local' | 'slurm' | null;
  slurm_job_id?: string | null;
  /** What Slurm last said of its batch job: PENDING, RUNNING …, and why it waits (Resources …). */
  slurm_state?: string | null;
  slurm_reason?: string | null;
  /** The compute node its server runs on. */
  slurm_node?: string | null;
}

export interface ScriptRow {
  script_id: number;
  path: string;
  type: 'py' | 'ipynb';
  size: number | null;
  mtime: string | null;
  kernel: string | null;
  updated_at: string;
}

export interface LifecycleEvent {
  event_id: number;
  subject: 'job' | 'jupyter';
  subject_id: string;
  from_status: string | null;
  to_status: string;
  at: string;
  detail: Record<string, unknown>;
}

export interface AgentRow {
  agent_id: string;
  user_id: string;
  host: string;
  version: string | null;
  mode: string | null;
  pid: number | null;
  started_at: string;
  heartbeat_at: string;
  stopped_at: string | null;
  /** The poll interval the agent promised (agent_poll): its liveness waits for 2.5 of them. */
  heartbeat_every_s?: number | null;
}

export interface AgentWork extends Partial<QueueWork> {
  active: JobRow[];
  notify_due: JobRow[];
  pending: number;
}

/** What one agent_poll answers: the job work, and this host's active Jupyter sessions (pending ones of any host included). */
export interface AgentPoll extends AgentWork {
  sessions: SessionRow[];
  /** Why the host's resources sent with the poll were not published (the rest of the poll went through). */
  publish_error?: string | null;
}

/** What one agent_poll sends: who polls (its heartbeat), and the rows it keeps up to date on the way. */
export interface PollAgent {
  agentId: string;
  host: string;
  version: string;
  mode: string;
  pid: number;
  /** The poll interval (s): the heartbeat the agent promises. */
  heartbeatEveryS?: number | null;
  /** The member's users row and host binding (user_ensure), when given. */
  user?: { linuxUser: string; email: string | null } | null;
  /** The host's resources (host_publish), when due. */
  resources?: object | null;
}

/** A stored script as the inventory sync compares it (scripts_for_sync_pieces): the mtime as whole epoch ms. */
export interface ScriptState {
  path: string;
  size: number | null;
  mtime: number | null;
  kernel: string | null;
}

export interface ScriptUpsert {
  path: string;
  type: 'py' | 'ipynb';
  size: number;
  mtime: string;
  kernel?: string | null;
}

/** A wake-up: something an agent may have to react to changed (a NOTIFY or a Realtime event). */
export interface WakeEvent {
  subject: 'job' | 'jupyter' | 'resync';
  id?: string;
  status?: string;
  /** created, status (a transition), request (a cancel or stop was asked for), or wake (a resume; a schedule new, resumed or due earlier). */
  action?: 'created' | 'status' | 'request' | 'wake';
}

/** What a transport provides: call a SQL function by name, and hear about changes. */
export interface Transport {
  readonly kind: 'local' | 'postgres' | 'supabase';
  /** Calls public.<fn>(named args) as the acting user; every function returns jsonb. */
  rpc<T>(fn: string, args: Record<string, unknown>): Promise<T>;
  /** Calls a set-returning public.<fn> like rpc: each row's value, in the order they came. */
  rpcRows<T>(fn: string, args: Record<string, unknown>): Promise<T[]>;
  /**
   * Optional: calls public.<fn> like rpc, then `action`, and commits only once `action` has
   * succeeded (rolled back, and the action's error rethrown, if it fails). Used to record an email
   * as sent in the same step as the SMTP server's acceptance: the commit goes out the moment the
   * send returns. Without it the store runs the action first and the call right after.
   */
  rpcCommittedAfter?<T>(fn: string, args: Record<string, unknown>, action: (result: T) => Promise<void>): Promise<T>;
  /** Starts wake-ups; the returned function stops them. */
  listen(onWake: (event: WakeEvent) => void): Promise<() => Promise<void>>;
  /** Optional: false while wake-ups are known not to arrive (Realtime not subscribed); absent: they do. */
  wakeUpsLive?(): boolean;
  close(): Promise<void>;
}

/** What a member does when the Supabase session on a machine has ended for good. */
export const LOGIN_AGAIN = 'run `lab-agent login` again';

export class StoreError extends Error {
  constructor(message: string, readonly code?: string) {
    // The SQL functions tag their own exceptions `lab: ` (to tell them apart in the server's log);
    // the member reads the sentence alone.
    super(message.replace(/^lab: /, ''));
    this.name = 'StoreError';
  }
  /** The call did not fit the row's current state (SQL state 55000). */
  get isWrongState(): boolean {
    return this.code === '55000';
  }
  get isNotFound(): boolean {
    return this.code === 'P0002';
  }
}

export interface SubmitJob extends QueueOptions {
  scriptPath?: string | null;
  scriptId?: number | null;
  args?: string | null;
  host?: string | null;
  timeoutS?: number | null;
  /** Slurm requests (LAB_EXECUTOR=slurm), each overriding the agent's setting. */
  slurm?: { partition?: string | null; cpus?: number | null; memMb?: number | null; timeMin?: number | null };
  /** GPUs (a count), each with at least gpuMemMiB free, of a model matching gpuModel (a glob). */
  gpus?: number;
  gpuMemMiB?: number | null;
  gpuModel?: string | null;
}

export interface ClaimJobs {
  agentId: string;
  host: string;
  limit: number;
  /** This agent's LAB_JOB_RETRIES, for jobs that did not say. */
  defaultRetries?: number;
  /** The host's GPUs as this tick's probe saw them (src/services/gpu/agent-gpus.ts); null: GPU jobs wait. */
  gpus?: object | null;
  gpuReserveAfterS?: number;
  gpuLeaseStaleS?: number;
}

/** jupyter_claim's request: as ClaimJobs, and the executor that will run what it claims. */
export interface ClaimSessions extends Omit<ClaimJobs, 'defaultRetries'> {
  executor?: 'local' | 'slurm';
}

/** A host's published resources (host_resources) as hosts_list returns them. */
interface HostGpuRow {
  index: number;
  uuid: string;
  model: string;
  memory_total_mib: number | null;
  memory_used_mib: number | null;
  utilization_pct: number | null;
  temperature_c: number | null;
  processes: number;
  unusable: string | null;
  leased: boolean;
  free: boolean;
  /** [ISO time, utilisation %] over the last hour, with hosts_list's history. */
  history?: [string, number | null][];
}

export interface HostRow {
  host: string;
  updated_at: string;
  seconds_since_update: number;
  gpu_status: string | null;
  gpu_problem: string | null;
  gpus: HostGpuRow[];
  cpu_count: number | null;
  load_1m: number | null;
  mem_total_mib: number | null;
  mem_free_mib: number | null;
  /** Drained for the caller (20261202000100): by the lab's administrator or by the caller; null if not. */
  drain?: HostDrainMark | null;
}

export interface HostDrainMark {
  by: 'lab' | 'you';
  note: string | null;
  drained_at: string;
}

export interface StartJob {
  jobId: string;
  agentId: string;
  pid: number | null;
  pidStart: string | null;
  interpreter: string;
  command: string[];
  logDir: string;
  stdoutPath: string;
  stderrPath: string;
}

export interface Tails {
  stdoutTail?: string | null;
  stderrTail?: string | null;
}

/** How a job's process ended, for finishJob, failJob and markCancelled. */
export interface JobEnd extends Tails {
  jobId: string;
  retcode?: number | null;
  signal?: string | null;
  /** The run's last `LAB_RESULT {json}` line of stdout. */
  result?: unknown;
}

export interface MarkSessionRunning {
  sessionId: string;
  port: number;
  token: string;
  /** The server's pid on this host; null when it runs elsewhere (a Slurm compute node). */
  pid: number | null;
  pidStart: string | null;
  url: string;
  tunnel?: string | null;
  logPath?: string;
  app?: string;
}
