// The store's operations, each one SQL function call through whichever transport is configured.
import type { Identity } from './identity.js';
import type {
  AgentPoll, AgentRow, AgentWork, ClaimJobs, ClaimSessions, HostRow, JobEnd, JobRow, LifecycleEvent, MarkSessionRunning, ScriptRow, ScriptState, ScriptUpsert, SessionRow,
  PollAgent, StartJob, SubmitJob, Tails, Transport, WakeEvent,
} from './types.js';
import type { Database } from './database.types.js';
import type { GpuRequest } from '../gpu/request.js';
import type {
  HostDrain, QueueOptions, ScheduleFired, ScheduleRow, SweepAxis, SweepCellSpec, SweepRow, SweepView,
} from './queue-types.js';

type Functions = Database['public']['Functions'];
type ArgsOf<F extends keyof Functions> = Functions[F] extends { Args: infer A } ? A : never;
/**
 * A function's parameter names as generated from the SQL (database.types.ts), each required one
 * required and nothing else allowed: a renamed or removed parameter fails `npm run typecheck`.
 * Values are not checked against the generated types (they have no nulls); the row types are ours.
 */
type NamedArgs<F extends keyof Functions> = { [K in keyof ArgsOf<F>]: unknown };

/**
 * Every method takes at most one argument: an id, or one object whose fields are named (no
 * optional positionals: `failJob({ jobId, error, via })`, not `failJob(id, error, {}, null, null, via)`).
 */
export class LabStore {
  /** identity: how the agent proved whom it acts for (absent for stores made by tests and tools). */
  constructor(readonly transport: Transport, readonly userId: string, readonly identity?: Identity) {}

  get kind(): Transport['kind'] {
    return this.transport.kind;
  }

  private call<F extends keyof Functions, T>(fn: F, args: NamedArgs<F>): Promise<T> {
    return this.transport.rpc<T>(fn, args as Record<string, unknown>);
  }

  /** A set-returning function: each row's value. */
  private callRows<F extends keyof Functions, T>(fn: F, args: NamedArgs<F>): Promise<T[]> {
    return this.transport.rpcRows<T>(fn, args as Record<string, unknown>);
  }

  private async callCommittedAfter<F extends keyof Functions, T>(fn: F, args: NamedArgs<F>, action: () => Promise<void>): Promise<T> {
    if (this.transport.rpcCommittedAfter) return this.transport.rpcCommittedAfter<T>(fn, args as Record<string, unknown>, action);
    await action();
    return this.call<F, T>(fn, args);
  }

