// An executed notebook as one HTML document for the page's sandboxed frame: each code cell's
// source and outputs. Text, tracebacks and Markdown are escaped; images become data: images (an
// SVG inside <img> runs nothing); an output's own HTML (a pandas table, a plot library's markup)
// is kept, since the frame it is shown in runs no script, has an opaque origin and may fetch
// nothing (see NOTEBOOK_CSP).
import type { Notebook, NotebookCell } from '../runner/notebook-params.js';

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
const joined = (v: unknown): string => (Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '');
// Tracebacks carry terminal colours.
const noAnsi = (s: string): string => s.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');

/** Longest text shown per output; the rest is cut with a note (the file has it all). */
const MAX_TEXT = 200_000;
const cut = (s: string): string => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}\n… (${s.length - MAX_TEXT} more characters in the notebook)` : s);

interface Output {
  output_type: string;
  name?: string;
  text?: unknown;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: unknown;
  execution_count?: number | null;
}

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

function richOutput(data: Record<string, unknown>): string {
  for (const type of IMAGE_TYPES) {
    const b64 = joined(data[type]).replace(/\s+/g, '');
    if (b64 && /^[A-Za-z0-9+/=]+$/.test(b64)) return `<img alt="" src="data:${type};base64,${b64}">`;
  }
  const svg = joined(data['image/svg+xml']);
  if (svg) return `<img alt="" src="data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}">`;
  const html = joined(data['text/html']);
  if (html) return `<div class="html">${cut(html)}</div>`;
  const text = joined(data['text/markdown']) || joined(data['text/plain']) || joined(data['application/json'] && JSON.stringify(data['application/json'], null, 2));
  return text ? `<pre>${esc(cut(text))}</pre>` : '';
}

function outputHtml(o: Output): string {
  switch (o.output_type) {
    case 'stream':
      return `<pre class="${o.name === 'stderr' ? 'stderr' : 'stdout'}">${esc(cut(joined(o.text)))}</pre>`;
    case 'execute_result':
    case 'display_data':
      return richOutput(o.data ?? {});
    case 'error':
      return `<pre class="error">${esc(cut(noAnsi(Array.isArray(o.traceback) ? o.traceback.join('\n') : `${o.ename}: ${o.evalue}`)))}</pre>`;
    default:
      return '';
  }
}

function cellHtml(cell: NotebookCell, n: number): string {
  const src = joined(cell.source);
  if (cell.cell_type === 'markdown') return `<section class="md" id="cell-${n}"><pre>${esc(src)}</pre></section>`;
  if (cell.cell_type !== 'code') return '';
  const count = (cell as { execution_count?: number | null }).execution_count;
  const outputs = Array.isArray(cell.outputs) ? (cell.outputs as Output[]).map(outputHtml).join('') : '';
  const tags = Array.isArray(cell.metadata?.tags) ? (cell.metadata.tags as unknown[]).map(String) : [];
  return `<section class="code${tags.includes('injected-parameters') ? ' injected' : ''}" id="cell-${n}">`
    + `<div class="in"><span class="n">[${count ?? ' '}]</span><pre>${esc(src)}</pre></div>`
    + (outputs ? `<div class="out">${outputs}</div>` : '')
    + '</section>';
}

const CSS = `
:root { color-scheme: light dark; --ink:#111827; --muted:#6b7280; --bg:#fff; --code:#f6f8fa; --err:#b91c1c; --line:#e5e7eb }
.dark { --ink:#e5e7eb; --muted:#9ca3af; --bg:#111318; --code:#1b1f27; --err:#f87171; --line:#2a2f3a }
body { margin: 0; padding: 12px; font: 13px/1.45 system-ui, sans-serif; color: var(--ink); background: var(--bg) }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace }
section { border-bottom: 1px solid var(--line); padding: 8px 0 }
.in { display: flex; gap: 8px } .in pre { background: var(--code); padding: 6px 8px; border-radius: 6px; flex: 1 }
.n { color: var(--muted); font: 12px ui-monospace, monospace; min-width: 3.5em; text-align: right; padding-top: 6px }
.out { margin: 6px 0 0 calc(3.5em + 8px) } .out > * + * { margin-top: 6px }
.stderr { color: var(--err) } .error { color: var(--err); background: var(--code); padding: 6px 8px; border-radius: 6px }
.md pre { font-family: inherit; color: var(--muted) } .injected .in pre { outline: 2px dashed var(--muted) }
img { max-width: 100%; background: #fff } .html { overflow-x: auto } table { border-collapse: collapse } td, th { padding: 2px 8px; border: 1px solid var(--line) }
`;

export function notebookHtml(nb: Notebook, opts: { title: string; dark?: boolean }): string {
  const cells = nb.cells.map(cellHtml).join('\n');
  return `<!doctype html><html lang="en"${opts.dark ? ' class="dark"' : ''}><head><meta charset="utf-8">`
    + `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(opts.title)}</title><style>${CSS}</style></head>`
    + `<body>${cells || '<p>(the notebook has no cells)</p>'}</body></html>`;
}
