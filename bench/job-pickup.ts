// Pickup latency in supervise mode: a job row inserted → its process started, over 200 jobs on
// the embedded local PostgreSQL (the test server), with a real `lab-agent supervise` process.
// Run: npm run build && node --import tsx bench/job-pickup.ts [--n 200]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDatabase, makeUser, storeAs } from '../test/helpers/db.js';
import { AgentEnv, eventually, exited, sleep } from '../test/helpers/agent-env.js';
import { median, percentile, round } from './lib/stats.js';

const n = Number(process.argv[process.argv.indexOf('--n') + 1] || 200) || 200;
const db = await freshDatabase();
const a = new AgentEnv(db, 'bench', { LAB_MAX_PARALLEL: '8', LAB_LOG_LEVEL: 'warn' });
const script = a.write('noop.py', 'pass\n');
await a.cli(['ls']); // creates the users row
const userId = (await db.admin.query("select user_id from public.users where linux_user = 'bench'")).rows[0].user_id as string;
const store = storeAs(db, userId, 1);
const sup = a.spawn(['supervise']);
await eventually('supervisor up', async () => (await db.admin.query("select 1 from public.agents where mode = 'supervise' and stopped_at is null")).rowCount);
await sleep(500);

const latencies: number[] = [];
for (let i = 0; i < n; i++) {
  const job = await store.submitJob({ scriptPath: script });
  // The wrapper writes <logDir>/pid right after exec: that file's time is the process start.
  const started = await eventually('start', async () => {
    const r = (await db.admin.query('select created_at, log_dir from public.jobs where job_id = $1 and log_dir is not null', [job.job_id])).rows[0];
    if (!r) return null;
    const { mtimeMs } = (await import('node:fs')).statSync(join(r.log_dir, 'pid'));
    return mtimeMs - Date.parse(r.created_at.toISOString());
  }, 10_000, 2);
  latencies.push(started);
  await sleep(20); // one job at a time: latency, not queueing
}
sup.kill('SIGTERM');
await exited(sup);
await store.close();
await db.drop();
const result = { jobs: n, p50_ms: round(median(latencies)), p90_ms: round(percentile(latencies, 90)), p99_ms: round(percentile(latencies, 99)), max_ms: round(Math.max(...latencies)) };
console.log(JSON.stringify(result));
void readFileSync;
void makeUser;
process.exit(0);