  // jobs ----------------------------------------------------------------------------------
  submitJob(j: SubmitJob): Promise<JobRow> {
    return this.call('job_submit', {
      p_script_path: j.scriptPath ?? null, p_args: j.args ?? null, p_host: j.host ?? null,
      p_timeout_s: j.timeoutS ?? null, p_script_id: j.scriptId ?? null, ...queueArgs(j),
      p_slurm_partition: j.slurm?.partition ?? null, p_cpus: j.slurm?.cpus ?? null, p_mem_mb: j.slurm?.memMb ?? null,
      p_time_limit_min: j.slurm?.timeMin ?? null, ...gpuArgs(j),
    });
  }
  /**
   * Ready jobs (dependencies met, inside their sweep's limit), highest priority first; none on a
   * drained host. gpus: what this tick's probe saw of the host's GPUs (null: not looked, GPU jobs wait).
   */
  claimJobs(c: ClaimJobs): Promise<JobRow[]> {
    return this.call('job_claim', {
      p_agent_id: c.agentId, p_host: c.host, p_limit: c.limit, p_default_retries: c.defaultRetries ?? 0, p_gpus: c.gpus ?? null,
      p_gpu_reserve_after_s: c.gpuReserveAfterS ?? 600, p_gpu_lease_stale_s: c.gpuLeaseStaleS ?? 600,
    });
  }
  startJob(s: StartJob): Promise<JobRow> {
    return this.call('job_start', {
      p_job_id: s.jobId, p_agent_id: s.agentId, p_pid: s.pid, p_pid_start: s.pidStart,
      p_interpreter: s.interpreter, p_command: s.command, p_log_dir: s.logDir,
      p_stdout_path: s.stdoutPath, p_stderr_path: s.stderrPath,
    });
  }
  /** What Slurm says of a claimed or running job (its id, state, reason, node); an event when it changes. */
  slurmUpdateJob(u: { jobId: string; slurmJobId?: string | null; state?: string | null; reason?: string | null; node?: string | null }): Promise<JobRow> {
    return this.call('job_slurm_update', {
      p_job_id: u.jobId, p_slurm_job_id: u.slurmJobId ?? null, p_state: u.state ?? null, p_reason: u.reason ?? null, p_node: u.node ?? null,
    });
  }
  /** New tails (null: unchanged) and the heartbeat. */
  heartbeatJob(h: { jobId: string } & Tails): Promise<JobRow> {
    return this.call('job_heartbeat', { p_job_id: h.jobId, p_stdout_tail: h.stdoutTail ?? null, p_stderr_tail: h.stderrTail ?? null });
  }
  finishJob(f: JobEnd & { finishedAt?: string | null }): Promise<JobRow> {
    return this.call('job_finish', {
      p_job_id: f.jobId, p_retcode: f.retcode ?? null, p_signal: f.signal ?? null, p_stdout_tail: f.stdoutTail ?? null,
      p_stderr_tail: f.stderrTail ?? null, p_finished_at: f.finishedAt ?? null, p_result: f.result ?? null,
    });
  }
  /**
   * `via`: the machine state that failed it, recorded with the event for the visualizer. `retry`:
   * the run itself failed (lost), so it goes back to the queue while retries are left; never for bad input.
   */
  failJob(f: JobEnd & { error: string; via?: string | null; retry?: boolean }): Promise<JobRow> {
    return this.call('job_fail', {
      p_job_id: f.jobId, p_error: f.error, p_stdout_tail: f.stdoutTail ?? null,
      p_stderr_tail: f.stderrTail ?? null, p_retcode: f.retcode ?? null, p_signal: f.signal ?? null, p_via: f.via ?? null,
      p_retry: f.retry ?? false, p_result: f.result ?? null,
    });
  }
  requestCancel(jobId: string): Promise<JobRow> {
    return this.call('job_request_cancel', { p_job_id: jobId });
  }
  markCancelled(c: JobEnd): Promise<JobRow> {
    return this.call('job_mark_cancelled', {
      p_job_id: c.jobId, p_retcode: c.retcode ?? null, p_signal: c.signal ?? null,
      p_stdout_tail: c.stdoutTail ?? null, p_stderr_tail: c.stderrTail ?? null,
    });
  }
  markStopping(s: { jobId: string; reason: string }): Promise<JobRow> {
    return this.call('job_mark_stopping', { p_job_id: s.jobId, p_reason: s.reason });
  }
  /** Back to pending, or failed once it has been claimed `maxClaims` times (LAB_JOB_START_TRIES). */
  releaseJob(r: { jobId: string; reason: string; maxClaims: number; via?: string | null }): Promise<JobRow> {
    return this.call('job_release', { p_job_id: r.jobId, p_reason: r.reason, p_max_claims: r.maxClaims, p_via: r.via ?? null });
  }
  beginNotify(n: { jobId: string; agentId: string; leaseS?: number }): Promise<JobRow | null> {
    return this.call('job_notify_begin', { p_job_id: n.jobId, p_agent_id: n.agentId, p_lease_s: n.leaseS ?? 120 });
  }
  markNotified(jobId: string): Promise<JobRow> {
    return this.call('job_mark_notified', { p_job_id: jobId });
  }
  /** Marks the job notified with no email sent, and why, for `status` wherever it runs (another LAB_EMAIL). */
  markNotEmailed(n: { jobId: string; reason: string }): Promise<JobRow> {
    return this.call('job_mark_not_emailed', { p_job_id: n.jobId, p_reason: n.reason });
  }
  /** Sends a job's email through `send` and records notified_at as one step (see rpcCommittedAfter). */
  markNotifiedOnSend(n: { jobId: string; send: () => Promise<void> }): Promise<JobRow> {
    return this.callCommittedAfter('job_mark_notified', { p_job_id: n.jobId }, n.send);
  }
  notifyFailed(n: { jobId: string; error: string; retryAt: Date | null }): Promise<JobRow> {
    return this.call('job_notify_failed', { p_job_id: n.jobId, p_error: n.error, p_retry_at: n.retryAt?.toISOString() ?? null });
  }
  getJob(jobId: string): Promise<JobRow> {
    return this.call('job_get', { p_job_id: jobId });
  }
  listJobs(l: { limit?: number; status?: string | null } = {}): Promise<JobRow[]> {
    return this.call('jobs_list', { p_limit: l.limit ?? 50, p_status: l.status ?? null });
  }
  agentWork(host: string): Promise<AgentWork> {
    return this.call('jobs_for_agent', { p_host: host });
  }
  /**
   * An agent's whole "anything for me?" as one request: its heartbeat (registering it), the users
   * row and the host's resources when given, and the work (jobs_for_agent's, plus Jupyter sessions).
   */
  pollAgent(p: PollAgent): Promise<AgentPoll> {
    return this.call('agent_poll', {
      p_agent_id: p.agentId, p_host: p.host, p_version: p.version, p_mode: p.mode, p_pid: p.pid,
      p_heartbeat_every_s: p.heartbeatEveryS ?? null, p_linux_user: p.user?.linuxUser ?? null, p_email: p.user?.email ?? null,
      p_resources: p.resources ?? null,
    });
  }
  history(subjectId: string): Promise<LifecycleEvent[]> {
    return this.call('lifecycle_history', { p_subject_id: subjectId });
  }

