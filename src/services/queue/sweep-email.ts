// The one email for a whole sweep (issue 17): what ended how, and the grid as a table (each cell's
// parameters, status, exit code and LAB_RESULT). Pure: no clock, no I/O; every value escaped in HTML.
import { basename } from 'node:path';
import { escapeHtml, htmlPage, oneLine, type EmailContext, type RenderedEmail } from '../job-email.js';
import { formatTime } from '../time-format.js';
import type { SweepCell, SweepView } from '../store/queue-types.js';
import { gridAxes } from './sweep-grid.js';

const MAX_ROWS = 500;

/** The grid's columns: one per axis (in the order given), then the outcome. */
export function sweepGrid(view: SweepView): { head: string[]; rows: string[][] } {
  const axes = gridAxes(view);
  const head = ['#', ...axes, 'status', 'exit', 'result'];
  const rows = view.jobs.map((c) => [
    String(c.sweep_index + 1), ...axes.map((a) => c.params?.[a] ?? ''), cellStatus(c),
    c.retcode === null ? (c.signal ?? '') : String(c.retcode), c.result === null || c.result === undefined ? '' : JSON.stringify(c.result),
  ]);
  return { head, rows };
}

function cellStatus(c: SweepCell): string {
  return c.attempt > 1 ? `${c.status} (attempt ${c.attempt})` : c.status;
}

export function renderSweepEmail(view: SweepView, ctx: EmailContext): RenderedEmail {
  const s = view.sweep;
  const name = oneLine(basename(s.script_path) || s.script_path);
  const counts = Object.entries(s.counts).map(([k, n]) => `${n} ${k}`).join(', ');
  const allFine = (s.counts.finished ?? 0) === s.cells;
  const subject = `${allFine ? '✅' : '⚠️'} sweep of ${name}: ${counts} on ${oneLine(ctx.host)}`;
  const { head, rows } = sweepGrid(view);
  const shown = rows.slice(0, MAX_ROWS);
  const more = rows.length - shown.length;
  const widths = head.map((h, i) => Math.min(40, Math.max(h.length, ...shown.map((r) => r[i]!.length))));
  const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  const facts = [
    `Script:    ${s.script_path}${s.args ? ` ${s.args}` : ''}`,
    `Sweep id:  ${s.sweep_id}`,
    `Cells:     ${s.cells}${s.max_parallel ? ` (at most ${s.max_parallel} at once)` : ''}`,
    `Submitted: ${formatTime(s.created_at, ctx.timeZone)}`,
    `Ended:     ${formatTime(s.finished_at, ctx.timeZone)}`,
  ];
  const text = [
    `Your sweep of ${name} has ended: ${counts}.`, '', ...facts, '', line(head), ...shown.map(line),
    ...(more > 0 ? [`… and ${more} more (lab-agent ls --sweep ${s.sweep_id})`] : []),
    '', `Each cell's logs: ~/lab_job_logs/<job_id>/ on the host it ran on.`, '',
  ].join('\n');
  const cell = (v: string, tag = 'td') => `<${tag} style="text-align:left;padding:2px 10px 2px 0;font-family:monospace">${escapeHtml(v)}</${tag}>`;
  const html = htmlPage(subject, [
    `<p>Your sweep of <b>${escapeHtml(name)}</b> has ended: ${escapeHtml(counts)}.</p>`,
    `<pre>${escapeHtml(facts.join('\n'))}</pre>`,
    `<table style="border-collapse:collapse">\n<tr>${head.map((h) => cell(h, 'th')).join('')}</tr>\n${shown.map((r) => `<tr>${r.map((v) => cell(v)).join('')}</tr>`).join('\n')}\n</table>`,
    more > 0 ? `<p>… and ${more} more (<code>lab-agent ls --sweep ${escapeHtml(s.sweep_id)}</code>)</p>` : '',
  ]);
  return { subject, text, html };
}
