// A row's history as words: one line per recorded event (time, from → to, detail such as pid,
// exit code or error) and under it the way through the machine. Used by the terminal output and
// by the HTML page's timeline table.
import type { RowHistory, HistoryStep } from './history.js';
import type { VizEdge } from './machine-graph.js';
import { isUuid } from '../names.js';
import { formatTime, memberTimeZone, timeHeading } from '../time-format.js';

/** Who the history is about, for the heading. */
export interface Subject {
  /** 'job' or 'jupyter'. */
  machine: string;
  id: string;
  /** e.g. the script path, or the session's folder. */
  title: string | null;
  /** The row's status now. */
  status: string;
}

/** An event's time in the member's zone, named once in the heading (the step number keeps the order within a second). */
export const stepTime = (at: string): string => formatTime(at, memberTimeZone(), 'cell');

const short = (v: string) => (isUuid(v) ? v.slice(0, 8) : v);

// jsonb reorders keys; show the telling ones first.
const ORDER = ['error', 'retcode', 'signal', 'reason', 'pid', 'port', 'claims', 'interpreter', 'agent_id', 'host'];
const rank = (k: string) => (ORDER.includes(k) ? ORDER.indexOf(k) : ORDER.length);

/** Detail keys written by the SQL functions, in words; any other key shows as key=value. */
export function formatDetail(detail: Record<string, unknown>): string {
  const parts: string[] = [];
  const entries = Object.entries(detail).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  for (const [k, v] of entries) {
    if (v === null || v === undefined || k === 'action') continue;
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    switch (k) {
      case 'retcode': parts.push(`exit code ${s}`); break;
      case 'signal': parts.push(`signal ${s}`); break;
      case 'pid': parts.push(`pid ${s}`); break;
      case 'port': parts.push(`port ${s}`); break;
      case 'interpreter': parts.push(`interpreter ${s}`); break;
      case 'error': parts.push(`error: ${s}`); break;
      case 'reason': parts.push(`reason: ${s}`); break;
      case 'claims': parts.push(`try ${s}`); break;
      case 'agent_id': parts.push(`agent ${short(s)}`); break;
      case 'host': parts.push(`on ${s}`); break;
      default: parts.push(`${k}=${s}`);
    }
  }
  return parts.join(', ');
}

/** The recorded change in words: '→ pending', 'pending → claimed', 'running: cancel requested'. */
export function formatChange(step: HistoryStep): string {
  if (step.kind === 'created') return `→ ${step.toStatus}`;
  if (step.kind === 'request') {
    const what = (step.action ?? 'request').replace(/_at$/, '').replace(/_/g, ' ');
    return `${step.toStatus}: ${what}`;
  }
  return `${step.fromStatus} → ${step.toStatus}`;
}

/** The way through the machine: 'claimed ─TICK→ starting ─done(startJob)→ running'. */
export function formatPath(step: HistoryStep): string {
  if (step.problem) return `(${step.problem})`;
  if (step.external) return '(outside the machine: changed in the database directly)';
  if (step.edges.length === 0) return '';
  return step.edges.reduce((s, e: VizEdge) => `${s} ─${e.event}${e.guard ? ` [${e.guard}]` : ''}→ ${e.target}`, step.edges[0]!.source);
}

/** The whole history for a terminal. */
export function timelineText(subject: Subject, history: RowHistory): string {
  const lines = [
    `${subject.machine} ${subject.id}${subject.title ? `  ${subject.title}` : ''}`,
    `status ${subject.status}; current state: ${history.current ?? '(unknown)'}`,
    `path: ${history.path.join(' → ') || '(no events)'}`,
    '',
    `${timeHeading('time').padEnd(21)}  change / way through the machine / detail`,
  ];
  for (const step of history.steps) {
    const detail = formatDetail(step.detail);
    lines.push(`${stepTime(step.at).padEnd(21)}  ${formatChange(step)}${detail ? `   ${detail}` : ''}`);
    const way = formatPath(step);
    if (way) lines.push(`${' '.repeat(23)}${way}`);
  }
  return lines.join('\n');
}
