// Drain and resume (issue 17): the agent on a drained host claims no new job or Jupyter server and
// lets what runs finish; jobs for "any host" go to your other hosts.
import type { HostDrain } from '../services/store/queue-types.js';
import { defineCommand, type Command } from './command.js';
import { formatTime, memberTimeZone, timeHeading } from '../services/time-format.js';
import { table, UsageError } from './output.js';
import { withUserStore } from './user-store.js';

function hostOf(args: string[], options: Record<string, unknown>, thisHost: string): string {
  if (args.length) throw new UsageError('name the host with --host H (default: this one)');
  return (options.host as string | undefined) ?? thisHost;
}

function drainsTable(rows: HostDrain[], zone = memberTimeZone()): string {
  if (rows.length === 0) return 'no host is drained';
  return table([['HOST', 'BY', timeHeading('SINCE', zone), 'NOTE'], ...rows.map((d) => [d.host, d.lab_wide ? 'the lab (administrator)' : 'you', formatTime(d.drained_at, zone, 'cell'), d.note ?? ''])]);
}

export const drainCommands: Command[] = [
  defineCommand({
    name: 'drain',
    summary: 'stop your agent on a host from taking new work (running jobs finish); --list shows drains',
    usage: 'lab-agent drain [--host H] [--note TEXT] [--list] [--json]',
    json: true,
    options: { host: { type: 'string', help: 'the host to drain', whenAbsent: 'this host' }, note: { type: 'string', help: 'why, shown to the members whose jobs wait', whenAbsent: 'none' }, list: { type: 'boolean', help: 'list the drained hosts instead', whenAbsent: 'off' } },
    async run({ args, options, env, out }) {
      if (options.list) return out.data(await withUserStore(env, (store) => store.listDrains()), drainsTable);
      const row = await withUserStore(env, (store, config) => store.drainHost({ host: hostOf(args, options, config.host), note: (options.note as string) ?? null }));
      out.data(row, (d: HostDrain) => `${d.host} drained: your agent there takes no new jobs or Jupyter servers; running ones finish (lab-agent resume --host ${d.host})`);
    },
  }),
  defineCommand({
    name: 'resume',
    summary: 'let your agent on a drained host take work again',
    usage: 'lab-agent resume [--host H] [--json]',
    json: true,
    options: { host: { type: 'string', help: 'the host to take jobs again', whenAbsent: 'this host' } },
    async run({ args, options, env, out }) {
      const r = await withUserStore(env, (store, config) => store.resumeHost(hostOf(args, options, config.host)));
      out.data(r, (x: typeof r) => (x.lab_drained ? `${x.host}: your drain is lifted, but the lab's administrator drained it too: nothing starts there until they resume it`
        : x.resumed ? `${x.host} resumed` : `${x.host} was not drained`));
    },
  }),
];