  // sweeps ------------------------------------------------------------------------------------
  /** One job per cell (the grid expanded by the caller, see queue/sweep-grid.ts); the options apply to every cell. */
  submitSweep(w: SubmitJob & { cells: SweepCellSpec[]; axes?: SweepAxis[]; maxParallel?: number | null; notifyEach?: boolean }): Promise<SweepView> {
    return this.call('sweep_submit', {
      p_script_path: w.scriptPath ?? null, p_cells: w.cells, p_args: w.args ?? null, p_axes: w.axes ?? null,
      p_max_parallel: w.maxParallel ?? null, p_host: w.host ?? null, p_timeout_s: w.timeoutS ?? null,
      p_script_id: w.scriptId ?? null, p_notify_each: w.notifyEach ?? false, ...queueArgs(w), ...gpuArgs(w),
    });
  }
  getSweep(sweepId: string): Promise<SweepView> {
    return this.call('sweep_get', { p_sweep_id: sweepId });
  }
  listSweeps(l: { limit?: number } = {}): Promise<SweepRow[]> {
    return this.call('sweeps_list', { p_limit: l.limit ?? 20 });
  }
  /** Running cells are asked to stop, pending ones end at once. */
  cancelSweep(sweepId: string): Promise<SweepView> {
    return this.call('sweep_request_cancel', { p_sweep_id: sweepId });
  }
  /** The sweep's one email: the grid when this agent holds the lease, null when not due or another agent has it. */
  beginSweepNotify(n: { sweepId: string; agentId: string; leaseS?: number }): Promise<SweepView | null> {
    return this.call('sweep_notify_begin', { p_sweep_id: n.sweepId, p_agent_id: n.agentId, p_lease_s: n.leaseS ?? 120 });
  }
  markSweepNotifiedOnSend(n: { sweepId: string; send: () => Promise<void> }): Promise<SweepRow> {
    return this.callCommittedAfter('sweep_mark_notified', { p_sweep_id: n.sweepId }, n.send);
  }
  sweepNotifyFailed(n: { sweepId: string; error: string; retryAt: Date | null }): Promise<SweepRow> {
    return this.call('sweep_notify_failed', { p_sweep_id: n.sweepId, p_error: n.error, p_retry_at: n.retryAt?.toISOString() ?? null });
  }

