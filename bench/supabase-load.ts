// Load on a hosted project, measured on the PostgREST/GoTrue layer over the real SQL (every
// request an agent would send to Supabase passes through it and is counted):
//  - an idle `lab-agent supervise` over --seconds, scaled to requests per hour;
//  - an idle `lab-agent tick` (cron runs one a minute): requests per tick × 60;
//  - one short job end to end (submit from the CLI → run → email → notified) with the supervisor
//    running: requests, and Realtime messages (row changes of the member's jobs, which is what
//    Realtime's postgres_changes would deliver to the one subscribed agent; counted by a trigger
//    in the bench database, since Realtime itself cannot run here).
// Realtime's websocket is refused here, so the supervisor finds each job by its poll
// (LAB_POLL_INTERVAL_S): a job stage waits up to that long; on a project, the wake-up starts the
// same one poll at once. The counts do not depend on the machine's speed.
// Run: npm run build && node --import tsx bench/supabase-load.ts [--seconds 270] [--ticks 5] [--jobs 3]
import { AgentEnv, eventually, exited, sleep } from '../test/helpers/agent-env.js';
import { freshDatabase } from '../test/helpers/db.js';
import { startSupabaseLayer, type LayerRequest } from '../test/helpers/supabase/layer.js';
import { startSmtp } from '../test/helpers/smtp.js';
import { median, round } from './lib/stats.js';

const arg = (name: string, def: number) => Number(process.argv[process.argv.indexOf(name) + 1] || def) || def;
const seconds = arg('--seconds', 270);
const ticks = arg('--ticks', 5);
const jobs = arg('--jobs', 3);

const db = await freshDatabase();
const layer = await startSupabaseLayer({ connection: db.connection });
const smtp = await startSmtp();
const email = 'load@lab.example';
await layer.createUser(email, 'pw');
const a = new AgentEnv(db, 'load', {
  LAB_DATABASE_URL: '', SUPABASE_URL: layer.url, SUPABASE_ANON_KEY: layer.anonKey, LAB_LOG_LEVEL: 'warn',
  LAB_EMAIL: email, SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port),
});
const login = await a.cli(['login', '--password', '--email', email], {}, 30_000, 'pw\n');
if (login.code !== 0) throw new Error(login.stderr);
const script = a.write('short.py', 'print("done")\n');
await a.cli(['tick']); // first tick: users row, agent id, the inventory's first sync; not measured

// API requests only: Realtime's websocket (refused here; one long-lived connection on a project) is not one.
const count = (from: number, to = layer.requests.length) => layer.requests.slice(from, to).filter((r) => !r.path.startsWith('/realtime/'));
const byName = (rs: LayerRequest[]) => Object.fromEntries([...new Set(rs.map((r) => r.name))].map((n) => [n, rs.filter((r) => r.name === n).length]));

const stage = (what: string) => process.stderr.write(`${new Date().toISOString()} ${what}\n`);
stage('idle ticks');
// Idle cron ticks.
const perTick: number[] = [];
let tickNames: Record<string, number> = {};
for (let i = 0; i < ticks; i++) {
  const from = layer.requests.length;
  const r = await a.cli(['tick']);
  if (r.code !== 0) throw new Error(r.stderr);
  perTick.push(count(from).length);
  tickNames = byName(count(from));
}

stage('idle supervisor');
// Idle supervisor.
const sup = a.spawn(['supervise']);
await eventually('supervisor up', async () => (await db.admin.query("select 1 from public.agents where mode = 'supervise' and stopped_at is null")).rowCount);
await sleep(5000); // start-up is not idle time
const idleFrom = layer.requests.length;
await sleep(seconds * 1000);
const idle = count(idleFrom);

stage('jobs');
// Jobs, one at a time, with Realtime's messages counted as row changes.
await db.admin.query('create table public.bench_row_changes (n int)');
await db.admin.query(`create function public.bench_count() returns trigger language plpgsql as $$ begin insert into public.bench_row_changes values (1); return null; end $$`);
await db.admin.query('create trigger bench_count after insert or update on public.jobs for each row execute function public.bench_count()');
const perJob: { requests: number; realtime: number; names: Record<string, number> }[] = [];
for (let i = 0; i < jobs; i++) {
  await db.admin.query('truncate public.bench_row_changes');
  const from = layer.requests.length;
  const s = await a.cli(['submit', script, '--json']);
  if (s.code !== 0) throw new Error(s.stderr);
  const id = JSON.parse(s.stdout).job_id as string;
  await eventually('job notified', async () => (await db.admin.query('select 1 from public.jobs where job_id = $1 and notified_at is not null', [id])).rowCount, 240_000, 50);
  await sleep(1000); // what the supervisor still sends about it
  const rs = count(from);
  perJob.push({ requests: rs.length, realtime: (await db.admin.query('select count(*)::int as n from public.bench_row_changes')).rows[0].n, names: byName(rs) });
}
stage('stopping');
sup.kill('SIGTERM');
await exited(sup);
await layer.close();
await smtp.close();
await db.drop();

console.log(JSON.stringify({
  idle_cron_tick: { requests_per_tick_median: median(perTick), requests_per_hour_at_one_tick_a_minute: median(perTick) * 60, calls: tickNames },
  idle_supervisor: { seconds, requests: idle.length, requests_per_hour: round((idle.length * 3600) / seconds), calls: byName(idle) },
  short_job: { jobs, requests_median: median(perJob.map((j) => j.requests)), realtime_messages_median: median(perJob.map((j) => j.realtime)), calls_last: perJob.at(-1)!.names },
}, null, 1));
process.exit(0);
