// Claiming from a big queue (issue 17): 10,000 pending jobs in 1,000 sweeps of 10 cells, half of
// the sweeps waiting on the sweep before them (--after <sweep>), every other one capped at
// --max-parallel 3, plus 10,000 plain pending jobs of another member. Each claim takes one job
// through LabStore.claimJobs (the agent's call, over the wire), then the job is started and
// finished, so the dependencies and the sweeps' limits keep changing the ready set.
// Reference in the same process: the same claim on a member with an empty queue (the call's own cost).
// Prints the claim's plan (EXPLAIN ANALYZE of its SELECT) for BENCHMARKS.md.
// Run: npm run build && node --import tsx bench/queue-claim.ts [--claims 500]
import { randomUUID } from 'node:crypto';
import { freshDatabase, makeUser, storeAs } from '../test/helpers/db.js';
import { median, percentile, round } from './lib/stats.js';

const claims = Number(process.argv[process.argv.indexOf('--claims') + 1] || 500) || 500;
const db = await freshDatabase();
const alice = await makeUser(db, 'alice');
const bob = await makeUser(db, 'bob');
const empty = await makeUser(db, 'empty');
const store = storeAs(db, alice, 1);
const reference = storeAs(db, empty, 1);
const agent = randomUUID();

const t0 = performance.now();
let prev: string | null = null;
for (let s = 0; s < 1000; s++) {
  const cells = Array.from({ length: 10 }, (_, k) => ({ args: `--k ${k}`, params: { k: String(k) } }));
  const v = await store.submitSweep({
    scriptPath: '/home/alice/train.py', cells, maxParallel: s % 2 ? 3 : null, priority: s % 3,
    after: s % 2 && prev ? [prev] : null,
  });
  prev = v.sweep.sweep_id;
}
await db.admin.query(`insert into public.jobs (user_id, script_path, priority)
  select $1, '/home/bob/x.py', g % 5 from generate_series(1, 10000) g`, [bob]);
await db.admin.query('analyze public.jobs');
const fillS = (performance.now() - t0) / 1000;

async function timedClaim(s: typeof store): Promise<[number, { job_id: string }[]]> {
  const t = performance.now();
  const got = await s.claimJobs({ agentId: agent, host: 'gpu1', limit: 1 });
  return [performance.now() - t, got];
}

// Warm both connections, then interleave: a reference claim, a real one, start, finish.
for (let i = 0; i < 20; i++) await timedClaim(reference);
const real: number[] = [];
const ref: number[] = [];
for (let i = 0; i < claims; i++) {
  ref.push((await timedClaim(reference))[0]);
  const [ms, [job]] = await timedClaim(store);
  real.push(ms);
  if (!job) throw new Error(`claim ${i} found nothing ready`);
  await store.startJob({ jobId: job.job_id, agentId: agent, pid: 1, pidStart: '1', interpreter: 'python3', command: [], logDir: '/tmp/x', stdoutPath: '/tmp/x/o', stderrPath: '/tmp/x/e' });
  await store.finishJob({ jobId: job.job_id, retcode: i % 10 === 9 ? 1 : 0 });
}

// job_claim is security definer: its SELECT runs as the function's owner, as here.
const c = db.admin;
await c.query('begin');
const plan = await c.query(`explain (analyze, buffers, costs off, timing off, summary off)
  select job_id from public.jobs
  where user_id = $1 and status = 'pending' and deps_left = 0 and not held
    and (host is null or host = $2) and (not_before is null or not_before <= now())
  order by priority desc, seq limit 1 for update skip locked`, [alice, 'gpu1']);
await c.query('rollback');
const counts = (await db.admin.query("select count(*) filter (where status = 'pending')::int as pending, count(*) filter (where status = 'pending' and deps_left = 0 and not held)::int as ready from public.jobs")).rows[0];
await store.close();
await reference.close();
await db.drop();
console.log(JSON.stringify({
  fill_s: round(fillS), claims, pending_after: counts.pending, ready_after: counts.ready,
  claim_p50_ms: round(median(real), 2), claim_p99_ms: round(percentile(real, 99), 2), claim_max_ms: round(Math.max(...real), 2),
  reference_p50_ms: round(median(ref), 2), reference_p99_ms: round(percentile(ref, 99), 2),
}));
console.log(plan.rows.map((r) => r['QUERY PLAN']).join('\n'));
process.exit(0);
