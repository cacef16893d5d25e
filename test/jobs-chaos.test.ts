// The chaos harness, small: 30 jobs while the agent is SIGKILLed at random, tick and supervise
// taking turns (bench/chaos.ts runs it at any size). Every job runs exactly once, ends as its exit
// code says, and its emails carry its one Message-ID (a repeat is the same message).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useFreshDatabase } from './helpers/fresh-db.js';
import { runChaos } from './helpers/chaos.js';
import { startSmtp } from './helpers/smtp.js';

const db = await useFreshDatabase();

test('30 jobs under random SIGKILLs of tick and supervise: once each, right outcome, one Message-ID each', async () => {
  const seed = Number(process.env.CHAOS_SEED) || Date.now() % 100_000;
  // Supervisors live 0.2–1 s, so 30 jobs take several rounds however fast the machine is (each
  // supervisor round ends in a kill: supervise never exits by itself). On a quiet machine the
  // 0.2–2 s default let the work finish in 5 rounds with 4 kills.
  const result = await runChaos({ db, smtp: await startSmtp(), jobs: 30, seed, deadlineMs: 300_000, superviseMs: [200, 1000] });
  const how = `seed ${seed} (CHAOS_SEED=${seed} repeats the run): ${JSON.stringify(result)}`;
  assert.ok(result.kills >= 3, `the agent was killed repeatedly: ${how}`);
  assert.deepEqual(result.runsNotOnce, [], `every job ran exactly once: ${how}`);
  assert.deepEqual(result.wrongOutcome, [], `every job ended as its exit code says: ${how}`);
  assert.deepEqual(result.wrongMessageIds, [], `one Message-ID per job: ${how}`);
});
