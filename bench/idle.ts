// The agent's cost when there is nothing to do:
//  - an idle `lab-agent tick` (what cron runs every minute) and `lab-agent --help`: CPU and peak
//    RSS of the whole process, run as the installer's wrapper runs them (`node dist/tick.cjs` for
//    the tick, `node dist/index.cjs --help`; both from the code cache their first run writes), next to `node -e 0` in the same run as the floor any Node.js command
//    pays (goals: tick ≤ 2× its CPU and ≤ 50 MiB, --help ≤ 2× its CPU); the tick in local mode
//    (the embedded server the agent starts itself, already up: what a member without a lab
//    database runs) and in postgres mode (LAB_DATABASE_URL);
//  - an idle `lab-agent supervise` over 60 s: CPU share and RSS from /proc.
// Run: npm run build && node --import tsx bench/idle.ts [--runs 10] [--seconds 60]
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshDatabase } from '../test/helpers/db.js';
import { stopLocalPostgres } from '../src/services/store/local-postgres.js';
import { AgentEnv, cliPath, eventually, exited, sleep } from '../test/helpers/agent-env.js';
import { cpuSeconds, rssMiB, timed } from './lib/proc.js';
import { median, round } from './lib/stats.js';

const arg = (name: string, def: number) => Number(process.argv[process.argv.indexOf(name) + 1] || def) || def;
const runs = arg('--runs', 10);
const seconds = arg('--seconds', 60);

const db = await freshDatabase();
// error: as root (CI, this VM) every tick would log the root warning, which a member's agent never
// does; an idle member's tick logs nothing at the default level (info), so the logger stays unloaded.
const a = new AgentEnv(db, 'idle', { LAB_LOG_LEVEL: 'error' });
await a.cli(['tick']); // first tick creates the user row and agent id; not measured
// Local mode: its own data folder; the first tick starts the server and creates the schema.
const localData = mkdtempSync(join(tmpdir(), 'lab-bench-idle-local-'));
// A member uses one mode: each mode has its own code cache (src/code-cache.ts), as each member has
// (one written by a postgres-mode tick lacks the local mode's functions, which every local tick
// would then compile).
const localCache = join(localData, 'cache');
mkdirSync(localCache);
const localEnv = { ...a.env, LAB_DATABASE_URL: '', LAB_DATA_DIR: localData, XDG_CACHE_HOME: localCache };
const first = await a.cli(['tick'], localEnv);
if (first.code !== 0) throw new Error(`local tick failed: ${first.stderr}`);

// as bin/lab-agent runs them: `tick` through the tick's own entry point, the rest through the CLI
const tickArgs = [join(cliPath, '..', 'tick.cjs')];
const helpArgs = [cliPath, '--help'];
const tick: { cpuS: number; maxRssMiB: number; wallS: number }[] = [];
const localTick: { cpuS: number; maxRssMiB: number; wallS: number }[] = [];
const help: { cpuS: number; maxRssMiB: number }[] = [];
const floor: { cpuS: number; maxRssMiB: number }[] = [];
for (let i = 0; i < runs; i++) {
  floor.push(await timed(process.execPath, ['-e', '0'], a.env));
  const r = await timed(process.execPath, tickArgs, a.env);
  if (r.code !== 0) throw new Error(`tick exited ${r.code}`);
  tick.push(r);
  const l = await timed(process.execPath, tickArgs, localEnv);
  if (l.code !== 0) throw new Error(`local tick exited ${l.code}`);
  localTick.push(l);
  help.push(await timed(process.execPath, helpArgs, a.env));
}

const sup = a.spawn(['supervise']);
await eventually('supervisor up', async () => (await db.admin.query("select 1 from public.agents where mode = 'supervise' and stopped_at is null")).rowCount);
await sleep(3000); // start-up is not idle time
const cpu0 = cpuSeconds(sup.pid!);
let maxRss = 0;
for (let s = 0; s < seconds; s++) {
  await sleep(1000);
  maxRss = Math.max(maxRss, rssMiB(sup.pid!));
}
const cpuShare = ((cpuSeconds(sup.pid!) - cpu0) / seconds) * 100;
sup.kill('SIGTERM');
await exited(sup);
await db.drop();
await stopLocalPostgres(localData);
rmSync(localData, { recursive: true, force: true });
const cpu = (xs: { cpuS: number }[]) => median(xs.map((t) => t.cpuS));

console.log(JSON.stringify({
  idle_tick_local: { runs, cpu_s_median: round(cpu(localTick), 3), peak_rss_mib_median: round(median(localTick.map((t) => t.maxRssMiB))), peak_rss_mib_max: round(Math.max(...localTick.map((t) => t.maxRssMiB))), wall_s_median: round(median(localTick.map((t) => t.wallS)), 3) },
  idle_tick: { runs, cpu_s_median: round(median(tick.map((t) => t.cpuS)), 3), peak_rss_mib_median: round(median(tick.map((t) => t.maxRssMiB))), wall_s_median: round(median(tick.map((t) => t.wallS)), 3) },
  help: { cpu_s_median: round(median(help.map((t) => t.cpuS)), 3), peak_rss_mib_median: round(median(help.map((t) => t.maxRssMiB))) },
  node_e_0: { cpu_s_median: round(median(floor.map((t) => t.cpuS)), 3), peak_rss_mib_median: round(median(floor.map((t) => t.maxRssMiB))) },
  ratio_to_node_e_0: { tick_local: round(cpu(localTick) / cpu(floor), 2), tick: round(median(tick.map((t) => t.cpuS)) / median(floor.map((t) => t.cpuS)), 2), help: round(median(help.map((t) => t.cpuS)) / median(floor.map((t) => t.cpuS)), 2) },
  idle_supervisor: { seconds, cpu_percent: round(cpuShare, 2), max_rss_mib: round(maxRss) },
}));
process.exit(0);
