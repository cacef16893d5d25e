// The agent's own CPU per short job, and trivial jobs per second, with one `lab-agent supervise`
// at LAB_MAX_PARALLEL=8 (issue 11.7). N jobs of a one-line script (`pass`) are queued at once; the
// clock runs from the insert until the last one is finished and emailed (a real SMTP server in
// this process). Measured from /proc, before and after:
//   agent    utime+stime of the supervisor process itself (claim, start, probes, heartbeats,
//            conclude, email, the machine steps): the figure the goal is about
//   chain    the CPU of everything the agent started (the launcher shell, its fork that records
//            the exit, the job's fork that execs setsid, env and python: a cgroup holds them all,
//            root only; else the supervisor's reaped children) minus python's own share, measured
//            as a bare `python3 noop.py` in the same run (the reference)
//   database the embedded PostgreSQL's processes (postmaster, reaped and live backends)
// Run: npm run build && node --import tsx bench/overhead.ts [--jobs 400] [--profile] [--no-email]
// --profile writes a CPU profile of the supervisor (node --cpu-prof) and prints where its time went.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuCgroup, rssMiB, timed } from './lib/proc.js';
import { round } from './lib/stats.js';
import { summarizeProfile } from './lib/cpu-profile.js';

const arg = (name: string, def: number) => Number(process.argv[process.argv.indexOf(name) + 1] || def) || def;
const jobs = arg('--jobs', 400);
const profile = process.argv.includes('--profile');
const noEmail = process.argv.includes('--no-email'); // to see what the email costs
const python = '/usr/bin/python3';

// A database server of the bench's own, so that other work on the machine does not count.
const ownServer = !process.env.LAB_TEST_PG_DIR;
process.env.LAB_TEST_PG_DIR ??= mkdtempSync(join(tmpdir(), 'lab-bench-overhead-pg-'));
const { freshDatabase } = await import('../test/helpers/db.js');
const { AgentEnv, cliPath, eventually, exited } = await import('../test/helpers/agent-env.js');
const { startSmtp } = await import('../test/helpers/smtp-server.js');
const { serverRoot, stopLocalPostgres } = await import('../src/services/store/local-postgres.js');

const TICKS = 100;
/** utime, stime, cutime, cstime of a process in seconds (fields 14–17 of /proc/<pid>/stat). */
function times(pid: number): { self: number; children: number; ppid: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { self: (Number(f[11]) + Number(f[12])) / TICKS, children: (Number(f[13]) + Number(f[14])) / TICKS, ppid: Number(f[1]) };
}