  // schedules ---------------------------------------------------------------------------------
  /** nextDueAt: the cron line's first due time after now (queue/cron.ts). */
  addSchedule(a: Omit<SubmitJob, 'after' | 'afterAny' | 'scriptId'> & { cron: string; nextDueAt: Date; timeZone?: string | null; catchUp?: number | null }): Promise<ScheduleRow> {
    return this.call('schedule_add', {
      p_cron: a.cron, p_script_path: a.scriptPath ?? null, p_next_due_at: a.nextDueAt.toISOString(), p_time_zone: a.timeZone ?? null,
      p_args: a.args ?? null, p_host: a.host ?? null, p_timeout_s: a.timeoutS ?? null, p_priority: a.priority ?? 0,
      p_retries: a.retries ?? null, p_retry_delay_s: a.retryDelayS ?? null, p_catch_up: a.catchUp ?? 1, ...gpuArgs(a),
    });
  }
  listSchedules(): Promise<ScheduleRow[]> {
    return this.call('schedules_list', {});
  }
  removeSchedule(scheduleId: string): Promise<ScheduleRow> {
    return this.call('schedule_remove', { p_schedule_id: scheduleId });
  }
  pauseSchedule(scheduleId: string): Promise<ScheduleRow> {
    return this.call('schedule_pause', { p_schedule_id: scheduleId });
  }
  resumeSchedule(r: { scheduleId: string; nextDueAt: Date }): Promise<ScheduleRow> {
    return this.call('schedule_resume', { p_schedule_id: r.scheduleId, p_next_due_at: r.nextDueAt.toISOString() });
  }
  /** dueAt: next_due_at as read; dueTimes: the due times from it up to now; nextDueAt: the first after now. */
  fireSchedule(f: { scheduleId: string; dueAt: string; dueTimes: Date[]; nextDueAt: Date }): Promise<ScheduleFired> {
    return this.call('schedule_fire', {
      p_schedule_id: f.scheduleId, p_due_at: f.dueAt, p_due_times: f.dueTimes.map((d) => d.toISOString()), p_next_due_at: f.nextDueAt.toISOString(),
    });
  }
  setTimeZone(timeZone: string): Promise<{ time_zone: string }> {
    return this.call('user_set_time_zone', { p_time_zone: timeZone });
  }

  // drains ------------------------------------------------------------------------------------
  drainHost(d: { host: string; note?: string | null }): Promise<HostDrain> {
    return this.call('host_drain', { p_host: d.host, p_note: d.note ?? null });
  }
  resumeHost(host: string): Promise<{ host: string; resumed: boolean; lab_drained: boolean }> {
    return this.call('host_resume', { p_host: host });
  }
  /** My drains and the lab's. */
  listDrains(): Promise<HostDrain[]> {
    return this.call('host_drains_list', {});
  }

