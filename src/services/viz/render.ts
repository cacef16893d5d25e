// One entry point per drawing: a machine in any format, or a row's history over its machine.
import { toDot } from './dot.js';
import { highlightOf, type RowHistory } from './history.js';
import { toHtml } from './html.js';
import { edgeLabel, type MachineGraph } from './machine-graph.js';
import { toMermaid } from './mermaid.js';
import { renderSvg } from './svg.js';
import { timelineText, type Subject } from './timeline.js';

export const FORMATS = ['text', 'mermaid', 'dot', 'svg', 'html'] as const;
export type VizFormat = (typeof FORMATS)[number];

/** The format a file name asks for, if its extension says. */
export function formatOfFile(file: string): VizFormat | null {
  const ext = /\.([a-z]+)$/i.exec(file)?.[1]?.toLowerCase();
  const byExt: Record<string, VizFormat> = { html: 'html', htm: 'html', svg: 'svg', dot: 'dot', gv: 'dot', mmd: 'mermaid', mermaid: 'mermaid', txt: 'text' };
  return ext ? (byExt[ext] ?? null) : null;
}

/** A plain listing: states (with what they invoke) and transitions. */
function machineText(graph: MachineGraph): string {
  const lines = [`${graph.id} machine; starts in ${graph.initial ?? '(none)'}`, '', 'states:'];
  for (const s of graph.states) {
    const notes = [
      s.kind === 'final' ? 'final' : s.resting ? 'waits' : 'passes through',
      ...s.invokes.map((i) => `invokes ${i.src}`),
    ];
    lines.push(`  ${s.id.padEnd(16)} ${notes.join(', ')}`);
  }
  lines.push('', 'transitions:');
  for (const e of graph.edges) lines.push(`  ${`${e.source} → ${e.target}`.padEnd(28)} ${edgeLabel(e)}${e.targetless ? ' (stays)' : ''}`);
  return lines.join('\n');
}

export async function drawMachine(graph: MachineGraph, format: VizFormat): Promise<string> {
  switch (format) {
    case 'text': return `${machineText(graph)}\n`;
    case 'mermaid': return toMermaid(graph);
    case 'dot': return toDot(graph);
    case 'svg': return (await renderSvg(toDot(graph))).svg;
    case 'html': return toHtml({ machine: graph.id, svg: (await renderSvg(toDot(graph))).svg });
  }
}

export async function drawHistory(graph: MachineGraph, subject: Subject, history: RowHistory, format: VizFormat): Promise<string> {
  const h = highlightOf(history);
  switch (format) {
    case 'text': return `${timelineText(subject, history)}\n`;
    case 'mermaid': return toMermaid(graph, h);
    case 'dot': return toDot(graph, h);
    case 'svg': return (await renderSvg(toDot(graph, h))).svg;
    case 'html': return toHtml({ machine: graph.id, svg: (await renderSvg(toDot(graph, h))).svg, history: { subject, history } });
  }
}
