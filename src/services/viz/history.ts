// A row's history over its machine. The events table records *statuses* (pending, claimed,
// running, failed ...), while the machine passes through more states within one step
// (starting, probing, concluding ...). Each recorded change is laid onto the machine as the
// shortest path between the two states, found over the walked graph (never a hand-written
// list): it may pass only through states that a step passes through (transient ones), since a
// resting state on the way would itself have been recorded. A change with no such path (say a
// pending job cancelled by its user, done by SQL alone) is kept as an "outside the machine" step.
import type { LifecycleEvent } from '../store/types.js';
import { settle, stateForStatus, type MachineGraph, type VizEdge, type VizState } from './machine-graph.js';

export interface HistoryStep {
  /** 1-based position in the timeline. */
  n: number;
  at: string;
  fromStatus: string | null;
  toStatus: string;
  /** created: the row appeared; change: its status changed; request: same status, something asked (detail.action). */
  kind: 'created' | 'change' | 'request';
  action: string | null;
  /** The machine's edges from the old state to the new, in order. */
  edges: VizEdge[];
  /** A status change with no path through the machine. */
  external: boolean;
  /** Why the step could not be laid on the machine, if it could not. */
  problem: string | null;
  detail: Record<string, unknown>;
}

interface ExternalEdge {
  source: string;
  target: string;
  steps: number[];
}

export interface RowHistory {
  steps: HistoryStep[];
  /** States the row went through, in the order first reached. */
  visited: string[];
  /** Edge index → the steps that took it. */
  taken: Map<number, number[]>;
  external: ExternalEdge[];
  /** The state of the last recorded status. */
  current: string | null;
  /** Every state in order, transient ones included: pending → claimed → starting → ... */
  path: string[];
}

const ancestorsOf = (graph: MachineGraph, id: string): string[] => {
  const out: string[] = [];
  const byId = new Map(graph.states.map((s) => [s.id, s]));
  for (let s = byId.get(id); s?.parent; s = byId.get(s.parent)) out.push(s.parent);
  return out;
};

/**
 * The shortest way from one state to another, through transient states only. Ties go to the
 * path with fewer error edges, then to the transition declared first.
 */
function shortestPath(graph: MachineGraph, from: string, target: string): VizEdge[] | null {
  let to = target;
  const resting = new Map(graph.states.map((s) => [s.id, s.resting]));
  // An event handled by a parent applies in each of its children; a parent's error edge, only in
  // a child running a step (a group's one error edge stands for its steps' failures).
  const runsStep = new Map(graph.states.map((s) => [s.id, s.invokes.length > 0]));
  const outgoing = (id: string) =>
    [id, ...ancestorsOf(graph, id)].flatMap((sid) =>
      graph.edges.filter((e) => e.source === sid && !e.targetless && e.target !== sid && (sid === id || e.kind !== 'error' || runsStep.get(id))),
    );
  const cost = new Map<string, number>([[from, 0]]);
  // How each state was reached: the edge, and the state the step left (the edge may be its parent's).
  const via = new Map<string, { edge: VizEdge; prev: string }>();
  const done = new Set<string>();
  for (;;) {
    let best: string | null = null;
    for (const [id, c] of cost) if (!done.has(id) && (best === null || c < cost.get(best)!)) best = id;
    if (best === null) return null;
    // Reaching a compound state's initial child is reaching the compound state.
    if (best === to || best.startsWith(`${to}.`)) {
      to = best;
      break;
    }
    done.add(best);
    // A resting state on the way would have been recorded as a status of its own.
    if (best !== from && resting.get(best)) continue;
    for (const e of outgoing(best)) {
      const target = settle(graph, e.target);
      const c = cost.get(best)! + 1000 + (e.kind === 'error' ? 1 : 0);
      if (!done.has(target) && c < (cost.get(target) ?? Infinity)) {
        cost.set(target, c);
        via.set(target, { edge: e, prev: best });
      }
    }
  }
  const edges: VizEdge[] = [];
  for (let at = to; at !== from; ) {
    const step = via.get(at)!;
    edges.unshift(step.edge);
    at = step.prev;
  }
  return edges;
}

/** The shortest path from → via → to, or the direct one when there is no way through `via`. */
function throughState(graph: MachineGraph, from: string, via: string, to: string): VizEdge[] | null {
  const first = shortestPath(graph, from, via);
  const second = first && shortestPath(graph, via, to);
  return first && second ? [...first, ...second] : shortestPath(graph, from, to);
}

/** Lays each recorded event of one row onto the machine. Events must be in recorded order. */
export function traceHistory(graph: MachineGraph, events: LifecycleEvent[]): RowHistory {
  const steps: HistoryStep[] = [];
  const visited: string[] = [];
  const path: string[] = [];
  const taken = new Map<number, number[]>();
  const external: ExternalEdge[] = [];
  let current: string | null = null;
  const visit = (id: string) => {
    if (!visited.includes(id)) visited.push(id);
    if (path[path.length - 1] !== id) path.push(id);
  };
  events.forEach((ev, i) => {
    const n = i + 1;
    const action = typeof ev.detail?.action === 'string' ? ev.detail.action : null;
    const kind = ev.from_status === null ? 'created' : ev.from_status === ev.to_status ? 'request' : 'change';
    const step: HistoryStep = {
      n, at: ev.at, fromStatus: ev.from_status, toStatus: ev.to_status, kind, action,
      edges: [], external: false, problem: null, detail: ev.detail ?? {},
    };
    steps.push(step);
    const to: VizState | null = stateForStatus(graph, ev.to_status);
    if (!to) {
      step.problem = `the machine has no state "${ev.to_status}"`;
      return;
    }
    if (kind === 'created' || kind === 'request') {
      // A new row starts in its status; a request changes no state (the machine acts on it later).
      if (kind === 'created' || current === null) visit(to.id);
      current = to.id;
      return;
    }
    const fromState = stateForStatus(graph, ev.from_status!);
    if (!fromState) {
      step.problem = `the machine has no state "${ev.from_status}"`;
      visit(to.id);
      current = to.id;
      return;
    }
    if (current !== fromState.id) visit(fromState.id);
    // Where the agent named the state that made the change, the path goes through it.
    const via = typeof ev.detail?.via === 'string' ? graph.states.find((s) => s.id === ev.detail.via) : undefined;
    const edges = via ? throughState(graph, fromState.id, via.id, to.id) : shortestPath(graph, fromState.id, to.id);
    if (edges) {
      step.edges = edges;
      for (const e of edges) {
        taken.set(e.index, [...(taken.get(e.index) ?? []), n]);
        visit(e.target);
        visit(settle(graph, e.target));
      }
    } else {
      step.external = true;
      const known = external.find((x) => x.source === fromState.id && x.target === to.id);
      if (known) known.steps.push(n);
      else external.push({ source: fromState.id, target: to.id, steps: [n] });
      visit(to.id);
    }
    current = to.id;
  });
  return { steps, visited, taken, external, current, path };
}

/** What a drawing needs to highlight a row's history. */
export interface Highlight {
  visited: Set<string>;
  current: string | null;
  taken: Map<number, number[]>;
  external: ExternalEdge[];
}

export const highlightOf = (h: RowHistory): Highlight => ({
  visited: new Set(h.visited), current: h.current, taken: h.taken, external: h.external,
});