/** The database server's CPU so far: the postmaster with its reaped children, plus its live backends. */
function databaseCpu(postmaster: number): number {
  let total = times(postmaster).self + times(postmaster).children;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const t = times(Number(name));
      if (t.ppid === postmaster) total += t.self;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

const smtp = await startSmtp();
const db = await freshDatabase();
const a = new AgentEnv(db, 'bench', {
  LAB_MAX_PARALLEL: '8', LAB_LOG_LEVEL: 'warn', LAB_PYTHON: python,
  LAB_EMAIL: noEmail ? '' : 'bench@lab.example', SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port),
});
const script = a.write('noop.py', 'pass\n');
// Count the SQL function calls (pg_stat_user_functions): how many of each a job costs.
await db.admin.query(`alter database ${db.name} set track_functions = 'all'`); // lint-allow-identifier: a test database's generated name
await a.cli(['ls']); // creates the users row
const userId = (await db.admin.query("select user_id from public.users where linux_user = 'bench'")).rows[0].user_id as string;
const postmaster = Number(readFileSync(join(serverRoot(process.env.LAB_TEST_PG_DIR), 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);

// The reference, in the same run: python starting and running the same script, nothing else.
const loop = `for i in $(seq ${jobs}); do ${python} ${script}; done`;
const bare = await timed('/bin/sh', ['-c', loop], a.env);
const pythonCpuMs = (bare.cpuS / jobs) * 1000;

const profileDir = mkdtempSync(join(tmpdir(), 'lab-bench-profile-'));
const group = cpuCgroup(`lab-bench-overhead-${process.pid}`);
const sup = spawn(process.execPath, [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), cliPath, 'supervise'], { env: a.env, stdio: 'ignore' });
group?.add(sup.pid!); // before it starts anything: its launcher and jobs are born in the group
await eventually('supervisor up', async () => (await db.admin.query("select 1 from public.agents where mode = 'supervise' and stopped_at is null")).rowCount);
// One job first, so start-up work (login environment, module loading, mailer) is not counted.
await db.admin.query('insert into public.jobs (user_id, script_path) values ($1, $2)', [userId, script]);
await eventually('the warm-up job', async () => (await db.admin.query('select 1 from public.jobs where notified_at is not null')).rowCount, 30_000, 50);

const agent0 = times(sup.pid!);
const tree0 = group?.cpuMs() ?? 0;
const db0 = databaseCpu(postmaster);
const t0 = performance.now();
await db.admin.query('insert into public.jobs (user_id, script_path) select $1, $2 from generate_series(1, $3::int)', [userId, script, jobs]);
await eventually(`${jobs} jobs finished and emailed`, async () => {
  const r = await db.admin.query("select count(*) filter (where notified_at is not null) as done, count(*) filter (where status = 'failed') as failed from public.jobs");
  if (r.rows[0].failed !== '0') throw new Error(`jobs failed: ${JSON.stringify((await db.admin.query("select error from public.jobs where status = 'failed' limit 3")).rows)}`);
  return Number(r.rows[0].done) === jobs + 1;
}, 600_000, 20);
const wallS = (performance.now() - t0) / 1000;
const agent1 = times(sup.pid!);
const tree1 = group?.cpuMs() ?? 0;
const agentRss = rssMiB(sup.pid!);
const db1 = databaseCpu(postmaster);
sup.kill('SIGTERM');
await exited(sup);
// The supervisor's sessions have ended, so their statistics are flushed; the warm-up job is in them too.
await new Promise((r) => setTimeout(r, 1500));
const calls = (await db.admin.query("select funcname, calls from pg_stat_user_functions where schemaname = 'public' order by calls desc")).rows
  .map((r: { funcname: string; calls: string }) => `${r.funcname} ${round(Number(r.calls) / (jobs + 1), 2)}`);

const agentMs = ((agent1.self - agent0.self) / jobs) * 1000;
// With the cgroup: all of it minus the agent itself; without: what the agent reaped.
const childrenMs = group ? (tree1 - tree0) / jobs - ((agent1.self - agent0.self) / jobs) * 1000 : ((agent1.children - agent0.children) / jobs) * 1000;
const result = {
  jobs,
  jobs_per_s: round(jobs / wallS),
  agent_cpu_ms_per_job: round(agentMs),
  chain_cpu_ms_per_job: round(childrenMs - pythonCpuMs),
  python_cpu_ms_per_job: round(pythonCpuMs),
  database_cpu_ms_per_job: round(((db1 - db0) / jobs) * 1000),
  agent_rss_mib: round(agentRss),
  emails: smtp.received.length - 1,
  wall_s: round(wallS, 2),
  load_avg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  node_e_0_cpu_ms: round((await timed(process.execPath, ['-e', '0'], a.env)).cpuS * 1000),
};
console.log(JSON.stringify(result));
console.log(`SQL function calls per job: ${calls.join(', ')}`);
if (profile) {
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (file) console.log(summarizeProfile(JSON.parse(readFileSync(join(profileDir, file), 'utf8'))));
  console.log(`profile: ${profileDir}/${file}`);
}
await db.drop();
await smtp.close();
if (ownServer) await stopLocalPostgres(process.env.LAB_TEST_PG_DIR);
group?.remove();
process.exit(0);
