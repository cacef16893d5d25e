// Contract tests of the Jupyter-session, agent, user and script functions, as role authenticated.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { freshDatabase, makeUser, storeAs, type TestDb } from './helpers/db.js';
import { openAs } from './helpers/queue.js';
import type { LabStore } from '../src/services/store/lab-store.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

let db: TestDb;
let store: LabStore;
let other: LabStore;
const agent = randomUUID();

before(async () => {
  db = await freshDatabase();
  store = storeAs(db, await makeUser(db, 'alice'));
  other = storeAs(db, await makeUser(db, 'bob'));
});
after(async () => {
  await store.close();
  await other.close();
  await db.drop();
});

async function sessionRow(id: string) {
  return (await db.admin.query('select * from public.jupyter_sessions where session_id = $1', [id])).rows[0];
}

async function rejectsUnchanged(id: string, call: () => Promise<unknown>, pattern: RegExp) {
  const before = await sessionRow(id);
  await assert.rejects(call, pattern);
  assert.deepEqual(await sessionRow(id), before);
}

describe('Jupyter session functions', () => {
  test('request → claim → running → stop request → stopping → stopped', async () => {
    const s = await store.requestJupyter({ dir: '/home/alice/proj', host: null, app: 'lab' });
    assert.equal(s.status, 'pending');
    await rejectsUnchanged(s.session_id, () => store.markJupyterRunning(runArgs(s.session_id)), /cannot mark running .* it is pending, expected starting/);
    const [claimed] = await store.claimJupyter({ agentId: agent, host: 'gpu1', limit: 1 });
    assert.equal(claimed!.session_id, s.session_id);
    assert.equal(claimed!.status, 'starting');
    const running = await store.markJupyterRunning(runArgs(s.session_id));
    assert.equal(running.status, 'running');
    assert.equal(running.port, 8842);
    assert.equal(running.token, 'f'.repeat(64));
    const req = await store.requestJupyterStop(s.session_id);
    assert.equal(req.status, 'running');
    assert.ok(req.stop_requested_at);
    assert.equal((await store.beginJupyterStop({ sessionId: s.session_id, reason: 'stop requested' })).status, 'stopping');
    assert.equal((await store.markJupyterStopped({ sessionId: s.session_id })).status, 'stopped');
    await rejectsUnchanged(s.session_id, () => store.requestJupyterStop(s.session_id), /cannot stop Jupyter session .* it is stopped/);
    await rejectsUnchanged(s.session_id, () => store.failJupyter({ sessionId: s.session_id, error: 'x' }), /cannot fail/);
    const history = await store.history(s.session_id);
    assert.deepEqual(history.filter((e) => e.from_status !== e.to_status).map((e) => e.to_status), ['pending', 'starting', 'running', 'stopping', 'stopped']);
    assert.ok(!JSON.stringify(history).includes('f'.repeat(64)), 'the token never lands in the history');
  });

  test('a pending session stops at once; a failure keeps its reason', async () => {
    const s = await store.requestJupyter();
    assert.equal((await store.requestJupyterStop(s.session_id)).status, 'stopped');
    const t = await store.requestJupyter();
    await store.claimJupyter({ agentId: agent, host: 'gpu1', limit: 1 });
    await rejectsUnchanged(t.session_id, () => store.failJupyter({ sessionId: t.session_id, error: '' }), /needs a reason/);
    const f = await store.failJupyter({ sessionId: t.session_id, error: 'jupyter not found' });
    assert.equal(f.status, 'failed');
    assert.equal(f.error_message, 'jupyter not found');
  });

  test('claims honour the target host; lists and gets', async () => {
    const s = await store.requestJupyter({ dir: null, host: 'gpu2' });
    assert.deepEqual(await store.claimJupyter({ agentId: agent, host: 'gpu1', limit: 1 }), []);
    assert.equal((await store.claimJupyter({ agentId: agent, host: 'gpu2', limit: 1 }))[0]!.session_id, s.session_id);
    assert.ok((await store.listSessions({ limit: 10, activeOnly: true })).some((x) => x.session_id === s.session_id));
    assert.equal((await store.getSession(s.session_id)).status, 'starting');
    await assert.rejects(other.getSession(s.session_id), /no Jupyter session/);
    assert.ok((await store.markJupyterNotified(s.session_id)).notified_at);
    await assert.rejects(store.markJupyterNotified(s.session_id), /already notified/);
  });
});

