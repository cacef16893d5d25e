// Runs the store contract tests (store-jobs, store-sessions-agents, store-queue-hosts) again, unchanged, with storeAs
// handing out LabStores over real supabase-js and the layer; then checks that every function
// LabStore calls went over the wire, as the role the mode implies.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { repoRoot } from '../required.js';
import { randomUUID } from 'node:crypto';
import { listMigrations } from '../../../src/services/store/migrate.js';
import { freshDatabase, makeUser, storeAs } from '../db.js';
import { rpcCalls, type SupabaseStoreMode } from './store.js';

/** The SQL functions LabStore calls, read from its source: a new method is covered automatically. */
function labStoreFunctions(): string[] {
  const src = readFileSync(join(repoRoot, 'src', 'services', 'store', 'lab-store.ts'), 'utf8');
  return [...new Set([...src.matchAll(/this\.call\(\s*'(\w+)'/g)].map((m) => m[1]!))].sort();
}

export async function storeContractOver(mode: SupabaseStoreMode): Promise<void> {
  process.env.LAB_TEST_STORE = mode;
  await import('../../store-jobs.test.js');
  await import('../../store-sessions-agents.test.js');
  await import('../../store-queue-hosts.test.js');
  const role = mode === 'supabase-session' ? 'authenticated' : 'service_role';
  test('job_mark_stopping and lab_schema_applied (not in the contract files)', async () => {
    const db = await freshDatabase();
    const store = storeAs(db, await makeUser(db, 'carol'));
    try {
      const agent = randomUUID();
      const job = await store.submitJob({ scriptPath: '/home/carol/x.py' });
      await store.claimJobs({ agentId: agent, host: 'h', limit: 1 });
      await store.startJob({ jobId: job.job_id, agentId: agent, pid: 1, pidStart: '1', interpreter: 'python3', command: ['python3'], logDir: '/tmp/x', stdoutPath: 'o', stderrPath: 'e' });
      const stopping = await store.markStopping({ jobId: job.job_id, reason: 'cancel' });
      assert.equal(stopping.stop_reason, 'cancel');
      assert.ok(stopping.kill_sent_at);
      assert.equal((await store.markStopping({ jobId: job.job_id, reason: 'timeout' })).kill_sent_at, stopping.kill_sent_at, 'only the first SIGTERM is recorded');
      assert.deepEqual(await store.schemaApplied(), listMigrations().map((m) => m.version), 'both histories, every version');
    } finally {
      await store.close();
      await db.drop();
    }
  });
  test(`every LabStore function answered through supabase-js as ${role}`, () => {
    const calls = rpcCalls();
    const ok = new Set(calls.filter((c) => c.status === 200).map((c) => c.fn));
    assert.deepEqual(labStoreFunctions().filter((fn) => !ok.has(fn)), [], 'functions never called successfully');
    assert.ok(labStoreFunctions().length >= 30);
    assert.deepEqual([...new Set(calls.map((c) => c.role))], [role]);
  });
}
