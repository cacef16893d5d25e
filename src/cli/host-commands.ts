// `lab-agent hosts`: every lab server an agent publishes, with its GPUs (free or not), CPU load and
// memory, as any member may read them (no member's jobs).
import type { HostDrainMark, HostRow } from '../services/store/types.js';
import type { Command } from './command.js';
import { table } from './output.js';
import { withUserStore } from './user-store.js';

const gib = (mib: number | null) => (mib === null ? '?' : `${(mib / 1024).toFixed(0)}G`);

/** A drained host's state for you: your agent there (or every agent, for the lab's drain) takes no new work. */
function drainText(d: HostDrainMark | null | undefined): string {
  if (!d) return '';
  return `drained by ${d.by === 'lab' ? 'the lab' : 'you'}${d.note ? `: ${d.note}` : ''}`;
}

export function hostsTable(hosts: HostRow[]): string {
  if (hosts.length === 0) return 'no host has published its resources yet (each agent does with its heartbeat)';
  const rows = [['HOST', 'GPU', 'MODEL', 'MEMORY USED', 'UTIL', 'TEMP', 'STATE', 'UPDATED']];
  for (const h of hosts) {
    const updated = `${h.seconds_since_update}s ago`;
    const cpu = `load ${h.load_1m ?? '?'} / ${h.cpu_count ?? '?'} CPUs, ${gib(h.mem_free_mib)} of ${gib(h.mem_total_mib)} memory free`;
    const free = h.gpus.filter((g) => g.free).length;
    rows.push([h.host, '-', `${h.gpus.length ? `${free} of ${h.gpus.length} GPUs free` : h.gpu_problem ?? 'no GPU'}; ${cpu}`, '', '', '', drainText(h.drain), updated]);
    for (const g of h.gpus) {
      const state = g.unusable ? 'unusable' : g.free ? 'free' : g.leased ? 'leased' : `busy (${g.processes} proc)`;
      rows.push(['', String(g.index), g.model, `${g.memory_used_mib ?? '?'}/${g.memory_total_mib ?? '?'} MiB`,
        g.utilization_pct === null ? '-' : `${g.utilization_pct}%`, g.temperature_c === null ? '-' : `${g.temperature_c}C`, state, '']);
    }
  }
  const drained = hosts.filter((h) => h.drain).map((h) => h.host);
  const note = drained.length ? `\n\n${drained.join(', ')}: drained, so no new jobs or Jupyter servers start there (running ones finish); lab-agent drain --list` : '';
  return table(rows) + note;
}

export const hostCommands: Command[] = [
  {
    name: 'hosts',
    summary: 'the lab\'s servers: free GPUs, GPU memory and use, CPU load, memory (as their agents last published), and which are drained for you',
    usage: 'lab-agent hosts [--history] [--json]',
    json: true,
    options: { history: { type: 'boolean', help: 'also hosts that have not been seen for a while', whenAbsent: 'off' } },
    async run({ options, env, out }) {
      const hosts = await withUserStore(env, (store) => store.listHosts({ history: Boolean(options.history) }));
      out.data(hosts, hostsTable);
    },
  },
];
