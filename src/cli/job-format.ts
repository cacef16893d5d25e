// How jobs look on a terminal.
import type { JobRow } from '../services/store/types.js';
import { formatTime, memberTimeZone, timeHeading } from '../services/time-format.js';
import { table } from './output.js';

export function duration(job: JobRow, now = Date.now()): string {
  if (!job.started_at) return '-';
  const ms = (job.finished_at ? Date.parse(job.finished_at) : now) - Date.parse(job.started_at);
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export function jobsTable(jobs: JobRow[], zone = memberTimeZone()): string {
  if (jobs.length === 0) return 'no jobs yet: submit one with `lab-agent submit <script.py> [-- args]`';
  return table([
    ['ID', 'STATUS', timeHeading('CREATED', zone), 'DURATION', 'EXIT', 'SCRIPT'],
    ...jobs.map((j) => [j.job_id.slice(0, 8), j.status, formatTime(j.created_at, zone, 'cell'), duration(j), j.retcode === null ? '-' : String(j.retcode), j.script_path ?? `(script ${j.script_id})`]),
  ]);
}

/** A Slurm job's id, state (with its reason: PENDING (Resources)) and node. */
function slurmLines(j: JobRow): [string, string | null][] {
  const s = j as JobRow & { slurm_job_id?: string | null; slurm_state?: string | null; slurm_reason?: string | null; slurm_node?: string | null };
  if (!s.slurm_job_id) return [];
  return [['slurm job', s.slurm_job_id], ['slurm state', s.slurm_state ? `${s.slurm_state}${s.slurm_reason ? ` (${s.slurm_reason})` : ''}` : null], ['slurm node', s.slurm_node ?? null]];
}

/**
 * The `notified` line, from what the agent that ended the job recorded on its row (this command may
 * run elsewhere, with another LAB_EMAIL): the time the email went, or why none was sent.
 */
function notifiedLine(j: JobRow, zone: string): string | null {
  if (j.notified_at) return j.no_email_reason ? `no email (${j.no_email_reason})` : `email sent ${formatTime(j.notified_at, zone)}`;
  if (!j.notify_error) return null;
  // notify_next_at 'infinity': the agent gave up (a day of tries); else the time of its next try
  const next = j.notify_next_at && Number.isFinite(Date.parse(j.notify_next_at)) ? j.notify_next_at : null;
  return next ? `not yet: email failed (${j.notify_error}); next try ${formatTime(next, zone)}` : `no email: the agent gave up after ${j.notify_attempts} tries (${j.notify_error})`;
}

/** What `wait` prints: "failed (exit 3)", with the error only when it says more than the exit code. */
export function jobOutcome(j: JobRow): string {
  const said = j.error && j.error !== `exit code ${j.retcode}` ? `: ${j.error}` : '';
  return `${j.job_id} ${j.status}${j.retcode === null ? '' : ` (exit ${j.retcode})`}${said}`;
}

/** A job's, sweep's or schedule's GPU request: "2 A100* (40960 MiB free each)"; null for none. */
export function gpuRequestText(r: { gpus?: number; gpu_mem_mib?: number | null; gpu_model?: string | null }): string | null {
  return r.gpus ? `${r.gpus}${r.gpu_model ? ` ${r.gpu_model}` : ''}${r.gpu_mem_mib ? ` (${r.gpu_mem_mib} MiB free each)` : ''}` : null;
}

export function jobDetail(j: JobRow, zone = memberTimeZone()): string {
  const at = (when: string | null | undefined) => (when ? formatTime(when, zone) : null);
  const lines: [string, string | null | undefined][] = [
    ['job', j.job_id], ['status', j.status], ['script', j.script_path], ['args', j.args], ['host', j.run_host ?? j.host ?? '(any)'],
    ['waiting', j.status === 'pending' ? j.pending_reason : null],
    ['gpus', gpuRequestText(j)],
    ['CUDA devices', j.cuda_visible_devices],
    ['interpreter', j.interpreter], ['pid', j.pid === null ? null : String(j.pid)], ['created', at(j.created_at)], ['started', at(j.started_at)],
    ['finished', at(j.finished_at)], ['duration', duration(j)], ['exit code', j.retcode === null ? null : String(j.retcode)],
    ['signal', j.signal], ['error', j.error], ['timeout', j.timeout_s ? `${j.timeout_s}s` : null], ['cancel requested', at(j.cancel_requested_at)],
    ['priority', j.priority ? String(j.priority) : null],
    ['attempt', (j.attempt ?? 1) > 1 || j.retries ? `${j.attempt ?? 1} of ${(j.retries ?? 0) + 1}` : null],
    ['result', j.result === null || j.result === undefined ? null : JSON.stringify(j.result)],
    ['sweep', j.sweep_id ? `${j.sweep_id} (cell ${(j.sweep_index ?? 0) + 1})` : null],
    ['schedule', j.schedule_id ? `${j.schedule_id} (due ${at(j.scheduled_for)})` : null],
    ...slurmLines(j), ['logs', j.log_dir], ['notified', notifiedLine(j, zone)],
  ];
  const body = lines.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => `${k.padEnd(16)} ${v}`);
  const tail = (name: string, t: string | null) => (t ? [``, `--- ${name} (last lines) ---`, t.trimEnd()] : []);
  return [...body, ...tail('stdout', j.stdout_tail), ...tail('stderr', j.stderr_tail)].join('\n');
}
