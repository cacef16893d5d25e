// The store's operations, each one SQL function call through whichever transport is configured.
import type { Identity } from './identity.js';
import type {
  AgentRow, AgentWork, JobRow, LifecycleEvent, MarkSessionRunning, ScriptRow, ScriptUpsert, SessionRow,
  StartJob, SubmitJob, Tails, Transport, WakeEvent,
} from './types.js';
import type { Database } from './database.types.js';

type Functions = Database['public']['Functions'];
type ArgsOf<F extends keyof Functions> = Functions[F] extends { Args: infer A } ? A : never;
/**
 * A function's parameter names as generated from the SQL (database.types.ts), each required one
 * required and nothing else allowed: a renamed or removed parameter fails `npm run typecheck`.
 * Values are not checked against the generated types (they have no nulls); the row types are ours.
 */
type NamedArgs<F extends keyof Functions> = { [K in keyof ArgsOf<F>]: unknown };

export class LabStore {
  /** identity: how the agent proved whom it acts for (absent for stores made by tests and tools). */
  constructor(readonly transport: Transport, readonly userId: string, readonly identity?: Identity) {}

  get kind(): Transport['kind'] {
    return this.transport.kind;
  }

  private call<F extends keyof Functions, T>(fn: F, args: NamedArgs<F>): Promise<T> {
    return this.transport.rpc<T>(fn, args as Record<string, unknown>);
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
      p_timeout_s: j.timeoutS ?? null, p_script_id: j.scriptId ?? null,
    });
  }
  claimJobs(agentId: string, host: string, limit: number): Promise<JobRow[]> {
    return this.call('job_claim', { p_agent_id: agentId, p_host: host, p_limit: limit });
  }
  startJob(s: StartJob): Promise<JobRow> {
    return this.call('job_start', {
      p_job_id: s.jobId, p_agent_id: s.agentId, p_pid: s.pid, p_pid_start: s.pidStart,
      p_interpreter: s.interpreter, p_command: s.command, p_log_dir: s.logDir,
      p_stdout_path: s.stdoutPath, p_stderr_path: s.stderrPath,
    });
  }
  heartbeatJob(jobId: string, tails: Tails = {}): Promise<JobRow> {
    return this.call('job_heartbeat', { p_job_id: jobId, p_stdout_tail: tails.stdoutTail ?? null, p_stderr_tail: tails.stderrTail ?? null });
  }
  finishJob(jobId: string, retcode: number | null, signal: string | null, tails: Tails = {}, finishedAt?: string): Promise<JobRow> {
    return this.call('job_finish', {
      p_job_id: jobId, p_retcode: retcode, p_signal: signal, p_stdout_tail: tails.stdoutTail ?? null,
      p_stderr_tail: tails.stderrTail ?? null, p_finished_at: finishedAt ?? null,
    });
  }
  /** `via`: the machine state that failed it, recorded with the event for the visualizer. */
  failJob(jobId: string, error: string, tails: Tails = {}, retcode: number | null = null, signal: string | null = null, via: string | null = null): Promise<JobRow> {
    return this.call('job_fail', {
      p_job_id: jobId, p_error: error, p_stdout_tail: tails.stdoutTail ?? null,
      p_stderr_tail: tails.stderrTail ?? null, p_retcode: retcode, p_signal: signal, p_via: via,
    });
  }
  requestCancel(jobId: string): Promise<JobRow> {
    return this.call('job_request_cancel', { p_job_id: jobId });
  }
  markCancelled(jobId: string, retcode: number | null, signal: string | null, tails: Tails = {}): Promise<JobRow> {
    return this.call('job_mark_cancelled', {
      p_job_id: jobId, p_retcode: retcode, p_signal: signal,
      p_stdout_tail: tails.stdoutTail ?? null, p_stderr_tail: tails.stderrTail ?? null,
    });
  }
  markStopping(jobId: string, reason: string): Promise<JobRow> {
    return this.call('job_mark_stopping', { p_job_id: jobId, p_reason: reason });
  }
  releaseJob(jobId: string, reason: string, maxClaims = 3, via: string | null = null): Promise<JobRow> {
    return this.call('job_release', { p_job_id: jobId, p_reason: reason, p_max_claims: maxClaims, p_via: via });
  }
  beginNotify(jobId: string, agentId: string, leaseS = 120): Promise<JobRow | null> {
    return this.call('job_notify_begin', { p_job_id: jobId, p_agent_id: agentId, p_lease_s: leaseS });
  }
  markNotified(jobId: string): Promise<JobRow> {
    return this.call('job_mark_notified', { p_job_id: jobId });
  }
  /** Sends a job's email through `send` and records notified_at as one step (see rpcCommittedAfter). */
  markNotifiedOnSend(jobId: string, send: () => Promise<void>): Promise<JobRow> {
    return this.callCommittedAfter('job_mark_notified', { p_job_id: jobId }, send);
  }
  notifyFailed(jobId: string, error: string, retryAt: Date | null): Promise<JobRow> {
    return this.call('job_notify_failed', { p_job_id: jobId, p_error: error, p_retry_at: retryAt?.toISOString() ?? null });
  }
  getJob(jobId: string): Promise<JobRow> {
    return this.call('job_get', { p_job_id: jobId });
  }
  listJobs(limit = 50, status: string | null = null): Promise<JobRow[]> {
    return this.call('jobs_list', { p_limit: limit, p_status: status });
  }
  agentWork(host: string): Promise<AgentWork> {
    return this.call('jobs_for_agent', { p_host: host });
  }
  history(subjectId: string): Promise<LifecycleEvent[]> {
    return this.call('lifecycle_history', { p_subject_id: subjectId });
  }

  // Jupyter sessions ---------------------------------------------------------------------
  requestJupyter(dir: string | null = null, host: string | null = null, app: string | null = null): Promise<SessionRow> {
    return this.call('jupyter_request', { p_dir: dir, p_host: host, p_app: app });
  }
  claimJupyter(agentId: string, host: string, limit = 1): Promise<SessionRow[]> {
    return this.call('jupyter_claim', { p_agent_id: agentId, p_host: host, p_limit: limit });
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
  beginJupyterStop(sessionId: string, reason: string | null = null): Promise<SessionRow> {
    return this.call('jupyter_begin_stop', { p_session_id: sessionId, p_reason: reason });
  }
  markJupyterStopped(sessionId: string, reason: string | null = null): Promise<SessionRow> {
    return this.call('jupyter_mark_stopped', { p_session_id: sessionId, p_reason: reason });
  }
  failJupyter(sessionId: string, error: string): Promise<SessionRow> {
    return this.call('jupyter_fail', { p_session_id: sessionId, p_error: error });
  }
  markJupyterNotified(sessionId: string): Promise<SessionRow> {
    return this.call('jupyter_mark_notified', { p_session_id: sessionId });
  }
  markJupyterNotifiedOnSend(sessionId: string, send: () => Promise<void>): Promise<SessionRow> {
    return this.callCommittedAfter('jupyter_mark_notified', { p_session_id: sessionId }, send);
  }
  getSession(sessionId: string): Promise<SessionRow> {
    return this.call('jupyter_get', { p_session_id: sessionId });
  }
  listSessions(limit = 50, activeOnly = false, host: string | null = null): Promise<SessionRow[]> {
    return this.call('jupyter_list', { p_limit: limit, p_active_only: activeOnly, p_host: host });
  }

  // agents, user, scripts ------------------------------------------------------------------
  registerAgent(agentId: string, host: string, version: string, mode: string, pid: number): Promise<AgentRow> {
    return this.call('agent_register', { p_agent_id: agentId, p_host: host, p_version: version, p_mode: mode, p_pid: pid });
  }
  heartbeatAgent(agentId: string, stopped = false): Promise<AgentRow> {
    return this.call('agent_heartbeat', { p_agent_id: agentId, p_stopped: stopped });
  }
  /** The member's users row, and (with host) which Linux account their agent is on that host. */
  ensureUser(linuxUser: string, email: string | null, host: string | null = null): Promise<{ user_id: string; linux_user: string; email: string | null }> {
    return this.call('user_ensure', { p_linux_user: linuxUser, p_email: email, p_host: host });
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
  syncScripts(upserts: ScriptUpsert[], deletes: string[]): Promise<{ inserted: number; updated: number; deleted: number }> {
    return this.call('scripts_sync', { p_upserts: upserts, p_deletes: deletes });
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
  close(): Promise<void> {
    return this.transport.close();
  }
}
