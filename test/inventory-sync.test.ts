// Script inventory sync end to end: the real CLI (`sync`, `sync --dry-run`, `scripts`, `tick`) on
// temporary homes against a real PostgreSQL. "Writes nothing" is checked in the server itself:
// the rows' xmin/ctid, pg_stat_user_tables and the number of scripts_sync calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshDatabase, storeAs, type TestDb } from './helpers/db.js';
import { AgentEnv, cliPath, type CliResult } from './helpers/agent-env.js';
import { requirePart } from './helpers/required.js';
import type { SyncResult } from '../src/services/inventory/sync.js';
import { runSyncPass } from '../src/services/inventory/sync-pass.js';
import { readSyncState, syncDue, syncLockPath, syncStatePath } from '../src/services/inventory/sync-state.js';
import { tryLock } from '../src/services/file-lock.js';
import type { AgentContext } from '../src/services/agent/context.js';
import type { ScriptRow, ScriptState } from '../src/services/store/types.js';

let db: TestDb;
const homes: string[] = [];
before(async () => {
  db = await freshDatabase();
  // Count calls of scripts_sync per database (a superuser setting; new connections take it).
  await db.admin.query(`alter database ${db.name} set track_functions = 'all'`); // lint-allow-identifier
});
after(async () => {
  for (const h of homes) {
    spawnSync('chmod', ['-R', 'u+rwx', h]);
    rmSync(h, { recursive: true, force: true });
  }
  await db.drop();
});

function agent(user: string, extra: NodeJS.ProcessEnv = {}): AgentEnv {
  const a = new AgentEnv(db, user, extra);
  homes.push(a.home);
  return a;
}

