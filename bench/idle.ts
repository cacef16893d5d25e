// The agent's cost when there is nothing to do:
//  - an idle `lab-agent tick` (what cron runs every minute) and `lab-agent --help`: CPU and peak
//    RSS of the whole process, run as the installer's wrapper runs them (the bundle, with
//    --enable-source-maps), next to `node -e 0` in the same run as the floor any Node.js command
//    pays (goals: tick ≤ 2× its CPU and ≤ 50 MiB, --help ≤ 2× its CPU);
//  - an idle `lab-agent supervise` over 60 s: CPU share and RSS from /proc.
// Run: npm run build && node --import tsx bench/idle.ts [--runs 10] [--seconds 60]
import { freshDatabase } from '../test/helpers/db.js';
import { AgentEnv, cliPath, eventually, exited, sleep } from '../test/helpers/agent-env.js';
import { cpuSeconds, rssMiB, timed } from './lib/proc.js';
import { median, round } from './lib/stats.js';

const arg = (name: string, def: number) => Number(process.argv[process.argv.indexOf(name) + 1] || def) || def;
const runs = arg('--runs', 10);
const seconds = arg('--seconds', 60);

const db = await freshDatabase();
const a = new AgentEnv(db, 'idle', { LAB_LOG_LEVEL: 'warn' });
await a.cli(['tick']); // first tick creates the user row and agent id; not measured

const wrapperArgs = ['--enable-source-maps', cliPath]; // as bin/lab-agent runs it
const tick: { cpuS: number; maxRssMiB: number; wallS: number }[] = [];
const help: { cpuS: number; maxRssMiB: number }[] = [];
const floor: { cpuS: number; maxRssMiB: number }[] = [];
for (let i = 0; i < runs; i++) {
  floor.push(await timed(process.execPath, ['-e', '0'], a.env));
  const r = await timed(process.execPath, [...wrapperArgs, 'tick'], a.env);
  if (r.code !== 0) throw new Error(`tick exited ${r.code}`);
  tick.push(r);
  help.push(await timed(process.execPath, [...wrapperArgs, '--help'], a.env));
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

console.log(JSON.stringify({
  idle_tick: { runs, cpu_s_median: round(median(tick.map((t) => t.cpuS)), 3), peak_rss_mib_median: round(median(tick.map((t) => t.maxRssMiB))), wall_s_median: round(median(tick.map((t) => t.wallS)), 3) },
  help: { cpu_s_median: round(median(help.map((t) => t.cpuS)), 3), peak_rss_mib_median: round(median(help.map((t) => t.maxRssMiB))) },
  node_e_0: { cpu_s_median: round(median(floor.map((t) => t.cpuS)), 3), peak_rss_mib_median: round(median(floor.map((t) => t.maxRssMiB))) },
  ratio_to_node_e_0: { tick: round(median(tick.map((t) => t.cpuS)) / median(floor.map((t) => t.cpuS)), 2), help: round(median(help.map((t) => t.cpuS)) / median(floor.map((t) => t.cpuS)), 2) },
  idle_supervisor: { seconds, cpu_percent: round(cpuShare, 2), max_rss_mib: round(maxRss) },
}));
process.exit(0);