describe('agents, users and scripts', () => {
  test('agent register and heartbeat; another user cannot take the agent id', async () => {
    const a = await store.registerAgent({ agentId: agent, host: 'gpu1', version: '0.1.0', mode: 'supervise', pid: 1234 });
    assert.equal(a.host, 'gpu1');
    const hb = await store.heartbeatAgent({ agentId: agent });
    assert.ok(new Date(hb.heartbeat_at) >= new Date(a.heartbeat_at));
    assert.ok((await store.heartbeatAgent({ agentId: agent, stopped: true })).stopped_at);
    await assert.rejects(other.registerAgent({ agentId: agent, host: 'gpu1', version: '0.1.0', mode: 'tick', pid: 1 }), /belongs to another user/);
    await assert.rejects(other.heartbeatAgent({ agentId: agent }), /no agent/);
  });

  test('agent poll: one call registers and heartbeats the agent, keeps the users row, publishes the host, answers the work', async () => {
    const id = randomUUID();
    const job = await store.submitJob({ scriptPath: '/home/alice/poll.py', host: 'gpu7' });
    const session = await store.requestJupyter({ host: 'gpu7' });
    const poll = (o: { resources?: object | null; pid?: number } = {}) => store.pollAgent({
      agentId: id, host: 'gpu7', version: '0.1.0', mode: 'supervise', pid: o.pid ?? 4321, heartbeatEveryS: 90,
      user: { linuxUser: 'alice', email: null }, resources: o.resources ?? null,
    });
    const first = await poll({ resources: { gpu_status: 'ok', gpus: [], cpu_count: 8, load_1m: 0.25 } });
    assert.equal(first.pending, 1, 'the job waits for this host');
    assert.deepEqual(first.active, []);
    assert.deepEqual(first.sessions.map((s) => s.session_id), [session.session_id], 'the Jupyter request comes with the same answer');
    assert.equal(first.publish_error, null);
    assert.equal((await store.listHosts()).find((h) => h.host === 'gpu7')?.cpu_count, 8);
    const claimed = await store.claimJobs({ agentId: id, host: 'gpu7', limit: 1 });
    assert.deepEqual(claimed.map((j) => j.job_id), [job.job_id]);
    const second = await poll();
    assert.deepEqual(second.active.map((j) => j.job_id), [job.job_id]);
    assert.equal(second.pending, 0);
    // A host it cannot describe (65 GPUs): said in the answer, and the work still comes.
    const refused = await poll({ resources: { gpus: Array.from({ length: 65 }, (_, i) => ({ index: i })) } });
    assert.match(refused.publish_error ?? '', /at most 64 GPUs/);
    assert.deepEqual(refused.active.map((j) => j.job_id), [job.job_id]);
    await assert.rejects(other.pollAgent({ agentId: id, host: 'gpu7', version: '0.1.0', mode: 'tick', pid: 1 }), /belongs to another user/);
    await store.failJob({ jobId: job.job_id, error: 'test over' });
    await store.requestJupyterStop(session.session_id);
  });

  test('user ensure and whoami', async () => {
    const u = await store.ensureUser({ linuxUser: 'alice', email: 'alice@new.example' });
    assert.equal(u.email, 'alice@new.example');
    const me = await store.whoami();
    assert.equal(me.user_id, store.userId);
    assert.equal(me.user!.linux_user, 'alice');
    // The account authority's email (auth.users), not the one the member typed.
    assert.equal(await store.verifiedEmail(), 'alice@lab.example');
    // The secret wake-up channel: stable for the member, and not derived from what others can see.
    const channel = await store.wakeChannel();
    assert.equal(await store.wakeChannel(), channel);
    assert.ok(channel.length >= 20 && !channel.includes(store.userId), channel);
  });

  test('script sync inserts, updates only what changed, deletes, and keeps ids', async () => {
    const base = [
      { path: '/home/alice/a.py', type: 'py' as const, size: 10, mtime: '2026-01-01T00:00:00.000Z' },
      { path: '/home/alice/実験 ノート.ipynb', type: 'ipynb' as const, size: 99, mtime: '2026-01-01T00:00:00.000Z', kernel: 'python3' },
    ];
    assert.deepEqual(await store.syncScripts({ upserts: base, deletes: [] }), { inserted: 2, updated: 0, deleted: 0 });
    const ids = Object.fromEntries((await store.listScripts()).map((s) => [s.path, s.script_id]));
    assert.deepEqual(await store.syncScripts({ upserts: base, deletes: [] }), { inserted: 0, updated: 0, deleted: 0 }, 'unchanged writes nothing');
    const changed = [{ ...base[0]!, size: 11 }, base[1]!];
    assert.deepEqual(await store.syncScripts({ upserts: changed, deletes: [] }), { inserted: 0, updated: 1, deleted: 0 });
    const job = await store.submitJob({ scriptId: ids['/home/alice/a.py']! });
    assert.equal(job.script_path, '/home/alice/a.py', 'script_path is filled from the script');
    assert.deepEqual(await store.syncScripts({ upserts: [], deletes: ['/home/alice/a.py'] }), { inserted: 0, updated: 0, deleted: 1 });
    const kept = await store.getJob(job.job_id);
    assert.equal(kept.script_id, null);
    assert.equal(kept.script_path, '/home/alice/a.py', 'a job keeps the path of a deleted script');
    const after = await store.listScripts();
    assert.deepEqual(after.map((s) => [s.path, s.script_id]), [['/home/alice/実験 ノート.ipynb', ids['/home/alice/実験 ノート.ipynb']]]);
    assert.deepEqual(await other.listScripts(), []);
  });

  test('the sync\'s compact rows: scripts_list\'s scripts, mtime as whole epoch ms, only one\'s own', async () => {
    await store.syncScripts({
      upserts: [
        { path: '/home/alice/sync/a.py', type: 'py', size: 7, mtime: '2026-01-01T00:00:00.123456Z' }, // µs: floored to the ms
        { path: '/home/alice/sync/b.ipynb', type: 'ipynb', size: 2 ** 40, mtime: '1999-12-31T23:59:59Z', kernel: 'ir' },
      ],
      deletes: [],
    });
    const compact = (await store.scriptsForSync()).filter((s) => s.path.startsWith('/home/alice/sync/'));
    assert.deepEqual(compact.sort((x, y) => (x.path < y.path ? -1 : 1)), [
      { path: '/home/alice/sync/a.py', size: 7, mtime: Date.UTC(2026, 0, 1, 0, 0, 0, 123), kernel: null },
      { path: '/home/alice/sync/b.ipynb', size: 2 ** 40, mtime: Date.UTC(1999, 11, 31, 23, 59, 59), kernel: 'ir' },
    ]);
    const listed = (await store.listScripts()).map((s) => s.path).sort();
    assert.deepEqual((await store.scriptsForSync()).map((s) => s.path).sort(), listed, 'the same scripts as scripts_list');
    assert.deepEqual(await other.scriptsForSync(), [], 'none of alice\'s for bob');
  });

  test('the sync\'s rows come in pieces of at most 128, every script once, however many there are', async () => {
    const many = Array.from({ length: 300 }, (_, i) => ({ path: `/home/alice/many/s${i}.py`, type: 'py' as const, size: i, mtime: new Date(Date.UTC(2026, 0, 1) + i).toISOString() }));
    await store.syncScripts({ upserts: many, deletes: [] });
    const rows = await store.scriptsForSync();
    const listed = (await store.listScripts()).map((s) => s.path).sort();
    assert.deepEqual(rows.map((s) => s.path).sort(), listed, 'each of scripts_list\'s scripts, once');
    const mine = new Map(rows.map((r) => [r.path, r]));
    for (const m of many) assert.deepEqual(mine.get(m.path), { path: m.path, size: m.size, mtime: Date.parse(m.mtime), kernel: null });
    // As the member, directly: several pieces, none over 128 rows.
    const aliceId = (await db.admin.query("select user_id from public.users where linux_user = 'alice'")).rows[0].user_id;
    const c = await openAs(db, aliceId);
    try {
      const pieces = (await c.query('select public.scripts_for_sync_pieces() as r')).rows.map((r) => (r.r as unknown[]).length);
      assert.ok(pieces.length >= 3, `${listed.length} scripts in ${pieces.length} piece(s)`);
      assert.ok(pieces.every((n) => n >= 1 && n <= 128), `piece sizes ${pieces.join(', ')}`);
      assert.equal(pieces.reduce((a, b) => a + b, 0), listed.length);
    } finally {
      await c.end(); // its transaction, read-only, goes with it
    }
  });

  test('a job cannot reference another user\'s script', async () => {
    await store.syncScripts({ upserts: [{ path: '/home/alice/mine.py', type: 'py', size: 1, mtime: '2026-01-01T00:00:00Z' }], deletes: [] });
    const [mine] = (await store.listScripts()).filter((s) => s.path === '/home/alice/mine.py');
    await assert.rejects(other.submitJob({ scriptId: mine!.script_id }), /is not one of your scripts/);
  });

  test('a closed store leaves no database socket keeping the process alive', async () => {
    // In a process of its own: this one's other stores open and close sockets meanwhile.
    const userId = await makeUser(db, 'carol');
    const code = `
      const { LabStore } = await import(${JSON.stringify(new URL('../src/services/store/lab-store.ts', import.meta.url).href)});
      const { PgTransport } = await import(${JSON.stringify(new URL('../src/services/store/pg-transport.ts', import.meta.url).href)});
      const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap' || r === 'TCPSocketWrap').length;
      const s = new LabStore(new PgTransport({ connection: ${JSON.stringify(db.connection)}, userId: ${JSON.stringify(userId)} }), ${JSON.stringify(userId)});
      const before = sockets();
      await s.scriptsForSync();
      const inUse = sockets();
      await s.close();
      console.log(JSON.stringify({ before, inUse, closed: sockets() }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code]);
    const r = JSON.parse(stdout) as { before: number; inUse: number; closed: number };
    assert.equal(r.inUse, r.before + 1, 'its connection is open while in use');
    // The goodbye is sent; the server closes its end a few ms later, which must not keep a command
    // that is done waiting (PgTransport.close).
    assert.equal(r.closed, r.before);
  });

  test('schema version is readable', async () => {
    assert.match((await store.schemaVersion())!, /^\d{14}$/);
  });
});

function runArgs(sessionId: string) {
  return { sessionId, port: 8842, token: 'f'.repeat(64), pid: 777, pidStart: '1', url: 'http://gpu1:8842/lab?token=…' };
}
