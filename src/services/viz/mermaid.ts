// Mermaid stateDiagram-v2 text of a machine graph (GitHub and most Markdown viewers draw it).
// With a row's history: visited states and the current one get classes, and each edge taken
// carries the step numbers that took it.
import type { Highlight } from './history.js';
import { edgeLabel, type MachineGraph, type VizState } from './machine-graph.js';

/** Mermaid ids cannot hold dots: 'a.b' becomes 'a__b'. */
const mermaidId = (stateId: string): string => stateId.replace(/\./g, '__');

// '#' and ';' end a statement or start an entity in Mermaid; nothing the machines name needs them.
const clean = (text: string): string => text.replace(/[#;]/g, ' ').replace(/\s+/g, ' ').trim();

const stepsNote = (steps: number[] | undefined): string => (steps?.length ? ` (step ${steps.join(', ')})` : '');

export function toMermaid(graph: MachineGraph, highlight?: Highlight): string {
  const lines = ['stateDiagram-v2', `  %% ${graph.id} machine, drawn from its definition`];
  const children = (parent: string | null) => graph.states.filter((s) => s.parent === parent);
  const block = (state: VizState, indent: string) => {
    const kids = children(state.id);
    if (kids.length === 0) return;
    lines.push(`${indent}state ${mermaidId(state.id)} {`);
    const first = kids.find((k) => k.initial);
    if (first) lines.push(`${indent}  [*] --> ${mermaidId(first.id)}`);
    for (const k of kids) block(k, `${indent}  `);
    lines.push(`${indent}}`);
  };
  if (graph.initial) lines.push(`  [*] --> ${mermaidId(graph.initial)}`);
  for (const s of children(null)) block(s, '  ');
  for (const s of graph.states) {
    // Each state is declared, so one without edges still shows (a compound one by its block).
    if (children(s.id).length === 0) lines.push(`  state "${clean(s.key)}" as ${mermaidId(s.id)}`);
    for (const inv of s.invokes) lines.push(`  ${mermaidId(s.id)} : invoke ${clean(inv.src)}`);
    if (s.kind === 'final') lines.push(`  ${mermaidId(s.id)} --> [*]`);
  }
  for (const e of graph.edges) {
    const label = clean(edgeLabel(e) + (e.targetless ? ' (stays)' : '') + stepsNote(highlight?.taken.get(e.index)));
    lines.push(`  ${mermaidId(e.source)} --> ${mermaidId(e.target)} : ${label}`);
  }
  if (highlight) {
    for (const x of highlight.external) {
      lines.push(`  ${mermaidId(x.source)} --> ${mermaidId(x.target)} : outside the machine${stepsNote(x.steps)}`);
    }
    lines.push('  classDef visited fill:#dbeafe,stroke:#1d4ed8,stroke-width:2px');
    lines.push('  classDef current fill:#fde68a,stroke:#b45309,stroke-width:4px');
    const visited = [...highlight.visited].filter((id) => id !== highlight.current);
    if (visited.length) lines.push(`  class ${visited.map(mermaidId).join(', ')} visited`);
    if (highlight.current) lines.push(`  class ${mermaidId(highlight.current)} current`);
  }
  return `${lines.join('\n')}\n`;
}
