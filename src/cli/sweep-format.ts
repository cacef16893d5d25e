// How sweeps look on a terminal: the list of sweeps, and one sweep's grid.
import { sweepGrid } from '../services/queue/sweep-email.js';
import type { SweepRow, SweepView } from '../services/store/queue-types.js';
import { formatTime, memberTimeZone, timeHeading } from '../services/time-format.js';
import { gpuRequestText } from './job-format.js';
import { table } from './output.js';

const counts = (s: SweepRow) => Object.entries(s.counts).map(([k, n]) => `${n} ${k}`).join(', ');

export function sweepsTable(sweeps: SweepRow[], zone = memberTimeZone()): string {
  if (sweeps.length === 0) return 'no sweeps yet: submit one with `lab-agent submit train.py --sweep lr=0.1,0.01 -- …`';
  return table([
    ['SWEEP', timeHeading('CREATED', zone), 'CELLS', 'STATE', 'SCRIPT'],
    ...sweeps.map((s) => [s.sweep_id.slice(0, 8), formatTime(s.created_at, zone, 'cell'), String(s.cells), s.finished_at ? `ended: ${counts(s)}` : counts(s), s.script_path]),
  ]);
}

/** The grid, a row per cell: parameters, status, exit code, result, and why a waiting cell waits. */
export function sweepDetail(v: SweepView, zone = memberTimeZone()): string {
  const s = v.sweep;
  const { head, rows } = sweepGrid(v);
  const head2 = [...head.slice(0, 1), 'job', ...head.slice(1), 'waiting'];
  const rows2 = rows.map((r, i) => [r[0]!, v.jobs[i]!.job_id.slice(0, 8), ...r.slice(1), v.jobs[i]!.status === 'pending' ? (v.jobs[i]!.pending_reason ?? '') : '']);
  return [
    `sweep            ${s.sweep_id}`,
    `script           ${s.script_path}${s.args ? ` ${s.args}` : ''}`,
    `cells            ${s.cells}${s.max_parallel ? ` (at most ${s.max_parallel} at once)` : ''}: ${counts(s)}`,
    ...(s.gpus ? [`gpus             ${gpuRequestText(s)} per cell`] : []),
    `created          ${formatTime(s.created_at, zone)}`,
    ...(s.finished_at ? [`ended            ${formatTime(s.finished_at, zone)}`] : []),
    '',
    table([head2, ...rows2]),
  ].join('\n');
}

/** What `submit --sweep` prints: the sweep id, then each cell's job id. */
export function sweepSubmitted(v: SweepView): string {
  return [v.sweep.sweep_id, ...v.jobs.map((c) => `  ${c.job_id}  ${Object.entries(c.params).map(([k, x]) => `${k}=${x}`).join(' ')}`)].join('\n');
}
