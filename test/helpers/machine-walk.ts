// A machine walked through its own state nodes, independently of src/services/viz: what the
// visualizer tests check every drawing (and the trace) against.
import type { AnyStateMachine, AnyStateNode } from 'xstate';

export interface Expected {
  source: string;
  target: string;
  /** Words the drawn label must hold: the event (or the invoked actor), and the guard. */
  words: string[];
}

export const idOf = (n: AnyStateNode) => n.path.join('.');
/** Where a drawing's edge meets a compound state: its initial leaf (a parallel state's first region's). */
export const leafOf = (n: AnyStateNode): AnyStateNode => {
  const first = n.initial?.target[0] ?? (Object.values(n.states)[0] as AnyStateNode | undefined);
  return first ? leafOf(first) : n;
};

export function walk(machine: AnyStateMachine): { states: AnyStateNode[]; transitions: Expected[] } {
  const states: AnyStateNode[] = [];
  const visit = (n: AnyStateNode) => Object.values(n.states).forEach((c) => { states.push(c as AnyStateNode); visit(c as AnyStateNode); });
  visit(machine.root);
  const transitions: Expected[] = [];
  for (const node of states) {
    const all = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
    for (const t of all) {
      const words: string[] = [];
      const invoked = (prefix: string) => String(node.invoke.find((i) => i.id === t.eventType.slice(prefix.length))?.src);
      const group = t.eventType === '*' && t.guard === 'stepFailed'; // a group's one error edge (src/machines/kit.ts)
      if (t.eventType === '') words.push('always');
      else if (group) words.push('error', 'any step');
      else if (t.eventType.startsWith('xstate.done.actor.')) words.push('done', invoked('xstate.done.actor.'));
      else if (t.eventType.startsWith('xstate.error.actor.')) words.push('error', invoked('xstate.error.actor.'));
      else if (t.eventType.startsWith('xstate.done.state.')) words.push('done');
      else if (t.eventType.startsWith('xstate.after.')) words.push('after', t.eventType.split('.')[2]!);
      else words.push(t.eventType);
      const g = t.guard as unknown;
      // A group's guard is what makes it an error edge: drawn as 'error(any step)', no guard.
      if (!group && typeof g === 'string') words.push(g);
      else if (!group && g && typeof g === 'object' && 'type' in g) words.push(String((g as { type: unknown }).type));
      for (const target of t.target?.length ? t.target : [node]) transitions.push({ source: idOf(node), target: idOf(target), words });
    }
  }
  return { states, transitions };
}

