// 8 agents claiming from 2,000 pending jobs at once: every job claimed exactly once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { freshDatabase, makeUser, storeAs, type TestDb } from './helpers/db.js';

let db: TestDb;
let userId: string;

before(async () => {
  db = await freshDatabase();
  userId = await makeUser(db, 'alice');
  await db.admin.query(
    `insert into public.jobs (user_id, script_path, created_at)
     select $1, '/home/alice/job' || g || '.py', now() + g * interval '1 millisecond' from generate_series(1, 2000) g`,
    [userId],
  );
});
after(async () => db.drop());

test('8 concurrent claimers take each of 2,000 jobs exactly once, oldest first', async () => {
  const claimers = Array.from({ length: 8 }, () => ({ agent: randomUUID(), store: storeAs(db, userId, 1), got: [] as string[] }));
  await Promise.all(
    claimers.map(async (c, i) => {
      for (;;) {
        const batch = await c.store.claimJobs({ agentId: c.agent, host: `host${i % 2}`, limit: 1 + (i % 4) });
        if (batch.length === 0) break;
        for (const j of batch) c.got.push(j.job_id);
      }
    }),
  );
  await Promise.all(claimers.map((c) => c.store.close()));
  const all = claimers.flatMap((c) => c.got);
  assert.equal(all.length, 2000);
  assert.equal(new Set(all).size, 2000, 'no job was claimed twice');
  assert.ok(claimers.filter((c) => c.got.length > 0).length >= 2, 'the claimers really ran side by side');
  const rows = await db.admin.query(
    `select count(*) filter (where status = 'claimed') as claimed, count(*) filter (where claim_count <> 1) as odd,
            (select count(*) from public.lifecycle_events where to_status = 'claimed') as events
     from public.jobs`,
  );
  assert.deepEqual(rows.rows[0], { claimed: '2000', odd: '0', events: '2000' });
  // Each claimer's own claims come in queue order.
  const order = new Map((await db.admin.query('select job_id from public.jobs order by created_at')).rows.map((r, i) => [r.job_id as string, i]));
  for (const c of claimers) {
    const positions = c.got.map((id) => order.get(id)!);
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
  }
});