  // Jupyter sessions ---------------------------------------------------------------------
  requestJupyter(r: { dir?: string | null; host?: string | null; app?: string | null } & Partial<GpuRequest> = {}): Promise<SessionRow> {
    return this.call('jupyter_request', {
      p_dir: r.dir ?? null, p_host: r.host ?? null, p_app: r.app ?? null, p_gpus: r.gpus ?? 0, p_gpu_mem_mib: r.gpuMemMiB ?? null, p_gpu_model: r.gpuModel ?? null,
    });
  }
  /** Pending sessions for this host, oldest first; a GPU session only with its GPUs (as claimJobs). */
  claimJupyter(c: ClaimSessions): Promise<SessionRow[]> {
    return this.call('jupyter_claim', {
      p_agent_id: c.agentId, p_host: c.host, p_limit: c.limit, p_executor: c.executor ?? null, p_gpus: c.gpus ?? null,
      p_gpu_reserve_after_s: c.gpuReserveAfterS ?? 600, p_gpu_lease_stale_s: c.gpuLeaseStaleS ?? 600,
    });
  }
  /** What Slurm says of a session's batch job (its id, state, reason, node); an event when it changes. */
  slurmUpdateSession(u: { sessionId: string; slurmJobId?: string | null; state?: string | null; reason?: string | null; node?: string | null }): Promise<SessionRow> {
    return this.call('jupyter_slurm_update', {
      p_session_id: u.sessionId, p_slurm_job_id: u.slurmJobId ?? null, p_state: u.state ?? null, p_reason: u.reason ?? null, p_node: u.node ?? null,
    });
  }
  markJupyterRunning(m: MarkSessionRunning): Promise<SessionRow> {
    return this.call('jupyter_mark_running', {
      p_session_id: m.sessionId, p_port: m.port, p_token: m.token, p_pid: m.pid, p_pid_start: m.pidStart,
      p_url: m.url, p_log_path: m.logPath ?? null, p_app: m.app ?? null, p_tunnel: m.tunnel ?? null,
    });
  }
  requestJupyterStop(sessionId: string): Promise<SessionRow> {
    return this.call('jupyter_request_stop', { p_session_id: sessionId });
  }
  beginJupyterStop(s: { sessionId: string; reason?: string | null }): Promise<SessionRow> {
    return this.call('jupyter_begin_stop', { p_session_id: s.sessionId, p_reason: s.reason ?? null });
  }
  markJupyterStopped(s: { sessionId: string; reason?: string | null }): Promise<SessionRow> {
    return this.call('jupyter_mark_stopped', { p_session_id: s.sessionId, p_reason: s.reason ?? null });
  }
  failJupyter(f: { sessionId: string; error: string }): Promise<SessionRow> {
    return this.call('jupyter_fail', { p_session_id: f.sessionId, p_error: f.error });
  }
  markJupyterNotified(sessionId: string): Promise<SessionRow> {
    return this.call('jupyter_mark_notified', { p_session_id: sessionId });
  }
  markJupyterNotifiedOnSend(n: { sessionId: string; send: () => Promise<void> }): Promise<SessionRow> {
    return this.callCommittedAfter('jupyter_mark_notified', { p_session_id: n.sessionId }, n.send);
  }
  getSession(sessionId: string): Promise<SessionRow> {
    return this.call('jupyter_get', { p_session_id: sessionId });
  }
  listSessions(l: { limit?: number; activeOnly?: boolean; host?: string | null } = {}): Promise<SessionRow[]> {
    return this.call('jupyter_list', { p_limit: l.limit ?? 50, p_active_only: l.activeOnly ?? false, p_host: l.host ?? null });
  }

  // hosts ----------------------------------------------------------------------------------
  /** This agent's host's resources, for every member to read (host_resources). */
  publishHost(h: { agentId: string; host: string; resources: object }): Promise<HostRow> {
    return this.call('host_publish', { p_agent_id: h.agentId, p_host: h.host, p_resources: h.resources });
  }
  /** Every host's resources; with history, each GPU's utilisation over the last hour. */
  listHosts(l: { history?: boolean } = {}): Promise<HostRow[]> {
    return this.call('hosts_list', { p_history: l.history ?? false });
  }

