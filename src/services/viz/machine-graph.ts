// A machine's statechart as plain data, read from the machine's own state nodes: states (nested
// ones too), initial and final states, every transition with its event, guard and target,
// `always` edges and invoked actors. Every drawing (mermaid, dot, svg, html) and the history
// paths are built from this, so a new state or transition shows up without touching the
// visualizer. (xstate/graph's toDirectedGraph omits `always` edges, hence our own walk.)
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { STEP_FAILED } from '../../machines/kit.js';

type StateKind = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
type EdgeKind = 'event' | 'always' | 'done' | 'error' | 'after';

export interface VizState {
  /** The state's path joined with '.', unique in the machine ('running', 'a.b'). */
  id: string;
  key: string;
  parent: string | null;
  kind: StateKind;
  /** Entered when its parent is (the initial child), or the machine's top initial state. */
  initial: boolean;
  invokes: { id: string; src: string }[];
  /**
   * Waits for an outside event (TICK, CLAIMED ...) or is final. The others (running an invoked
   * actor, or eventless routing like 'restoring') are passed through within one step; they are
   * never a row's recorded status between two events.
   */
  resting: boolean;
  description: string | null;
}

export interface VizEdge {
  /** Position in `edges`; stable for one machine definition. */
  index: number;
  source: string;
  /** Equal to source for a targetless transition (it runs actions, the state stays). */
  target: string;
  /** The raw event type, e.g. 'TICK' or 'xstate.done.actor.0.job.starting'. */
  eventType: string;
  kind: EdgeKind;
  /** What a person reads: 'TICK', 'always', 'done(startJob)', 'error(startJob)', 'after 5000ms'. */
  event: string;
  guard: string | null;
  actions: string[];
  targetless: boolean;
}

export interface MachineGraph {
  id: string;
  /** Top-level initial state (what the machine enters first). */
  initial: string | null;
  states: VizState[];
  edges: VizEdge[];
}

const stateId = (node: AnyStateNode): string => node.path.join('.');

/** A guard as a name: 'isPending', 'not(isPending)', 'and(a, b)', or 'inline' for an anonymous function. */
function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    // Higher-order guards (and/or/not) carry their operands in `guards`.
    const inner = (guard as { guards?: unknown[] }).guards;
    const name = guard.name && guard.name !== 'guard' ? guard.name : 'inline';
    return Array.isArray(inner) ? `${name}(${inner.map((g) => guardName(g) ?? '?').join(', ')})` : name;
  }
  if (typeof guard === 'object' && 'type' in guard) {
    // Fixed params say which case it is: statusIs(running). (Params read from the event are not shown.)
    const { type, params } = guard as { type: unknown; params?: unknown };
    const shown = params && typeof params === 'object' ? Object.values(params).filter((v) => typeof v === 'string' || typeof v === 'number') : [];
    return shown.length ? `${String(type)}(${shown.join(', ')})` : String(type);
  }
  return 'inline';
}

function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'object' && action !== null && 'type' in action) return String((action as { type: unknown }).type);
  if (typeof action === 'function') return action.name && !action.name.startsWith('xstate.') ? action.name : 'inline';
  return 'inline';
}

