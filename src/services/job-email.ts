// Renders the notification emails: a job that ended, and a Jupyter server that is ready.
// Pure functions: no clock, no I/O. Every value that comes from a row or a log is escaped in HTML.
import { basename } from 'node:path';
import { dashboardLink } from './dashboard-link.js';
import { formatTime, type When } from './time-format.js';

/** The jobs row fields the email uses (snake_case, as in the database). */
export interface JobForEmail {
  job_id: string;
  script_path: string;
  args?: string | string[] | null;
  status: 'finished' | 'failed' | 'cancelled';
  retcode?: number | null;
  error?: string | null;
  interpreter?: string | null;
  created_at?: When;
  started_at?: When;
  finished_at?: When;
  stdout_path?: string | null;
  stderr_path?: string | null;
  stdout_tail?: string | null;
  stderr_tail?: string | null;
  /** Host the job ran on; falls back to ctx.host. */
  host?: string | null;
  /** Which run this was (1 = the first); a retried job's email comes once, after its last. */
  attempt?: number | null;
  /** The run's last LAB_RESULT line. */
  result?: unknown;
  /** The GPUs the job got, as its CUDA_VISIBLE_DEVICES (with CUDA_DEVICE_ORDER=PCI_BUS_ID). */
  cuda_visible_devices?: string | null;
}

/** The jupyter_sessions row fields the ready email uses. */
export interface JupyterSessionForEmail {
  session_id: string;
  port: number;
  /** The link as the agent recorded it (jupyter/link.ts): an address the server listens on. */
  url: string;
  /** The SSH tunnel a loopback-bound server needs (recorded with the link); null when none. */
  tunnel?: string | null;
  /** Folder the server was started in. */
  working_dir?: string | null;
  host?: string | null;
  started_at?: When;
}

