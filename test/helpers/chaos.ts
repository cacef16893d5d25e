// The chaos harness: many jobs, the agent SIGKILLed at random moments, `tick` (cron) and
// `supervise` taking turns, against a real database and a real SMTP server. Every job writes a
// marker line when it runs, so a second run shows; every email is counted by its Message-ID.
// Used by test/jobs-chaos.test.ts (small) and bench/chaos.ts (any size). No node:test here.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { AgentEnv, exited, sleep } from './agent-env.js';
import type { TestDb } from './db.js';
import { seededRandom } from './random.js';
import { readMail, type TestSmtp } from './smtp-server.js';

export interface ChaosOptions {
  db: TestDb;
  smtp: TestSmtp;
  jobs: number;
  seed: number;
  /** Jobs an agent runs at once. */
  maxParallel?: number;
  /** Each supervisor lives this long (ms, uniform) before its SIGKILL. */
  superviseMs?: [number, number];
  /** A tick is SIGKILLed with this probability, after up to this many ms. */
  tickKill?: { p: number; withinMs: number };
  /** Give up after this long (ms). */
  deadlineMs?: number;
  log?: (line: string) => void;
}

export interface ChaosResult {
  jobs: number;
  seed: number;
  kills: number;
  ticks: number;
  supervisors: number;
  seconds: number;
  /** Jobs whose marker count is not exactly 1. */
  runsNotOnce: { job: string; runs: number }[];
  /** Jobs that did not end as their exit code says (finished for 0, failed "exit code 3" for 3). */
  wrongOutcome: { job: string; status: string; error: string | null }[];
  /** Jobs whose emails carry anything but exactly their own one Message-ID. */
  wrongMessageIds: { job: string; ids: string[] }[];
  /** Deliveries beyond one per job (each the same Message-ID again: a repeat mail systems drop). */
  repeatedDeliveries: number;
  /** Send leases left by killed agents that the harness expired instead of waiting 2 minutes. */
  leasesExpired: number;
}

// argv: ledger, seconds to sleep, exit code. O_APPEND writes of one short line are atomic.
const JOB_SCRIPT = `import os, sys, time
with open(sys.argv[1], "a") as f:
    f.write(os.environ["LAB_JOB_ID"] + "\\n")
time.sleep(float(sys.argv[2]))
sys.exit(int(sys.argv[3]))
`;

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const rnd = seededRandom(opts.seed);
  const log = opts.log ?? (() => undefined);
  const [liveMin, liveMax] = opts.superviseMs ?? [200, 2000];
  const tickKill = opts.tickKill ?? { p: 0.5, withinMs: 1000 };
  const user = `chaos_${opts.seed}`;
  const a = new AgentEnv(opts.db, user, {
    LAB_EMAIL: `${user}@lab.example`, SMTP_HOST: '127.0.0.1', SMTP_PORT: String(opts.smtp.port),
    LAB_MAX_PARALLEL: String(opts.maxParallel ?? 4), LAB_POLL_INTERVAL_S: '2', LAB_LOG_LEVEL: 'warn',
  });
  const ledger = join(a.home, 'ledger.txt');
  const script = a.write('chaos.py', JOB_SCRIPT);
  const started = Date.now();
  const sent = opts.smtp.received.length;
  if ((await a.cli(['ls'])).code !== 0) throw new Error('the agent cannot reach the database');
  const userId = (await opts.db.admin.query('select user_id from public.users where linux_user = $1', [user])).rows[0].user_id as string;
  // Short jobs, some failing: a few hundred ms each, one in five exiting 3.
  const expected = new Map<string, number>();
  for (let i = 0; i < opts.jobs; i++) {
    const code = rnd() < 0.2 ? 3 : 0;
    const args = JSON.stringify([ledger, (rnd() * 0.6).toFixed(2), String(code)]);
    const r = await opts.db.admin.query('insert into public.jobs (user_id, script_path, args) values ($1, $2, $3) returning job_id', [userId, script, args]);
    expected.set(r.rows[0].job_id as string, code);
  }
  const ids = [...expected.keys()];
  const unreported = async () => Number((await opts.db.admin.query('select count(*) from public.jobs where user_id = $1 and notified_at is null', [userId])).rows[0].count);

  let kills = 0;
  let leasesExpired = 0;
  let ticks = 0;
  let supervisors = 0;
  const kill = async (p: ChildProcess, afterMs: number) => {
    await Promise.race([sleep(afterMs), exited(p)]);
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      kills++;
    }
    await exited(p);
  };
  const deadline = started + (opts.deadlineMs ?? 600_000);
  for (let round = 0; (await unreported()) > 0; round++) {
    if (Date.now() > deadline) throw new Error(`chaos run did not finish within ${opts.deadlineMs} ms (${await unreported()} jobs unreported)`);
    if (round % 2 === 0) {
      supervisors++;
      await kill(a.spawn(['supervise']), liveMin + rnd() * (liveMax - liveMin));
    } else {
      for (let i = 0; i < 3; i++) {
        ticks++;
        const t = a.spawn(['tick']);
        await kill(t, rnd() < tickKill.p ? rnd() * tickKill.withinMs : 120_000);
      }
    }
    // No agent runs between rounds, so a send lease still held belongs to a killed one: let its
    // 2 minutes pass at once instead of waiting them out.
    const r = await opts.db.admin.query('update public.jobs set notify_lease_until = now() where user_id = $1 and notified_at is null and notify_lease_until > now()', [userId]);
    leasesExpired += r.rowCount ?? 0;
    log(`round ${round}: ${kills} kills, ${await unreported()} jobs unreported`);
  }

  const markers = existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean) : [];
  const runs = new Map<string, number>();
  for (const m of markers) runs.set(m, (runs.get(m) ?? 0) + 1);
  const rows = (await opts.db.admin.query('select job_id, status, error, retcode from public.jobs where user_id = $1', [userId])).rows as { job_id: string; status: string; error: string | null; retcode: number | null }[];
  const wrongOutcome = rows
    .filter((j) => (expected.get(j.job_id) === 0 ? j.status !== 'finished' : j.status !== 'failed' || j.retcode !== 3))
    .map((j) => ({ job: j.job_id, status: j.status, error: j.error }));
  const mails = opts.smtp.received.slice(sent).map(readMail);
  const wrongMessageIds: ChaosResult['wrongMessageIds'] = [];
  let repeatedDeliveries = 0;
  for (const id of ids) {
    const mine = mails.filter((m) => m.text.includes(id));
    const distinct = [...new Set(mine.map((m) => m.messageId))];
    if (distinct.length !== 1 || distinct[0] !== `<job-${id}@lab-job-agent>`) wrongMessageIds.push({ job: id, ids: distinct });
    repeatedDeliveries += Math.max(0, mine.length - 1);
  }
  return {
    jobs: opts.jobs, seed: opts.seed, kills, ticks, supervisors, seconds: Math.round((Date.now() - started) / 100) / 10,
    runsNotOnce: ids.filter((id) => runs.get(id) !== 1).map((id) => ({ job: id, runs: runs.get(id) ?? 0 })),
    wrongOutcome, wrongMessageIds, repeatedDeliveries, leasesExpired,
  };
}
