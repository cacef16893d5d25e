// `lab-agent sync [--dry-run]` and `lab-agent scripts`: the script inventory. Everything heavy is
// imported inside run(), so `sync --dry-run` loads only what it uses.
import type { SyncResult } from '../services/inventory/sync.js';
import type { ScriptRow } from '../services/store/types.js';
import { formatTime, memberTimeZone, timeHeading } from '../services/time-format.js';
import { defineCommand, type Command } from './command.js';
import { size, table } from './output.js';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function syncText(r: SyncResult): string {
  const counts = r.dryRun
    ? `dry run, nothing written: would insert ${r.inserted}, update ${r.updated}, delete ${r.deleted}; ${r.unchanged} unchanged`
    : `inserted ${r.inserted}, updated ${r.updated}, deleted ${r.deleted}; ${r.unchanged} unchanged`;
  const lines = [`${counts} (${Math.round(r.timings.totalMs)} ms)`];
  if (r.truncated) lines.push(`the scan stopped early (${r.truncated}): nothing was deleted`);
  if (r.kept) lines.push(`${plural(r.kept, 'script')} under unreadable folders kept`);
  // Every path for a dry run (that is what it is for); a real sync names them up to a screenful.
  const listed = [
    ...r.paths.insert.map((p) => `+ ${p}`),
    ...r.paths.update.map((p) => `~ ${p}`),
    ...r.paths.delete.map((p) => `- ${p}`),
  ];
  const limit = r.dryRun ? Infinity : 50;
  lines.push(...listed.slice(0, limit));
  if (listed.length > limit) lines.push(`… and ${listed.length - limit} more (--dry-run --json lists them all)`);
  return lines.join('\n');
}

function scriptsTable(rows: ScriptRow[], zone = memberTimeZone()): string {
  if (rows.length === 0) return 'no scripts in the inventory yet: run `lab-agent sync`';
  return table([
    ['ID', 'TYPE', 'SIZE', timeHeading('MODIFIED', zone), 'KERNEL', 'PATH'],
    ...rows.map((s) => [String(s.script_id), s.type, size(s.size === null ? null : Number(s.size)), formatTime(s.mtime, zone, 'cell'), s.kernel ?? '-', s.path]),
  ]);
}

export const inventoryCommands: Command[] = [
  defineCommand({
    name: 'sync',
    summary: 'scan your home for scripts now and update the inventory (--dry-run: only show the changes)',
    usage: 'lab-agent sync [--dry-run] [--json]',
    json: true,
    options: { 'dry-run': { type: 'boolean', help: 'show what would change without writing it', whenAbsent: 'off' } },
    async run({ options, env, out }) {
      const [{ withStoreOpening }, { syncInventory }] = await Promise.all([
        import('./user-store.js'),
        import('../services/inventory/sync.js'),
      ]);
      const dryRun = Boolean(options['dry-run']);
      // The scan of home runs while the database connection is set up.
      const result = await withStoreOpening(env, (store, config) => syncInventory({ store, config }, { force: true, dryRun }));
      out.data(result, syncText);
      if (!out.json) for (const w of result.warnings) process.stderr.write(`lab-agent sync: warning: ${w}\n`);
    },
  }),
  defineCommand({
    name: 'scripts',
    summary: 'your script inventory as the database holds it',
    usage: 'lab-agent scripts [--json]',
    json: true,
    async run({ env, out }) {
      const { withUserStore } = await import('./user-store.js');
      const rows = await withUserStore(env, (store) => store.listScripts());
      out.data(rows, scriptsTable);
    },
  }),
];
