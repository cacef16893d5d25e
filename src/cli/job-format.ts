// How jobs look on a terminal.
import type { JobRow } from '../services/store/types.js';
import { table } from './output.js';

export function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function duration(job: JobRow, now = Date.now()): string {
  if (!job.started_at) return '-';
  const ms = (job.finished_at ? Date.parse(job.finished_at) : now) - Date.parse(job.started_at);
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export function jobsTable(jobs: JobRow[]): string {
  if (jobs.length === 0) return 'no jobs yet: submit one with `lab-agent submit <script.py> [-- args]`';
  return table([
    ['ID', 'STATUS', 'CREATED', 'DURATION', 'EXIT', 'SCRIPT'],
    ...jobs.map((j) => [j.job_id.slice(0, 8), j.status, age(j.created_at), duration(j), j.retcode === null ? '-' : String(j.retcode), j.script_path ?? `(script ${j.script_id})`]),
  ]);
}

/** A Slurm job's id, state (with its reason: PENDING (Resources)) and node. */
function slurmLines(j: JobRow): [string, string | null][] {
  const s = j as JobRow & { slurm_job_id?: string | null; slurm_state?: string | null; slurm_reason?: string | null; slurm_node?: string | null };
  if (!s.slurm_job_id) return [];
  return [['slurm job', s.slurm_job_id], ['slurm state', s.slurm_state ? `${s.slurm_state}${s.slurm_reason ? ` (${s.slurm_reason})` : ''}` : null], ['slurm node', s.slurm_node ?? null]];
}

/**
 * The `notified` line. An empty LAB_EMAIL (where this command runs, the member's own .env) sends no
 * email but still marks the row notified: say so rather than "notified".
 */
function notifiedLine(j: JobRow, emailTo: string): string | null {
  if (j.notify_error && !j.notified_at) return `not yet: email failed (${j.notify_error})`;
  if (!j.notified_at) return null;
  return emailTo ? j.notified_at : 'no email (LAB_EMAIL empty)';
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

export function jobDetail(j: JobRow, emailTo: string): string {
  const lines: [string, string | null | undefined][] = [
    ['job', j.job_id], ['status', j.status], ['script', j.script_path], ['args', j.args], ['host', j.run_host ?? j.host ?? '(any)'],
    ['waiting', j.status === 'pending' ? j.pending_reason : null],
    ['gpus', gpuRequestText(j)],
    ['CUDA devices', j.cuda_visible_devices],
    ['interpreter', j.interpreter], ['pid', j.pid === null ? null : String(j.pid)], ['created', j.created_at], ['started', j.started_at],
    ['finished', j.finished_at], ['duration', duration(j)], ['exit code', j.retcode === null ? null : String(j.retcode)],
    ['signal', j.signal], ['error', j.error], ['timeout', j.timeout_s ? `${j.timeout_s}s` : null], ['cancel requested', j.cancel_requested_at],
    ['waiting', j.status === 'pending' ? j.pending_reason : null], ['priority', j.priority ? String(j.priority) : null],
    ['attempt', (j.attempt ?? 1) > 1 || j.retries ? `${j.attempt ?? 1} of ${(j.retries ?? 0) + 1}` : null],
    ['result', j.result === null || j.result === undefined ? null : JSON.stringify(j.result)],
    ['sweep', j.sweep_id ? `${j.sweep_id} (cell ${(j.sweep_index ?? 0) + 1})` : null],
    ['schedule', j.schedule_id ? `${j.schedule_id} (due ${j.scheduled_for})` : null],
    ...slurmLines(j), ['logs', j.log_dir], ['notified', notifiedLine(j, emailTo)],
  ];
  const body = lines.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => `${k.padEnd(16)} ${v}`);
  const tail = (name: string, t: string | null) => (t ? [``, `--- ${name} (last lines) ---`, t.trimEnd()] : []);
  return [...body, ...tail('stdout', j.stdout_tail), ...tail('stderr', j.stderr_tail)].join('\n');
}