  // agents, user, scripts ------------------------------------------------------------------
  registerAgent(a: { agentId: string; host: string; version: string; mode: string; pid: number }): Promise<AgentRow> {
    return this.call('agent_register', { p_agent_id: a.agentId, p_host: a.host, p_version: a.version, p_mode: a.mode, p_pid: a.pid });
  }
  heartbeatAgent(h: { agentId: string; stopped?: boolean }): Promise<AgentRow> {
    return this.call('agent_heartbeat', { p_agent_id: h.agentId, p_stopped: h.stopped ?? false });
  }
  /** The member's users row, and (with host) which Linux account their agent is on that host. */
  ensureUser(u: { linuxUser: string; email: string | null; host?: string | null }): Promise<{ user_id: string; linux_user: string; email: string | null }> {
    return this.call('user_ensure', { p_linux_user: u.linuxUser, p_email: u.email, p_host: u.host ?? null });
  }
  /** The member's email as the account authority recorded it (Supabase Auth once confirmed, or the DB admin); null when unknown. */
  verifiedEmail(): Promise<string | null> {
    return this.call('user_verified_email', {});
  }
  /** The secret NOTIFY channel of the member (Postgres transport wake-ups). */
  wakeChannel(): Promise<string> {
    return this.call('agent_wake_channel', {});
  }
  whoami(): Promise<{ user_id: string; user: { linux_user: string; email: string | null } | null }> {
    return this.call('user_whoami', {});
  }
  listScripts(): Promise<ScriptRow[]> {
    return this.call('scripts_list', {});
  }
  /** The member's scripts as the inventory sync compares them, in no order: the compact rows
   * [path, size, mtime ms, kernel] of scripts_for_sync_pieces (a quarter of scripts_list's server
   * time), sent in pieces of up to 128 rows (why: its migration, 20261204000200). */
  async scriptsForSync(): Promise<ScriptState[]> {
    const pieces = await this.callRows<'scripts_for_sync_pieces', [string, number | null, number | null, string | null][]>('scripts_for_sync_pieces', {});
    const out: ScriptState[] = [];
    // Loops and indexes, not flatMap and a destructuring pattern: this runs once per script in a
    // fresh process, where V8 still interprets it and destructuring goes through the iterator protocol.
    for (const piece of pieces) for (const r of piece) out.push({ path: r[0], size: r[1], mtime: r[2], kernel: r[3] });
    return out;
  }
  syncScripts(s: { upserts: ScriptUpsert[]; deletes: string[] }): Promise<{ inserted: number; updated: number; deleted: number }> {
    return this.call('scripts_sync', { p_upserts: s.upserts, p_deletes: s.deletes });
  }
  schemaVersion(): Promise<string | null> {
    return this.call('lab_schema_version', {});
  }
  /** Every applied version, from the agent's history and the Supabase CLI's. */
  schemaApplied(): Promise<string[]> {
    return this.call('lab_schema_applied', {});
  }

  listen(onWake: (event: WakeEvent) => void): Promise<() => Promise<void>> {
    return this.transport.listen(onWake);
  }
  /** Whether wake-ups arrive now (false while Realtime is not subscribed): a cancel then waits for a poll. */
  get wakeUpsLive(): boolean {
    return this.transport.wakeUpsLive?.() ?? true;
  }
  close(): Promise<void> {
    return this.transport.close();
  }
}

/** The queue's options as the SQL functions name them. */
/** A GPU request (submit, sweep, schedule) as the SQL functions take it. */
function gpuArgs(g: Pick<SubmitJob, 'gpus' | 'gpuMemMiB' | 'gpuModel'>) {
  return { p_gpus: g.gpus ?? 0, p_gpu_mem_mib: g.gpuMemMiB ?? null, p_gpu_model: g.gpuModel ?? null };
}

function queueArgs(o: QueueOptions) {
  return {
    p_priority: o.priority ?? 0, p_retries: o.retries ?? null, p_retry_delay_s: o.retryDelayS ?? null,
    p_after: o.after?.length ? o.after : null, p_after_any: o.afterAny ?? false,
  };
}
