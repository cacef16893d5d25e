// Opt-in: the Supabase transport against a real project (schema applied with `supabase db push`).
// Runs only when SUPABASE_TEST_URL, SUPABASE_TEST_ANON_KEY and SUPABASE_TEST_SERVICE_KEY are set;
// it is not a required part (no Supabase can run on CI's machine), so it skips, even under CI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@supabase/supabase-js';
import { LabStore } from '../src/services/store/lab-store.js';
import { createSupabaseClient, SupabaseTransport } from '../src/services/store/supabase-transport.js';
import type { WakeEvent } from '../src/services/store/types.js';

const url = process.env.SUPABASE_TEST_URL;
const anonKey = process.env.SUPABASE_TEST_ANON_KEY;
const serviceKey = process.env.SUPABASE_TEST_SERVICE_KEY;
const skip = url && anonKey && serviceKey ? false : 'set SUPABASE_TEST_URL, SUPABASE_TEST_ANON_KEY and SUPABASE_TEST_SERVICE_KEY to run against a real project';

describe('live Supabase project', { skip }, () => {
  const admin = skip ? null : createClient(url!, serviceKey!, { auth: { persistSession: false } });
  const users: { id: string; store: LabStore }[] = [];

  async function member(): Promise<{ id: string; store: LabStore }> {
    const email = `lab-agent-test-${randomUUID()}@example.com`;
    const password = randomUUID();
    const created = await admin!.auth.admin.createUser({ email, password, email_confirm: true });
    assert.equal(created.error, null);
    const opts = { url: url!, key: anonKey!, sessionFile: join(mkdtempSync(join(tmpdir(), 'lab-live-')), 'session.json') };
    const client = createSupabaseClient(opts);
    assert.equal((await client.auth.signInWithPassword({ email, password })).error, null);
    const store = new LabStore(new SupabaseTransport(opts, client), created.data.user!.id);
    await store.ensureUser({ linuxUser: `live_${users.length}`, email });
    const m = { id: created.data.user!.id, store };
    users.push(m);
    return m;
  }

  before(async () => {
    await member();
    await member();
  });
  after(async () => {
    for (const u of users) {
      await u.store.close();
      await admin!.auth.admin.deleteUser(u.id);
    }
  });

  test('a job goes through its lifecycle by rpc, with the history recorded', async () => {
    const { store } = users[0]!;
    const agent = randomUUID();
    const job = await store.submitJob({ scriptPath: '/home/live/x.py', args: '--n 1' });
    const [claimed] = await store.claimJobs({ agentId: agent, host: 'live-host', limit: 1 });
    assert.equal(claimed!.job_id, job.job_id);
    await store.startJob({ jobId: job.job_id, agentId: agent, pid: 1, pidStart: '1', interpreter: 'python3', command: ['python3'], logDir: '/tmp', stdoutPath: 'o', stderrPath: 'e' });
    const done = await store.finishJob({ jobId: job.job_id, retcode: 0, signal: null, stdoutTail: 'ok' });
    assert.equal(done.status, 'finished');
    assert.deepEqual((await store.history(job.job_id)).map((e) => e.to_status), ['pending', 'claimed', 'running', 'finished']);
    await assert.rejects(store.finishJob({ jobId: job.job_id, retcode: 0, signal: null }), /expected running/);
  });

  test('another member sees none of it', async () => {
    const [a, b] = users;
    const job = await a!.store.submitJob({ scriptPath: '/home/live/y.py' });
    await assert.rejects(b!.store.getJob(job.job_id), /no job/);
    assert.ok((await b!.store.listJobs({ limit: 100 })).every((j) => j.user_id === b!.id));
  });

  test('Realtime wakes the agent on a new job', async () => {
    const { store } = users[0]!;
    const wakes: WakeEvent[] = [];
    const stop = await store.listen((e) => wakes.push(e));
    await new Promise((r) => setTimeout(r, 2000));
    const job = await store.submitJob({ scriptPath: '/home/live/z.py' });
    const deadline = Date.now() + 10_000;
    while (!wakes.some((w) => w.id === job.job_id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await stop();
    assert.ok(wakes.some((w) => w.id === job.job_id && w.action === 'created'));
  });
});
