// The chaos harness as a benchmark of correctness under faults: N jobs, the agent SIGKILLed at
// random (supervise living 0.2–2 s, half the ticks killed within 1 s), tick and supervise taking
// turns, against a real SMTP server. Prints the counts: every job must have run exactly once, end
// as its exit code says, and be emailed under its one Message-ID.
// Run: npm run build && node --import tsx bench/chaos.ts [--jobs 200] [--seed N] [--parallel 4]
//        [--live-ms 200,2000] (how long each supervisor lives before its SIGKILL)
import { freshDatabase } from '../test/helpers/db.js';
import { runChaos } from '../test/helpers/chaos.js';
import { startSmtp } from '../test/helpers/smtp-server.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : def;
};
const jobs = arg('--jobs', 200);
const seed = arg('--seed', Date.now() % 100_000);
const db = await freshDatabase();
const smtp = await startSmtp();
try {
  const live = process.argv.includes('--live-ms') ? process.argv[process.argv.indexOf('--live-ms') + 1]!.split(',').map(Number) as [number, number] : undefined;
  const result = await runChaos({
    db, smtp, jobs, seed, maxParallel: arg('--parallel', 4), deadlineMs: 3_600_000, ...(live ? { superviseMs: live } : {}),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  console.log(JSON.stringify(result, null, 1));
  const ok = !result.runsNotOnce.length && !result.wrongOutcome.length && !result.wrongMessageIds.length;
  console.log(ok ? 'chaos: every job ran once, ended right, one Message-ID each' : 'chaos: FAILED (see above)');
  process.exitCode = ok ? 0 : 1;
} finally {
  await smtp.close();
  await db.drop();
}