function invokeSrc(src: unknown): string {
  if (typeof src === 'string') return src;
  const id = (src as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : 'inline actor';
}

/** Turns the internal event type into its kind and readable label. */
function describeEvent(eventType: string, node: AnyStateNode): { kind: EdgeKind; event: string } {
  const invokeOf = (prefix: string) => {
    const id = eventType.slice(prefix.length);
    const inv = node.invoke.find((i) => i.id === id);
    return inv ? invokeSrc(inv.src) : id;
  };
  if (eventType === '') return { kind: 'always', event: 'always' };
  if (eventType.startsWith('xstate.done.actor.')) return { kind: 'done', event: `done(${invokeOf('xstate.done.actor.')})` };
  if (eventType.startsWith('xstate.error.actor.')) return { kind: 'error', event: `error(${invokeOf('xstate.error.actor.')})` };
  if (eventType.startsWith('xstate.done.state.')) return { kind: 'done', event: 'done(children final)' };
  if (eventType.startsWith('xstate.after.')) {
    const delay = eventType.slice('xstate.after.'.length).split('.')[0];
    return { kind: 'after', event: /^\d+$/.test(delay ?? '') ? `after ${delay}ms` : `after ${delay}` };
  }
  return { kind: 'event', event: eventType };
}

interface RawTransition {
  eventType: string;
  target?: readonly AnyStateNode[] | undefined;
  guard?: unknown;
  actions?: readonly unknown[];
}

/** Walks every state node of the machine, depth first in declaration order. */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const states: VizState[] = [];
  const edges: VizEdge[] = [];
  const addEdges = (node: AnyStateNode, list: readonly RawTransition[], always: boolean) => {
    for (const t of list) {
      const guard = guardName(t.guard);
      // A group's one error edge (kit.ts onStepError): a failure of any step inside the group.
      const groupError = !always && t.eventType === '*' && guard === STEP_FAILED;
      const { kind, event } = always ? { kind: 'always' as const, event: 'always' } : groupError ? { kind: 'error' as const, event: 'error(any step)' } : describeEvent(t.eventType, node);
      const targets = t.target && t.target.length ? t.target.map(stateId) : [stateId(node)];
      for (const target of targets) {
        edges.push({
          index: edges.length, source: stateId(node), target, eventType: always ? '' : t.eventType, kind, event,
          guard: groupError ? null : guard, actions: (t.actions ?? []).map(actionName), targetless: !t.target || t.target.length === 0,
        });
      }
    }
  };
  const visit = (node: AnyStateNode, parent: AnyStateNode | null) => {
    const transitions = [...(node.transitions as Map<string, RawTransition[]>).values()].flat();
    const always = (node.always ?? []) as RawTransition[];
    const initialOfParent = parent ? (parent.initial?.target ?? []).some((t: AnyStateNode) => t === node) : false;
    states.push({
      id: stateId(node), key: node.key, parent: parent && parent.parent ? stateId(parent) : null,
      kind: node.type as StateKind, initial: initialOfParent,
      invokes: node.invoke.map((i) => ({ id: i.id, src: invokeSrc(i.src) })),
      // Passed through: it runs an actor, or it only routes onwards (eventless edges, nothing else).
      resting: node.type === 'final' || !(node.invoke.length > 0 || (always.length > 0 && transitions.length === 0)),
      description: node.description ?? null,
    });
    addEdges(node, transitions, false);
    addEdges(node, always, true);
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child, node);
  };
  for (const child of Object.values(machine.root.states) as AnyStateNode[]) visit(child, machine.root);
  const top = machine.root.initial?.target?.[0] as AnyStateNode | undefined;
  return { id: machine.id, initial: top ? stateId(top) : null, states, edges };
}

/** The label an edge shows: event, then guard in brackets. */
export const edgeLabel = (e: VizEdge): string => (e.guard ? `${e.event} [${e.guard}]` : e.event);

/** Entering a compound state enters its initial child (and so on down). */
export function settle(graph: MachineGraph, id: string): string {
  let at = id;
  for (;;) {
    const child = graph.states.find((s) => s.parent === at && s.initial);
    const node = graph.states.find((s) => s.id === at);
    if (!child || node?.kind !== 'compound') return at;
    at = child.id;
  }
}

/**
 * The state a recorded status stands for: a state whose key is the status (the shallowest), and
 * where that is a group, the child a row in that status rests in ('running' → 'running.waiting').
 */
export function stateForStatus(graph: MachineGraph, status: string): VizState | null {
  const matches = graph.states.filter((s) => s.key === status);
  const named = matches.sort((a, b) => a.id.split('.').length - b.id.split('.').length)[0];
  if (!named) return null;
  const rests = settle(graph, named.id);
  return graph.states.find((s) => s.id === rests) ?? named;
}
