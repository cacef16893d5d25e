// Priorities and drain in SQL (issue 17): claims take higher priority first, then the oldest, within
// one member's queue only; a drained host claims no job or Jupyter server, any-host jobs go to
// other hosts, pinned ones wait saying why, and what runs there finishes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestDb } from './helpers/db.js';
import { withMembers, openAs, type Member } from './helpers/queue.js';

let db: TestDb;
let alice: Member;
let bob: Member;

withMembers(['alice', 'bob'], (x) => ({ db, alice, bob } = x));

async function cancelPending(m: Member): Promise<void> {
  for (const j of await m.call<{ job_id: string; status: string }[]>('jobs_list', { p_limit: 500, p_status: 'pending' })) {
    await m.call('job_request_cancel', { p_job_id: j.job_id });
  }
}

describe('priorities', () => {
  test('higher priority first, then oldest; another member\'s priorities change nothing of mine', async () => {
    const low1 = await alice.submit('/home/alice/low1.py', { p_priority: -5 });
    const mid1 = await alice.submit('/home/alice/mid1.py');
    const high = await alice.submit('/home/alice/high.py', { p_priority: 10 });
    const mid2 = await alice.submit('/home/alice/mid2.py');
    const low2 = await alice.submit('/home/alice/low2.py', { p_priority: -5 });
    for (let i = 0; i < 20; i++) await bob.submit('/home/bob/urgent.py', { p_priority: 1000 });
    const order: string[] = [];
    for (;;) {
      const got = await alice.claim('gpu1', 1);
      if (got.length === 0) break;
      order.push(got[0]!.job_id);
    }
    assert.deepEqual(order, [high.job_id, mid1.job_id, mid2.job_id, low1.job_id, low2.job_id]);
    const bobs = await bob.claim('gpu1', 100);
    assert.equal(bobs.length, 20, 'bob\'s claims take only bob\'s jobs');
    for (const j of [...order, ...bobs.map((b) => b.job_id)]) {
      await (order.includes(j) ? alice : bob).call('job_release', { p_job_id: j, p_reason: 'test over', p_max_claims: 1 });
    }
  });
});

describe('drain', () => {
  test('a drained host takes nothing new; any-host jobs go to another host; pinned ones wait; running ones finish', async () => {
    const running = await alice.submit('/home/alice/long.py', { p_host: 'gpu1' });
    await alice.claim('gpu1');
    await alice.start(running.job_id);
    const session = await alice.call<{ session_id: string }>('jupyter_request', { p_host: 'gpu1' });
    const drain = await alice.call<{ host: string; note: string }>('host_drain', { p_host: 'gpu1', p_note: 'disk swap on Friday' });
    assert.deepEqual([drain.host, drain.note], ['gpu1', 'disk swap on Friday']);
    const anyHost = await alice.submit('/home/alice/any.py');
    const pinned = await alice.submit('/home/alice/pinned.py', { p_host: 'gpu1' });
    assert.equal(pinned.pending_reason, 'host gpu1 is drained (lab-agent resume --host gpu1)');
    assert.equal(anyHost.pending_reason, null);
    assert.deepEqual(await alice.claim('gpu1'), [], 'gpu1 claims nothing');
    assert.deepEqual(await alice.call('jupyter_claim', { p_agent_id: randomUUID(), p_host: 'gpu1' }), [], 'nor a Jupyter server');
    const work = await alice.call<{ drained: boolean; pending: number; active: { job_id: string }[] }>('jobs_for_agent', { p_host: 'gpu1' });
    assert.deepEqual([work.drained, work.pending, work.active.map((j) => j.job_id)], [true, 0, [running.job_id]]);
    assert.equal((await alice.finish(running.job_id, 0)).status, 'finished', 'what runs there finishes');
    const elsewhere = await alice.claim('gpu2');
    assert.deepEqual(elsewhere.map((j) => j.job_id), [anyHost.job_id], 'the any-host job goes to gpu2; the pinned one waits');
    const drains = await alice.call<{ host: string; lab_wide: boolean }[]>('host_drains_list');
    assert.deepEqual(drains.map((d) => [d.host, d.lab_wide]), [['gpu1', false]]);
    assert.deepEqual((await bob.call<{ drained: boolean }>('jobs_for_agent', { p_host: 'gpu1' })).drained, false, 'bob\'s agent on gpu1 is not drained by alice');
    const resumed = await alice.call<{ resumed: boolean; lab_drained: boolean }>('host_resume', { p_host: 'gpu1' });
    assert.deepEqual(resumed, { host: 'gpu1', resumed: true, lab_drained: false });
    assert.equal((await alice.get(pinned.job_id)).pending_reason, null);
    assert.deepEqual((await alice.claim('gpu1')).map((j) => j.job_id), [pinned.job_id]);
    assert.equal((await alice.call<unknown[]>('jupyter_claim', { p_agent_id: randomUUID(), p_host: 'gpu1' })).length, 1);
    await alice.call('jupyter_fail', { p_session_id: session.session_id, p_error: 'test over' });
    for (const j of [anyHost, pinned]) await alice.call('job_release', { p_job_id: j.job_id, p_reason: 'test over', p_max_claims: 1 });
  });

  test('the lab-wide drain: the administrator\'s only, seen and obeyed by every member', async () => {
    const bobsJob = await bob.submit('/home/bob/x.py', { p_host: 'gpu3' });
    for (const who of [alice, bob]) {
      const c = await openAs(db, who.id);
      await assert.rejects(c.query("select lab_private.host_drain_lab('gpu3', true)"), /permission denied/);
      await c.end();
    }
    await db.admin.query("select lab_private.host_drain_lab('gpu3', true, 'rack maintenance')");
    assert.equal((await bob.get(bobsJob.job_id)).pending_reason, 'host gpu3 is drained (lab-agent resume --host gpu3)');
    assert.deepEqual(await bob.claim('gpu3'), []);
    const seen = await alice.call<{ host: string; lab_wide: boolean; note: string }[]>('host_drains_list');
    assert.deepEqual(seen.map((d) => [d.host, d.lab_wide, d.note]), [['gpu3', true, 'rack maintenance']]);
    const tried = await bob.call<{ resumed: boolean; lab_drained: boolean }>('host_resume', { p_host: 'gpu3' });
    assert.deepEqual([tried.resumed, tried.lab_drained], [false, true], 'a member cannot lift the lab\'s drain');
    assert.deepEqual(await bob.claim('gpu3'), []);
    await db.admin.query("select lab_private.host_drain_lab('gpu3', false)");
    assert.equal((await bob.get(bobsJob.job_id)).pending_reason, null);
    assert.equal((await bob.claim('gpu3')).length, 1);
    await cancelPending(bob);
    await bob.call('job_release', { p_job_id: bobsJob.job_id, p_reason: 'test over', p_max_claims: 1 });
  });

  test('members cannot drain, see or lift each other\'s drains', async () => {
    await alice.call('host_drain', { p_host: 'gpu9' });
    assert.deepEqual(await bob.call('host_drains_list'), []);
    await assert.rejects(bob.call('host_drain', { p_host: 'gpu9', p_user_id: alice.id }), /cannot act as/);
    await bob.call('host_resume', { p_host: 'gpu9' });
    assert.equal((await alice.call<unknown[]>('host_drains_list')).length, 1, 'bob\'s resume lifts only his own');
    await alice.call('host_resume', { p_host: 'gpu9' });
  });
});
