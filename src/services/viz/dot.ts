// Graphviz DOT of a machine graph. Node and edge ids and classes pass through to the SVG, so the
// HTML page and the tests can find a state ('state-<id>') or a transition ('edge-<index>') and
// see whether it was taken. With a row's history, the path it took stands out and the rest greys.
import type { Highlight } from './history.js';
import { edgeLabel, type MachineGraph, type VizEdge, type VizState } from './machine-graph.js';

export const COLORS = {
  ink: '#111827',
  done: '#1e3a8a',
  error: '#b91c1c',
  always: '#6b7280',
  idle: '#c4c9d1',
  idleText: '#9ca3af',
  visitedFill: '#dbeafe',
  visitedLine: '#1d4ed8',
  currentFill: '#fde68a',
  currentLine: '#b45309',
  taken: '#dc2626',
  transientFill: '#f3f4f6',
} as const;

/** A DOT double-quoted string. */
const q = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
const attrs = (a: Record<string, string | number | undefined>): string =>
  `[${Object.entries(a).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${typeof v === 'number' ? v : q(v!)}`).join(', ')}]`;

const stateDomId = (stateId: string): string => `state-${stateId}`;
const edgeDomId = (e: VizEdge): string => `edge-${e.index}`;

function nodeAttrs(s: VizState, h: Highlight | undefined): Record<string, string | number | undefined> {
  const lines = [s.key, ...s.invokes.map((i) => `invoke ${i.src}`)];
  const classes = ['state', s.kind, s.resting ? 'resting' : 'transient'];
  const a: Record<string, string | number | undefined> = {
    id: stateDomId(s.id), tooltip: s.description ?? s.id,
    shape: 'box', style: s.resting ? 'rounded,filled' : 'rounded,filled,dashed',
    fillcolor: s.resting ? '#ffffff' : COLORS.transientFill, color: COLORS.ink, fontcolor: COLORS.ink,
    peripheries: s.kind === 'final' ? 2 : undefined,
  };
  if (h) {
    if (h.current === s.id) {
      classes.push('visited', 'current');
      lines.push('(now)');
      Object.assign(a, { fillcolor: COLORS.currentFill, color: COLORS.currentLine, penwidth: 4 });
    } else if (h.visited.has(s.id)) {
      classes.push('visited');
      Object.assign(a, { fillcolor: COLORS.visitedFill, color: COLORS.visitedLine, penwidth: 2 });
    } else {
      classes.push('idle');
      Object.assign(a, { color: COLORS.idle, fontcolor: COLORS.idleText });
    }
  }
  return { ...a, label: lines.join('\n'), class: classes.join(' ') };
}

function edgeAttrs(e: VizEdge, h: Highlight | undefined): Record<string, string | number | undefined> {
  const steps = h?.taken.get(e.index);
  const color = e.kind === 'error' ? COLORS.error : e.kind === 'done' ? COLORS.done : e.kind === 'always' ? COLORS.always : COLORS.ink;
  const a: Record<string, string | number | undefined> = {
    id: edgeDomId(e),
    label: edgeLabel(e) + (e.targetless ? ' (stays)' : '') + (steps ? `\n(step ${steps.join(', ')})` : ''),
    tooltip: e.actions.length ? `actions: ${e.actions.join(', ')}` : edgeLabel(e),
    color, fontcolor: color, style: e.kind === 'always' || e.targetless ? 'dashed' : undefined,
    class: ['transition', e.kind, ...(h ? [steps ? 'taken' : 'idle'] : [])].join(' '),
  };
  if (h && steps) Object.assign(a, { color: COLORS.taken, fontcolor: COLORS.taken, penwidth: 3 });
  else if (h) Object.assign(a, { color: COLORS.idle, fontcolor: COLORS.idleText });
  return a;
}

/** The DOT text; `highlight` draws a row's history over it. */
export function toDot(graph: MachineGraph, highlight?: Highlight): string {
  const byId = new Map(graph.states.map((s) => [s.id, s]));
  const kids = (parent: string | null) => graph.states.filter((s) => s.parent === parent);
  const compound = (id: string) => kids(id).length > 0;
  // A compound state is a cluster: edges meet its initial (or first) leaf and clip at its border.
  const leaf = (id: string): string => {
    let at = id;
    while (compound(at)) at = (kids(at).find((k) => k.initial) ?? kids(at)[0]!).id;
    return at;
  };
  const clusterName = (id: string) => `cluster_${id}`;
  const out = [
    `digraph ${q(graph.id)} {`,
    `  graph [rankdir=TB, compound=true, fontname="Helvetica", nodesep=0.35, ranksep=0.45, id=${q(`machine-${graph.id}`)}];`,
    '  node [fontname="Helvetica", fontsize=12];',
    '  edge [fontname="Helvetica", fontsize=10, arrowsize=0.7];',
  ];
  const emit = (parent: string | null, indent: string) => {
    for (const s of kids(parent)) {
      if (compound(s.id)) {
        // A compound state is a cluster; with a history, it is marked like a node would be.
        const mark = !highlight ? '' : highlight.current === s.id
          ? ` class="state ${s.kind} visited current"; color=${q(COLORS.currentLine)}; penwidth=4; bgcolor=${q(COLORS.currentFill)};`
          : highlight.visited.has(s.id) ? ` class="state ${s.kind} visited"; color=${q(COLORS.visitedLine)}; penwidth=2;` : ` class="state ${s.kind} idle"; color=${q(COLORS.idle)};`;
        out.push(`${indent}subgraph ${q(clusterName(s.id))} {`, `${indent}  label=${q(s.key)}; id=${q(stateDomId(s.id))}; style="rounded";${mark}`);
        emit(s.id, `${indent}  `);
        out.push(`${indent}}`);
      } else {
        out.push(`${indent}${q(s.id)} ${attrs(nodeAttrs(s, highlight))};`);
      }
    }
  };
  emit(null, '  ');
  if (graph.initial) {
    out.push(`  "__initial" [shape=point, width=0.12, id="initial", class="initial", color=${q(highlight ? COLORS.idle : COLORS.ink)}];`);
    out.push(`  "__initial" -> ${q(leaf(graph.initial))} [id="initial-edge", class="initial"${highlight ? `, color=${q(COLORS.idle)}` : ''}];`);
  }
  for (const e of graph.edges) {
    const a = edgeAttrs(e, highlight);
    // The lifecycle's own flow sets the layout (top to bottom): error edges back to the start, and
    // the start's routing to wherever a row resumes, do not pull the states around.
    if (e.kind === 'error' || (e.source === graph.initial && e.kind === 'always')) a.constraint = 'false';
    if (compound(e.source) && e.target !== e.source) a.ltail = clusterName(e.source);
    if (compound(e.target) && e.target !== e.source) a.lhead = clusterName(e.target);
    out.push(`  ${q(leaf(e.source))} -> ${q(leaf(e.target))} ${attrs(a)};`);
  }
  for (const [i, x] of (highlight?.external ?? []).entries()) {
    if (!byId.has(x.source) || !byId.has(x.target)) continue;
    out.push(`  ${q(leaf(x.source))} -> ${q(leaf(x.target))} ${attrs({
      id: `external-${i}`, class: 'transition external taken', style: 'dashed', penwidth: 3,
      color: COLORS.taken, fontcolor: COLORS.taken, label: `outside the machine\n(step ${x.steps.join(', ')})`,
    })};`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}