export interface EmailContext {
  /** The agent's hostname. */
  host: string;
  /** IANA zone for times in the email; default: the member's (TZ, else the system's). */
  timeZone?: string;
  /** LAB_DASHBOARD_URL: the email links to the job's or session's page there. */
  dashboardUrl?: string | null;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

const STATUS_MARK: Record<JobForEmail['status'], string> = { finished: '✅', failed: '❌', cancelled: '🛑' };

/** 5s, 2m 03s, 1h 02m 03s, 2d 03h 04m. Sub-second, negative or invalid input reads as 0s. */
export function formatDuration(ms: number): string {
  const total = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const p = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${p(h)}h ${p(m)}m`;
  if (h > 0) return `${h}h ${p(m)}m ${p(s)}s`;
  if (m > 0) return `${m}m ${p(s)}s`;
  return `${s}s`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** Run time: finished − started; null when the job never started or a time is missing. */
function jobDurationMs(job: Pick<JobForEmail, 'started_at' | 'finished_at'>): number | null {
  const start = toDate(job.started_at);
  const end = toDate(job.finished_at);
  if (!start || !end) return null;
  return Math.max(0, end.getTime() - start.getTime());
}

export function renderJobSubject(job: JobForEmail, ctx: EmailContext): string {
  const name = oneLine(basename(job.script_path) || job.script_path);
  const host = oneLine(job.host || ctx.host);
  const duration = jobDurationMs(job);
  const facts: string[] = [];
  if (job.retcode !== null && job.retcode !== undefined) facts.push(`exit ${job.retcode}`);
  else if (job.status === 'cancelled' && !toDate(job.started_at)) facts.push('before start');
  else if (job.status === 'failed') facts.push('no exit code');
  if (duration !== null) facts.push(formatDuration(duration));
  const detail = facts.length > 0 ? ` (${facts.join(', ')})` : '';
  return `${STATUS_MARK[job.status] ?? '•'} ${name} ${job.status}${detail} on ${host}`;
}

export function renderJobEmail(job: JobForEmail, ctx: EmailContext): RenderedEmail {
  const subject = renderJobSubject(job, ctx);
  const host = job.host || ctx.host;
  const duration = jobDurationMs(job);
  const args = Array.isArray(job.args) ? job.args.join(' ') : (job.args ?? '');
  const statusLine =
    job.retcode !== null && job.retcode !== undefined ? `${job.status} (exit code ${job.retcode})` : job.status;

  // [label, value] pairs shared by both bodies; empty values are left out
  const rows: Array<[string, string]> = [
    ['Status', statusLine],
    ['Script', job.script_path],
    ['Arguments', args || '(none)'],
    ['Interpreter', job.interpreter ?? ''],
    ['Host', host],
    ['GPUs (CUDA_VISIBLE_DEVICES)', job.cuda_visible_devices ?? ''],
    ['Requested', job.created_at ? formatTime(job.created_at, ctx.timeZone) : ''],
    ['Started', job.started_at ? formatTime(job.started_at, ctx.timeZone) : 'never started'],
    ['Ended', job.finished_at ? formatTime(job.finished_at, ctx.timeZone) : ''],
    ['Duration', duration !== null ? formatDuration(duration) : ''],
    ['Attempts', (job.attempt ?? 1) > 1 ? `${job.attempt} (each one's logs kept: attempt-<n>/ beside the first)` : ''],
    ['Result', job.result === null || job.result === undefined ? '' : JSON.stringify(job.result)],
    ['Job id', job.job_id],
    ['stdout log', job.stdout_path ?? ''],
    ['stderr log', job.stderr_path ?? ''],
  ];
  const shown = rows.filter(([, v]) => v !== '');
  const page = dashboardLink(ctx.dashboardUrl, 'job', job.job_id);
  const error = job.error?.trim() ?? '';
  const tails: Array<[string, string]> = [
    ['stdout (last lines)', job.stdout_tail ?? ''],
    ['stderr (last lines)', job.stderr_tail ?? ''],
  ];

  const width = Math.max(...shown.map(([k]) => k.length)) + 2;
  const text = [
    `${basename(job.script_path)} ${job.status} on ${host}.`,
    '',
    ...shown.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`),
    ...(error ? ['', 'Error:', error] : []),
    ...tails.flatMap(([k, v]) => ['', `--- ${k} ---`, v.trimEnd() || '(empty)']),
    '',
    `Full logs stay on ${host} under the paths above.`,
    ...(page ? [`On your dashboard: ${page}`] : []),
    '',
  ].join('\n');

  const html = htmlPage(subject, [
    `<p><b>${escapeHtml(basename(job.script_path))}</b> ${escapeHtml(job.status)} on <b>${escapeHtml(host)}</b>.</p>`,
    table(shown),
    error ? `<h3>Error</h3>\n<pre>${escapeHtml(error)}</pre>` : '',
    ...tails.map(([k, v]) => `<h3>${escapeHtml(k)}</h3>\n<pre>${escapeHtml(v.trimEnd() || '(empty)')}</pre>`),
    `<p style="color:#666">Full logs stay on ${escapeHtml(host)} under the paths above.</p>`,
    page ? `<p><a href="${escapeHtml(page)}">Open it on your dashboard</a></p>` : '',
  ]);
  return { subject, text, html };
}

export function renderJupyterEmail(session: JupyterSessionForEmail, ctx: EmailContext): RenderedEmail {
  const host = session.host || ctx.host;
  const url = session.url;
  const stop = `lab-agent jupyter stop ${session.session_id}`;
  const tunnel = session.tunnel ?? '';
  const page = dashboardLink(ctx.dashboardUrl, 'session', session.session_id);
  const subject = `🪐 Jupyter ready on ${oneLine(host)}:${session.port}`;
  const rows: Array<[string, string]> = [
    ['URL', url],
    ['Host', host],
    ['Port', String(session.port)],
    ['Working dir', session.working_dir ?? ''],
    ['Started', session.started_at ? formatTime(session.started_at, ctx.timeZone) : ''],
    ['Session id', session.session_id],
  ];
  const shown = rows.filter(([, v]) => v !== '');
  const width = Math.max(...shown.map(([k]) => k.length)) + 2;
  const text = [
    `Your Jupyter server on ${host} is ready.`,
    '',
    ...shown.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`),
    ...(tunnel ? ['', 'It listens on the loopback address only; from your computer open a tunnel first:', `  ${tunnel}`] : []),
    '',
    'The URL carries the access token: do not share it.',
    'Stop the server when you are done:',
    `  ${stop}`,
    ...(page ? ['', `On your dashboard: ${page}`] : []),
    '',
  ].join('\n');
  const html = htmlPage(subject, [
    `<p>Your Jupyter server on <b>${escapeHtml(host)}</b> is ready: <a href="${escapeHtml(url)}">open it</a>.</p>`,
    table(shown),
    tunnel ? `<p>It listens on the loopback address only; from your computer open a tunnel first:</p>\n<pre>${escapeHtml(tunnel)}</pre>` : '',
    '<p>The URL carries the access token: do not share it.<br>Stop the server when you are done:</p>',
    `<pre>${escapeHtml(stop)}</pre>`,
    page ? `<p><a href="${escapeHtml(page)}">Open it on your dashboard</a> (connect, stop, past sessions)</p>` : '',
  ]);
  return { subject, text, html };
}

function toDate(when: When): Date | null {
  if (when === null || when === undefined || when === '') return null;
  const d = when instanceof Date ? when : new Date(when);
  return Number.isNaN(d.getTime()) ? null : d;
}

// A subject is one header line: control characters (a newline in a file name) become spaces.
export function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

function table(rows: Array<[string, string]>): string {
  const tr = rows.map(
    ([k, v]) =>
      `<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">${escapeHtml(k)}</th>` +
      `<td style="font-family:monospace">${escapeHtml(v)}</td></tr>`,
  );
  return `<table style="border-collapse:collapse">\n${tr.join('\n')}\n</table>`;
}

export function htmlPage(title: string, blocks: string[]): string {
  return [
    '<!doctype html>',
    '<html><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>pre{background:#f6f8fa;padding:8px;overflow-x:auto;white-space:pre-wrap;font-size:12px}</style>',
    '</head><body style="font-family:sans-serif">',
    ...blocks.filter((b) => b !== ''),
    '</body></html>',
    '',
  ].join('\n');
}
