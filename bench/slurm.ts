// The Slurm executor on the one-node Slurm of scripts/slurm-local.sh (real slurmctld and slurmd),
// the agent in this process (runJobPass, as `tick` runs it) against the test PostgreSQL:
//  1. claim → sbatch accepted: one job at a time, from the row's claimed_at to the event that
//     records its Slurm job id (written the moment sbatch answered), both database clock;
//  2. a tick with 100 Slurm jobs running: the partition is set to OverSubscribe=FORCE for the run
//     (2 CPUs could not run 100 jobs otherwise; restored after), 100 sleepers asking for 16 MB each;
//     once all are running, each tick's wall time and its squeue calls.
// Root only (the jobs run as root: LAB_ALLOW_ROOT). Run: npm run build && node --import tsx
// bench/slurm.ts [--n 30] [--running 100] [--ticks 10]   (LAB_SLURM_DIR names the cluster's folder)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freshDatabase, makeUser, storeAs } from '../test/helpers/db.js';
import { databaseUrl } from '../test/helpers/agent-env.js';
import { useLocalSlurm } from '../test/helpers/slurm.js';
import { loadConfig } from '../src/services/config.js';
import { createLogger } from '../src/services/logger.js';
import { createAgentContext } from '../src/services/agent/context.js';
import { runJobPass } from '../src/services/agent/job-driver.js';
import { slurmJobsFor } from '../src/services/slurm/slurm-job-actors.js';
import { median, percentile, round } from './lib/stats.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : def;
};
const n = arg('--n', 30);
const running = arg('--running', 100);
const ticks = arg('--ticks', 10);

const slurm = useLocalSlurm();
const slurmEnv = { ...process.env, SLURM_CONF: slurm.conf };
const scontrol = (...a: string[]) => execFileSync('scontrol', a, { env: slurmEnv, encoding: 'utf8' });
const db = await freshDatabase();
const user = userInfo().username;
const userId = await makeUser(db, user);
const home = mkdtempSync(join(tmpdir(), 'lab-bench-slurm-'));
const config = loadConfig({
  env: {
    HOME: home, USER: user, LAB_USER: user, PATH: process.env.PATH, SLURM_CONF: slurm.conf, LAB_DATABASE_URL: databaseUrl(db), LAB_USER_ID: userId,
    LAB_EXECUTOR: 'slurm', LAB_SLURM_POLL_S: '0', LAB_ALLOW_ROOT: '1', LAB_MAX_PARALLEL: '256', LAB_LOG_LEVEL: 'warn', LAB_EMAIL: '', LAB_LOG_DIR: join(home, 'lab_job_logs'),
  },
  noDotenv: true,
});
process.env.SLURM_CONF = slurm.conf;
const store = storeAs(db, userId, 8);
const ctx = createAgentContext(config, store, createLogger({ level: 'warn' }));
const quick = join(home, 'quick.py');
const sleeper = join(home, 'sleeper.py');
writeFileSync(quick, 'pass\n');
writeFileSync(sleeper, 'import time\ntime.sleep(900)\n');

try {
  // 1. claim → sbatch accepted
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) {
    const job = await store.submitJob({ scriptPath: quick });
    await runJobPass(ctx, { claim: true });
    const r = await db.admin.query(
      `select extract(epoch from (e.at - j.claimed_at)) * 1000 as ms from public.jobs j
         join public.lifecycle_events e on e.subject_id = j.job_id and e.detail ->> 'slurm_job_id' is not null
        where j.job_id = $1 order by e.event_id limit 1`, [job.job_id]);
    latencies.push(Number(r.rows[0].ms));
  }
  // The floor: sbatch alone (a process, munge, one RPC to slurmctld), in the same run.
  const bare: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    execFileSync('sbatch', ['--parsable', '--output=/dev/null', '--wrap=true'], { env: slurmEnv });
    bare.push(performance.now() - t0);
  }
  const stats = (v: number[]) => ({ p50_ms: round(median(v)), p90_ms: round(percentile(v, 90)), max_ms: round(Math.max(...v)) });
  console.log(JSON.stringify({ claim_to_sbatch: { jobs: n, ...stats(latencies) }, bare_sbatch: stats(bare) }));

  // 2. a tick with `running` Slurm jobs running
  scontrol('update', 'PartitionName=debug', 'OverSubscribe=FORCE:256');
  for (let i = 0; i < running; i++) await store.submitJob({ scriptPath: sleeper, slurm: { memMb: 16 } });
  const queue = (await slurmJobsFor(ctx)).queue;
  for (let tries = 0; ; tries++) {
    await runJobPass(ctx, { claim: true });
    const c = await db.admin.query("select count(*)::int as n from public.jobs where status = 'running' and script_path = $1", [sleeper]);
    if (c.rows[0].n === running) break;
    if (tries > 120) throw new Error(`only ${c.rows[0].n} of ${running} running`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const times: number[] = [];
  const squeues: number[] = [];
  for (let i = 0; i < ticks; i++) {
    const calls = queue.calls;
    const t0 = performance.now();
    await runJobPass(ctx, { claim: true });
    times.push(performance.now() - t0);
    squeues.push(queue.calls - calls);
  }
  console.log(JSON.stringify({ tick_with_running: { jobs: running, ticks, p50_ms: round(median(times)), max_ms: round(Math.max(...times)), squeue_calls_per_tick: [...new Set(squeues)] } }));
} finally {
  try {
    execFileSync('scancel', ['-u', user], { env: slurmEnv });
    scontrol('update', 'PartitionName=debug', 'OverSubscribe=NO');
  } catch {
    /* the cluster is gone */
  }
  await ctx.close();
  await store.close();
  await db.drop();
  rmSync(home, { recursive: true, force: true });
  slurm.release();
}
process.exit(0);