// A long limit: on a loaded shared machine one 50,000-script sync can take far over its usual ~2 s.
async function cliJson<T>(a: AgentEnv, args: string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const r = await a.cli([...args, '--json'], env, 600_000);
  assert.equal(r.code, 0, `${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
const sync = (a: AgentEnv, env: NodeJS.ProcessEnv = {}) => cliJson<SyncResult>(a, ['sync'], env);
const dryRun = (a: AgentEnv) => cliJson<SyncResult>(a, ['sync', '--dry-run']);
const scripts = (a: AgentEnv) => cliJson<ScriptRow[]>(a, ['scripts']);
const idsByPath = (rows: ScriptRow[]) => new Map(rows.map((r) => [r.path, Number(r.script_id)]));

/** Wait until no other session is connected: a backend flushes its statistics as it exits. */
async function quiet(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await db.admin.query('select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [db.name]);
    if (r.rows[0].n === 0) return;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error('database sessions did not end');
}

interface Writes { calls: number; ins: number; upd: number; del: number; rows: string }
/** What the server has recorded about writes to public.scripts, and every row version's identity. */
async function writes(): Promise<Writes> {
  await quiet();
  await db.admin.query('select pg_stat_clear_snapshot()');
  const f = await db.admin.query("select coalesce(sum(calls), 0)::int as calls from pg_stat_user_functions where schemaname = 'public' and funcname = 'scripts_sync'");
  const t = await db.admin.query("select n_tup_ins::int as ins, n_tup_upd::int as upd, n_tup_del::int as del from pg_stat_user_tables where relid = 'public.scripts'::regclass");
  const v = await db.admin.query("select coalesce(string_agg(script_id || '@' || xmin || ctid::text || updated_at::text, ',' order by script_id), '') as rows from public.scripts");
  return { calls: f.rows[0].calls, ...t.rows[0], rows: v.rows[0].rows };
}
const delta = (a: Writes, b: Writes) => ({ calls: b.calls - a.calls, ins: b.ins - a.ins, upd: b.upd - a.upd, del: b.del - a.del });
const NONE = { calls: 0, ins: 0, upd: 0, del: 0 };

const nb = (kernel: string) => JSON.stringify({ cells: [], metadata: { kernelspec: { name: kernel, display_name: kernel } }, nbformat: 4, nbformat_minor: 5 });

describe('script inventory sync', () => {
  test('tricky names, a symlink loop, a file replaced by a folder: ids stable, one call per change, nothing written when unchanged', async () => {
    const a = agent('alice');
    const p = (rel: string) => join(a.home, rel);
    a.write('日本語のノート.ipynb', nb('python3'));
    a.write('with space/my script (final).py', 'print(1)\n');
    a.write('プロジェクト 1/解析 v2.py', 'print(2)\n');
    a.write('cafe\u0301.py', ''); // NFD, kept exactly
    a.write('keep.py', 'x = 1\n');
    a.write('gone.py', 'print("soon gone")\n');
    a.write('becomes-dir.py', '');
    a.write('.venv/lib/site.py', ''); // pruned
    symlinkSync('.', p('loop')); // home -> home
    mkdirSync(p('a'));
    mkdirSync(p('b'));
    symlinkSync('../b', p('a/to-b'));
    symlinkSync('../a', p('b/to-a'));
    symlinkSync('/usr', p('usr-link')); // outside home: never followed
    const all = ['becomes-dir.py', 'cafe\u0301.py', 'gone.py', 'keep.py', 'with space/my script (final).py', 'プロジェクト 1/解析 v2.py', '日本語のノート.ipynb'].map(p).sort();

    // A dry run on an empty inventory: every path would be inserted, nothing is written.
    const w0 = await writes();
    const dry = await dryRun(a);
    assert.equal(dry.dryRun, true);
    assert.deepEqual([dry.inserted, dry.updated, dry.deleted, dry.unchanged], [7, 0, 0, 0]);
    assert.deepEqual([...dry.paths.insert].sort(), all);
    assert.deepEqual(dry.warnings, []);
    const w1 = await writes();
    assert.deepEqual(delta(w0, w1), NONE, 'a dry run writes nothing');
    // (The data folder may hold the member's id: opening the store makes it on first use.)
    assert.equal(existsSync(syncStatePath(join(a.home, '.local/share/lab-job-agent'), 'testhost')), false, 'not even the state file');

    const first = await sync(a);
    assert.deepEqual([first.inserted, first.updated, first.deleted], [7, 0, 0]);
    const w2 = await writes();
    assert.deepEqual(delta(w1, w2), { calls: 1, ins: 7, upd: 0, del: 0 }, 'one scripts_sync call');
    const rows = await scripts(a);
    assert.deepEqual(rows.map((r) => r.path).sort(), all, 'names kept exactly (no Unicode normalization)');
    assert.equal(rows.find((r) => r.path.endsWith('.ipynb'))?.kernel, 'python3');
    assert.equal(rows.find((r) => r.path === p('keep.py'))?.size, 6);
    const ids = idsByPath(rows);

    // A job on gone.py, then an unchanged re-sync: no call, no row version touched.
    const uid = (await db.admin.query('select user_id from public.users where linux_user = $1', ['alice'])).rows[0].user_id as string;
    const store = storeAs(db, uid, 1);
    const job = await store.submitJob({ scriptId: ids.get(p('gone.py'))! });
    await store.close();
    const w3 = await writes();
    const again = await sync(a);
    assert.deepEqual([again.inserted, again.updated, again.deleted, again.unchanged], [0, 0, 0, 7]);
    const w4 = await writes();
    assert.deepEqual(delta(w3, w4), NONE, 'an unchanged re-sync writes no rows');
    assert.equal(w4.rows, w3.rows, 'every row version (xmin, ctid, updated_at) is the same');

    // Changes: one edit, one delete, a file replaced by a folder, a new file.
    writeFileSync(p('keep.py'), 'x = 2  # longer\n');
    unlinkSync(p('gone.py'));
    unlinkSync(p('becomes-dir.py'));
    a.write('becomes-dir.py/inner.py', '');
    a.write('新しい ファイル.py', '');
    const dry2 = await dryRun(a);
    assert.deepEqual(dry2.paths, {
      insert: [p('becomes-dir.py/inner.py'), p('新しい ファイル.py')].sort(),
      update: [p('keep.py')],
      delete: [p('becomes-dir.py'), p('gone.py')],
    });
    assert.deepEqual([dry2.inserted, dry2.updated, dry2.deleted, dry2.unchanged], [2, 1, 2, 4]);
    const w5 = await writes();
    assert.deepEqual(delta(w4, w5), NONE, 'a dry run writes nothing');
    assert.equal(w5.rows, w4.rows);
    const text = await a.cli(['sync', '--dry-run']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /would insert 2, update 1, delete 2; 4 unchanged/);
    assert.ok(text.stdout.includes(`+ ${p('新しい ファイル.py')}`) && text.stdout.includes(`- ${p('gone.py')}`) && text.stdout.includes(`~ ${p('keep.py')}`));

    const applied = await sync(a);
    assert.deepEqual([applied.inserted, applied.updated, applied.deleted, applied.unchanged], [2, 1, 2, 4]);
    assert.deepEqual(applied.paths, dry2.paths);
    const w6 = await writes();
    assert.deepEqual(delta(w5, w6), { calls: 1, ins: 2, upd: 1, del: 2 });
    const after = idsByPath(await scripts(a));
    for (const [path, id] of ids) if (after.has(path)) assert.equal(after.get(path), id, `id of ${path} kept`);
    assert.equal(after.size, 7);
    assert.equal(after.has(p('gone.py')), false);
    const j = (await db.admin.query('select script_id, script_path from public.jobs where job_id = $1', [job.job_id])).rows[0];
    assert.deepEqual(j, { script_id: null, script_path: p('gone.py') }, 'the job still shows its script path');

    const list = await a.cli(['scripts']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+TYPE\s+SIZE\s+MODIFIED \(.+\)\s+KERNEL\s+PATH/);
    assert.ok(list.stdout.includes(p('新しい ファイル.py')));
    assert.match(list.stdout, /ipynb\s+\S+ B\s+\S+ \S+\s+python3\s+/);
  });

  test('an unreadable folder is skipped with one warning and its scripts are kept, not deleted', { skip: permSkip() }, async () => {
    const proxy = await socketProxy();
    try {
      const a = agent('nobody-user', { LAB_DATABASE_URL: proxy.url });
      a.write('ok.py', '');
      a.write('locked/secret.py', '');
      a.write('locked/inner/more.py', '');
      const run = (args: string[]) => asUnprivileged(a, args);
      if (process.getuid?.() === 0) spawnSync('chown', ['-R', '65534:65534', a.home]); // the user's own home

      const first = JSON.parse((await run(['sync', '--json'])).stdout) as SyncResult;
      assert.equal(first.inserted, 3);
      const ids = idsByPath(JSON.parse((await run(['scripts', '--json'])).stdout) as ScriptRow[]);

      chmodSync(join(a.home, 'locked'), 0o000);
      const denied = JSON.parse((await run(['sync', '--json'])).stdout) as SyncResult;
      assert.deepEqual([denied.inserted, denied.updated, denied.deleted, denied.unchanged, denied.kept], [0, 0, 0, 1, 2]);
      const folderWarnings = denied.warnings.filter((w) => w.includes(join(a.home, 'locked')));
      assert.equal(folderWarnings.length, 1, denied.warnings.join('\n'));
      assert.match(folderWarnings[0]!, /EACCES/);
      const text = await run(['sync']);
      assert.equal((text.stderr.match(/cannot read folder/g) ?? []).length, 1, text.stderr);
      assert.deepEqual(idsByPath(JSON.parse((await run(['scripts', '--json'])).stdout) as ScriptRow[]), ids, 'kept with their ids');

      chmodSync(join(a.home, 'locked'), 0o755);
      unlinkSync(join(a.home, 'locked/inner/more.py'));
      const back = JSON.parse((await run(['sync', '--json'])).stdout) as SyncResult;
      assert.deepEqual([back.deleted, back.kept, back.warnings.length], [1, 0, 0]);
      assert.deepEqual(back.paths.delete, [join(a.home, 'locked/inner/more.py')]);
    } finally {
      proxy.server.close();
    }
  });

  test('the interval holds across processes: two ticks sync once, `sync` forces, a due tick syncs again', async () => {
    const a = agent('bob');
    a.write('one.py', '');
    const state = join(a.home, '.local/share/lab-job-agent/inventory-sync-testhost.json');
    const w0 = await writes();
    const tick = async () => {
      const r = await a.cli(['tick']);
      assert.equal(r.code, 0, r.stderr);
    };
    const paths = async () => (await scripts(a)).map((r) => r.path.slice(a.home.length + 1)).sort();

    await tick();
    assert.deepEqual(await paths(), ['one.py']);
    const st = JSON.parse(readFileSync(state, 'utf8'));
    assert.ok(Date.now() - Date.parse(st.lastSyncAt) < 60_000);
    a.write('two.py', '');
    await tick(); // not due: SYNC_INTERVAL_MIN is 10
    assert.deepEqual(await paths(), ['one.py']);
    const w1 = await writes();
    assert.equal(w1.calls - w0.calls, 1, 'two ticks, one sync');

    assert.equal((await sync(a)).inserted, 1, '`sync` ignores the interval');
    assert.deepEqual(await paths(), ['one.py', 'two.py']);
    a.write('three.py', '');
    await tick(); // the forced sync restarted the interval
    assert.deepEqual(await paths(), ['one.py', 'two.py']);

    // Eleven minutes later (the state file aged by hand): the next tick syncs.
    const old = new Date(Date.now() - 11 * 60_000).toISOString();
    writeFileSync(state, JSON.stringify({ lastSyncAt: old, lastAttemptAt: old }));
    await tick();
    assert.deepEqual(await paths(), ['one.py', 'three.py', 'two.py']);
    const w2 = await writes();
    assert.equal(w2.calls - w0.calls, 3);
  });

  test('LAB_SYNC_EXCLUDE holds through both entry points: `sync` (tinyglobby bundled) and a tick (tinyglobby from node_modules)', async () => {
    const a = agent('erin', { LAB_SYNC_EXCLUDE: 'scratch,*.tmp.py' });
    a.write('keep.py', '');
    a.write('scratch/no.py', '');
    a.write('deep/scratch/no.ipynb', '{}');
    a.write('x.tmp.py', '');
    const dry = await dryRun(a);
    assert.deepEqual(dry.paths.insert.map((p) => p.slice(a.home.length + 1)), ['keep.py']);
    const r = await a.cli(['tick']); // the first tick syncs
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await scripts(a)).map((row) => row.path.slice(a.home.length + 1)), ['keep.py']);
  });

  test('50,000 scripts: one call inserts them all, a re-sync writes nothing, a truncated scan deletes nothing', async () => {
    const a = agent('carol');
    for (let d = 0; d < 100; d++) {
      const dir = join(a.home, `p${d}`, 'src');
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < 500; i++) closeSync(openSync(join(dir, i % 10 === 0 ? `n${i}.ipynb` : `m${i}.py`), 'w'));
    }
    const w0 = await writes();
    const first = await sync(a);
    assert.equal(first.truncated, null);
    assert.equal(first.inserted, 50_000);
    const w1 = await writes();
    assert.deepEqual(delta(w0, w1), { calls: 1, ins: 50_000, upd: 0, del: 0 });
    const ids = idsByPath(await scripts(a));
    assert.equal(ids.size, 50_000);

    const again = await sync(a);
    assert.deepEqual([again.inserted, again.updated, again.deleted, again.unchanged], [0, 0, 0, 50_000]);
    const w2 = await writes();
    assert.deepEqual(delta(w1, w2), NONE);
    assert.equal(w2.rows, w1.rows);

    // One file edited, one gone; a scan capped at 1,000 files stops early and deletes nothing.
    writeFileSync(join(a.home, 'p0/src/m1.py'), 'print(1)\n');
    unlinkSync(join(a.home, 'p99/src/m499.py'));
    const capped = await sync(a, { LAB_SYNC_MAX_FILES: '1000' });
    assert.equal(capped.truncated, 'max-files');
    assert.deepEqual([capped.inserted, capped.deleted], [0, 0]);
    assert.ok(capped.unchanged + capped.updated === 1000 && capped.updated <= 1);
    assert.match(capped.warnings.join('\n'), /stopped early/);
    assert.equal((await scripts(a)).length, 50_000);
    const full = await sync(a);
    assert.deepEqual([full.inserted, full.deleted, capped.updated + full.updated], [0, 1, 1]);
    assert.deepEqual(full.paths.delete, [join(a.home, 'p99/src/m499.py')]);
    const now = idsByPath(await scripts(a));
    assert.equal(now.size, 49_999);
    for (const [path, id] of now) assert.equal(id, ids.get(path));
  });

  test('a home that cannot be read (a mount that is down) deletes nothing', async () => {
    const a = agent('dave');
    const home = join(a.home, 'mnt', 'home');
    const env = { HOME: home, LAB_DATA_DIR: join(a.home, 'data'), LAB_AGENT_DIR: join(a.home, 'agent') };
    a.write('mnt/home/x.py', '');
    a.write('mnt/home/sub/y.py', '');
    assert.equal((await sync(a, env)).inserted, 2);
    spawnSync('mv', [join(a.home, 'mnt'), join(a.home, 'mnt-away')]);
    const r = await sync(a, env);
    assert.deepEqual([r.inserted, r.deleted, r.kept], [0, 0, 2]);
    assert.match(r.warnings[0] ?? '', /ENOENT/);
    assert.equal((await cliJson<ScriptRow[]>(a, ['scripts'], env)).length, 2);
  });
});

describe('sync schedule and the agent pass', () => {
  const H = 60_000;
  test('syncDue: the interval, a retry delay after a failure, stamps from a clock set back', () => {
    const t = Date.parse('2026-11-29T12:00:00Z');
    const iso = (ms: number) => new Date(ms).toISOString();
    assert.equal(syncDue({}, 10, t).due, true, 'never synced');
    assert.deepEqual(syncDue({ lastSyncAt: iso(t - 9 * H), lastAttemptAt: iso(t - 9 * H) }, 10, t), { due: false, nextAt: new Date(t + H) });
    assert.equal(syncDue({ lastSyncAt: iso(t - 10 * H) }, 10, t).due, true);
    // Failed 30 s ago (last success long ago): wait a minute, not the whole interval, not zero.
    assert.equal(syncDue({ lastSyncAt: iso(t - 60 * H), lastAttemptAt: iso(t - 30_000) }, 10, t).due, false);
    assert.equal(syncDue({ lastSyncAt: iso(t - 60 * H), lastAttemptAt: iso(t - H) }, 10, t).due, true);
    assert.equal(syncDue({ lastSyncAt: iso(t + 24 * 60 * H) }, 10, t).due, true, 'a stamp in the future is ignored');
    assert.equal(syncDue({ lastSyncAt: 'garbage' }, 10, t).due, true);
  });

  function fakeAgent(scriptsForSync: () => Promise<ScriptState[]>) {
    const dir = mkdtempSync(join(tmpdir(), 'sync-pass-'));
    homes.push(dir);
    mkdirSync(join(dir, 'home'));
    const logged: { level: string; msg: string }[] = [];
    const log = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((level) => [level, (_o: unknown, msg: string) => logged.push({ level, msg })]));
    let calls = 0;
    const ctx = {
      config: { home: join(dir, 'home'), logDir: join(dir, 'logs'), agentDir: join(dir, 'agent'), dataDir: join(dir, 'data'), host: 'h1', syncExclude: [], syncMaxFiles: 50_000, syncIntervalMin: 10 },
      store: { scriptsForSync: () => (calls++, scriptsForSync()), syncScripts: async () => ({ inserted: 0, updated: 0, deleted: 0 }) },
      log,
    } as unknown as AgentContext;
    return { ctx, logged, dataDir: join(dir, 'data'), calls: () => calls };
  }

  test('a failing sync is logged, never thrown, and retried after a minute rather than every tick', async () => {
    const f = fakeAgent(() => Promise.reject(new Error('database is down')));
    assert.equal(await runSyncPass(f.ctx), null);
    assert.equal(f.calls(), 1);
    assert.ok(f.logged.some((l) => l.level === 'error' && /inventory sync failed/.test(l.msg)));
    const st = readSyncState(f.dataDir, 'h1');
    assert.equal(st.lastError, 'database is down');
    assert.equal(st.lastSyncAt, undefined);
    assert.equal(await runSyncPass(f.ctx), null);
    assert.equal(f.calls(), 1, 'the next tick does not retry at once');
  });

  test('the rows read while the scan runs: a read that fails mid-scan fails the sync with its own error', async () => {
    // A notebook makes the scan wait for the rows (its kernel may come from them); a slow failure
    // arrives while the scan is under way.
    const f = fakeAgent(() => new Promise((_, reject) => setTimeout(() => reject(new Error('connection lost mid-read')), 50)));
    writeFileSync(join(f.ctx.config.home, 'a.ipynb'), '{"cells": [], "metadata": {}}');
    writeFileSync(join(f.ctx.config.home, 'b.py'), 'print(1)\n');
    assert.equal(await runSyncPass(f.ctx), null);
    assert.equal(readSyncState(f.dataDir, 'h1').lastError, 'connection lost mid-read');
    assert.ok(f.logged.some((l) => l.level === 'error' && /inventory sync failed/.test(l.msg)));
  });

  test('while another sync holds the lock, the pass leaves it to that one', async () => {
    const f = fakeAgent(async () => []);
    mkdirSync(f.dataDir, { recursive: true });
    const release = tryLock(syncLockPath(f.dataDir, 'h1'))!;
    try {
      assert.equal(await runSyncPass(f.ctx), null);
      assert.equal(f.calls(), 0);
    } finally {
      release();
    }
    const r = await runSyncPass(f.ctx);
    assert.deepEqual([r?.inserted, r?.deleted, f.calls()], [0, 0, 1]);
    assert.equal(await runSyncPass(f.ctx), null, 'then not due');
  });
});

// Permissions only bite for a non-root user: as root, the CLI runs as uid 65534 (setpriv).
function permSkip(): string | false {
  if (process.getuid?.() !== 0) return false;
  return requirePart('setpriv', spawnSync('setpriv', ['--version']).status === 0, 'install util-linux (needed to test permissions when running as root)');
}

async function asUnprivileged(a: AgentEnv, args: string[]): Promise<CliResult> {
  // Asynchronous: the TCP relay below runs in this process and must keep serving meanwhile.
  const r = process.getuid?.() !== 0 ? await a.cli(args) : await new Promise<CliResult>((resolve) => {
    execFile('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, cliPath, ...args], { env: a.env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, signal: null, stdout, stderr });
    });
  });
  assert.equal(r.code, 0, `${args.join(' ')} as uid 65534 failed: ${r.stderr}`);
  return r;
}

/** The test server listens on a root-only Unix socket; a TCP relay lets a uid-65534 process in. */
async function socketProxy(): Promise<{ server: Server; url: string }> {
  const c = db.connection;
  const socket = join(String(c.host), `.s.PGSQL.${c.port ?? 5432}`);
  const server = createServer((client) => {
    const up = connect(socket);
    client.pipe(up).pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  return { server, url: `postgres://${c.user}@127.0.0.1:${port}/${c.database}` };
}
