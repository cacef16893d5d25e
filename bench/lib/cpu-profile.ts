// Where a process's CPU went, from a V8 profile written by `node --cpu-prof`: self time by
// package or source file, and the busiest functions.
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  if (!url) return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node internals';
  const own = /\/dist\/(.+)$/.exec(url);
  return own ? own[1]! : url;
}

export function summarizeProfile(p: Profile, top = 15): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') continue;
    const place = name.startsWith('(') ? name : where(n.callFrame.url);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
    const fn = `${name} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const busy = [...byPlace.values()].reduce((a, b) => a + b, 0);
  const rows = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `  ${(us / 1000).toFixed(1).padStart(8)} ms ${((us / busy) * 100).toFixed(1).padStart(5)} %  ${k}`);
  return [
    `profile: ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms busy`,
    'self time by package / file:', ...rows(byPlace),
    'busiest functions:', ...rows(byFunction),
  ].join('\n');
}
