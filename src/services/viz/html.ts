// One self-contained HTML page: the SVG inlined, styles inline, no script, no CDN, and a
// Content-Security-Policy that forbids every fetch, so it reads the same with no network.
import { COLORS } from './dot.js';
import type { RowHistory } from './history.js';
import { svgElement } from './svg.js';
import { timeHeading } from '../time-format.js';
import { formatChange, formatDetail, formatPath, stepTime, type Subject } from './timeline.js';

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Graphviz sizes the SVG in points; the page lets it shrink to the window, never grow past its size. */
function fluidSvg(svg: string): string {
  const el = svgElement(svg);
  const m = /^<svg width="([\d.]+)pt" height="([\d.]+)pt"/.exec(el);
  if (!m) return el;
  const px = Math.ceil(Number(m[1]) * (4 / 3));
  return el.replace(m[0], `<svg width="100%" style="max-width:${px}px" preserveAspectRatio="xMidYMin meet"`);
}

const CSS = `
  :root { color-scheme: light; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 16px 20px; color: ${COLORS.ink}; background: #fff; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  p.sub { margin: 0 0 12px; color: #4b5563; }
  .legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 0 0 10px; font-size: 12px; color: #374151; }
  .legend span { display: inline-flex; align-items: center; gap: 6px; }
  .sw { width: 22px; height: 12px; border: 2px solid; border-radius: 4px; display: inline-block; }
  .ln { width: 26px; height: 0; border-top: 3px solid; display: inline-block; }
  figure.chart { margin: 0; }
  /* The whole chart fits the window (it scales, keeping its proportions): one glance shows the path. */
  figure.chart svg { display: block; height: auto; max-height: 80vh; }
  .path { font-family: ui-monospace, Menlo, Consolas, monospace; background: #f9fafb; padding: 6px 8px; border-radius: 6px; }
  table.timeline { border-collapse: collapse; margin-top: 12px; font-size: 13px; }
  table.timeline th, table.timeline td { text-align: left; vertical-align: top; padding: 4px 10px; border-bottom: 1px solid #e5e7eb; }
  table.timeline td.way { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; color: #374151; }
  table.timeline tr.external td.way, table.timeline tr.problem td.way { color: ${COLORS.error}; }
`;

function legend(withHistory: boolean): string {
  const item = (cls: string, style: string, text: string) => `<span><i class="${cls}" style="${style}"></i>${esc(text)}</span>`;
  const items = [
    item('sw', `border-color:${COLORS.ink};background:#fff`, 'state that waits for an event'),
    item('sw', `border-color:${COLORS.ink};border-style:dashed;background:${COLORS.transientFill}`, 'passed through within a step (invokes an actor, or routes)'),
    item('ln', `border-color:${COLORS.ink}`, 'event'),
    item('ln', `border-color:${COLORS.done}`, 'actor done'),
    item('ln', `border-color:${COLORS.error}`, 'actor error'),
    item('ln', `border-color:${COLORS.always};border-top-style:dashed`, 'always (eventless) / stays'),
  ];
  if (withHistory) {
    items.push(
      item('sw', `border-color:${COLORS.visitedLine};background:${COLORS.visitedFill}`, 'visited'),
      item('sw', `border-color:${COLORS.currentLine};background:${COLORS.currentFill}`, 'current state'),
      item('ln', `border-color:${COLORS.taken}`, 'taken (step numbers)'),
    );
  }
  return `<div class="legend">${items.join('')}</div>`;
}

function timelineTable(history: RowHistory): string {
  const rows = history.steps.map((s) => {
    const cls = s.problem ? 'problem' : s.external ? 'external' : '';
    return `<tr class="step ${cls}"><td>${s.n}</td><td>${esc(stepTime(s.at))}</td><td>${esc(formatChange(s))}</td>`
      + `<td class="way">${esc(formatPath(s))}</td><td>${esc(formatDetail(s.detail))}</td></tr>`;
  });
  return `<table class="timeline"><thead><tr><th>#</th><th>${esc(timeHeading('time'))}</th><th>change</th><th>way through the machine</th><th>detail</th></tr></thead>`
    + `<tbody>${rows.join('')}</tbody></table>`;
}

export interface HtmlPage {
  machine: string;
  svg: string;
  /** A row's history drawn over the machine, with its timeline. */
  history?: { subject: Subject; history: RowHistory };
}

export function toHtml(page: HtmlPage): string {
  const h = page.history;
  const title = h ? `${h.subject.machine} ${h.subject.id}` : `${page.machine} machine`;
  const intro = h
    ? `<p class="sub">${h.subject.title ? `${esc(h.subject.title)} · ` : ''}status <b>${esc(h.subject.status)}</b>; current state <b>${esc(h.history.current ?? '(unknown)')}</b></p>`
      + `<p class="path">${esc(h.history.path.join(' → ') || '(no events)')}</p>`
    : `<p class="sub">The ${esc(page.machine)} lifecycle, drawn from the machine's definition.</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${esc(title)}</h1>
${intro}
${legend(Boolean(h))}
<figure class="chart">${fluidSvg(page.svg)}</figure>
${h ? timelineTable(h.history) : ''}
</body>
</html>
`;
}
