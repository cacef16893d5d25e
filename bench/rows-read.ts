// The inventory sync's read of the stored rows (issue 12: 1,600 rows in <= 20 ms), and what it is
// made of on this machine. Three measurements, each with its reference from the same run:
//   1. the machine: a first touch of a 4 kB page of fresh memory, against touching it again;
//   2. the server: page faults of the call in a new backend and on a second call (the backend's own
//      minflt, /proc/self/stat), for scripts_for_sync_pieces (the rows as json arrays of up to 128)
//      and, as the reference, the same rows as one json value (the query of the scripts_for_sync it
//      replaced, migration 20261203000100);
//   3. the read in a fresh process as the sync makes it (a store whose opening ran, then the call
//      and the rows as objects), both shapes alternating.
// The rows are the synthetic home's scripts (bench/synthetic-home.ts), as bench/sync-dry-run.ts has.
//   npm run build && node --import tsx bench/rows-read.ts [--n 15]
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createSyntheticHome } from './synthetic-home.js';
import { median, round } from './lib/stats.js';
import { ensureLocalPostgres } from '../src/services/store/local-postgres.js';
import { migrate } from '../src/services/store/migrate.js';
import { scanScripts } from '../src/services/scanner/scan.js';
import { LabStore } from '../src/services/store/lab-store.js';
import { PgTransport } from '../src/services/store/pg-transport.js';
import { packageRoot } from '../src/services/package-info.js';

const argv = process.argv.slice(2);
const nAt = argv.indexOf('--n');
const N = Math.max(5, Number(nAt >= 0 ? argv[nAt + 1] : 15) || 15);

/** The reference shape: every row in one json value, as scripts_for_sync sent them. */
const ONE_VALUE = `create or replace function public.bench_scripts_one_value(p_user_id uuid default null) returns json
  language sql stable security invoker set search_path = '' as $$
  select coalesce(json_agg(json_build_array(s.path, s.size, floor(extract(epoch from s.mtime) * 1000)::bigint, s.kernel)), '[]'::json)
  from public.scripts s where s.user_id = lab_private.acting_user(p_user_id)
$$`;

function pageTouch(): { firstUs: number; againUs: number } {
  const bytes = 64 << 20;
  const b = Buffer.allocUnsafeSlow(bytes); // malloc'd, not yet touched
  const pass = () => {
    const t = performance.now();
    for (let i = 0; i < bytes; i += 4096) b[i] = 1;
    return ((performance.now() - t) * 1000) / (bytes / 4096);
  };
  return { firstUs: pass(), againUs: pass() };
}

const synth = await createSyntheticHome();
const server = await ensureLocalPostgres({ dataDir: join(tmpdir(), 'lab-agent-bench-pg'), fast: true, database: 'postgres', allowRoot: true });
const dbName = `bench_rows_${process.pid}`;
const root = new pg.Client(server.connection);
await root.connect();
await root.query(`create database ${dbName}`); // lint-allow-identifier
const connection = { ...server.connection, database: dbName };
const admin = new pg.Client(connection);
try {
  await admin.connect();
  await migrate(admin, { bootstrap: true });
  await admin.query(ONE_VALUE);
  await admin.query('grant execute on function public.bench_scripts_one_value(uuid) to authenticated');
  const userId = randomUUID();
  await admin.query('insert into auth.users (id, email) values ($1, $2)', [userId, 'bench@lab.example']);
  await admin.query('insert into public.users (user_id, linux_user) values ($1, $2)', [userId, 'bench']);
  const scan = await scanScripts({ home: synth.home, logDir: synth.logDir, agentDir: synth.agentDir });
  const store = new LabStore(new PgTransport({ connection, userId }), userId);
  await store.syncScripts({ upserts: scan.files.map((f) => ({ path: f.path, type: f.type, size: f.size, mtime: f.mtime, kernel: f.kernel ?? null })), deletes: [] });
  const rows = (await store.scriptsForSync()).length;
  await store.close();
  // The reference value's size, asked as the member (the functions act for a signed-in member).
  const claims = JSON.stringify({ sub: userId, role: 'authenticated' });
  await admin.query('begin');
  await admin.query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)", [claims]);
  const bytes = (await admin.query('select octet_length(public.bench_scripts_one_value()::text) as n')).rows[0].n as number;
  await admin.query('rollback');

  // 2. The server's page faults, in a new backend each time.
  async function faults(fn: string): Promise<{ cold: number; again: number }> {
    const c = new pg.Client(connection);
    await c.connect();
    const minflt = async () => Number((await c.query("select split_part(pg_read_file('/proc/self/stat'), ' ', 10) as f")).rows[0].f);
    const call = async () => {
      await c.query("select set_config('role', 'authenticated', false), set_config('request.jwt.claims', $1, false)", [claims]);
      await c.query(`select public.${fn}() as r`); // lint-allow-identifier
      await c.query('reset role');
    };
    await c.query("select set_config('request.jwt.claims', $1, false)", [claims]);
    await c.query('select public.user_ensure($1)', ['bench']); // the opening's own first calls
    const f0 = await minflt();
    await call();
    const f1 = await minflt();
    await call();
    const f2 = await minflt();
    await c.end();
    return { cold: f1 - f0, again: f2 - f1 };
  }
  const serverFaults: Record<string, { cold: number[]; again: number[] }> = { pieces: { cold: [], again: [] }, oneValue: { cold: [], again: [] } };
  for (let i = 0; i < 5; i++) {
    for (const [k, fn] of [['pieces', 'scripts_for_sync_pieces'], ['oneValue', 'bench_scripts_one_value']] as const) {
      const f = await faults(fn);
      serverFaults[k]!.cold.push(f.cold);
      serverFaults[k]!.again.push(f.again);
    }
  }

  // 3. The read in a fresh process: a store as the CLI's opening leaves it, then the call and the rows as objects.
  const code = (shape: string) => `
    const { LabStore } = await import(${JSON.stringify(`${packageRoot}dist/services/store/lab-store.js`)});
    const { PgTransport } = await import(${JSON.stringify(`${packageRoot}dist/services/store/pg-transport.js`)});
    const transport = new PgTransport({ connection: ${JSON.stringify(connection)}, userId: ${JSON.stringify(userId)} });
    const store = new LabStore(transport, ${JSON.stringify(userId)});
    await store.schemaVersion();
    await store.ensureUser({ linuxUser: 'bench', email: null, host: 'benchhost' });
    const t = performance.now();
    const rows = ${shape === 'pieces'
      ? 'await store.scriptsForSync()'
      : "(await transport.rpc('bench_scripts_one_value', {})).map((r) => ({ path: r[0], size: r[1], mtime: r[2], kernel: r[3] }))"};
    const ms = performance.now() - t;
    await store.close();
    console.log(JSON.stringify({ ms, rows: rows.length }));`;
  const once = (shape: string) => new Promise<number>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', code(shape)], (err, stdout, stderr) => {
      if (err) return reject(new Error(stderr || err.message));
      const r = JSON.parse(stdout) as { ms: number; rows: number };
      if (r.rows !== rows) return reject(new Error(`${shape}: ${r.rows} rows, not ${rows}`));
      resolve(r.ms);
    });
  });
  const readMs: Record<string, number[]> = { pieces: [], oneValue: [] };
  await once('pieces');
  await once('oneValue'); // warm-up: page cache
  for (let i = 0; i < N; i++) for (const shape of ['pieces', 'oneValue']) readMs[shape]!.push(await once(shape));

  const touch = [pageTouch(), pageTouch(), pageTouch()];
  const summary = {
    bench: 'rows-read', node: process.version, rows, oneValueBytes: bytes, n: N,
    pageTouchUs: { first: round(median(touch.map((t) => t.firstUs)), 2), again: round(median(touch.map((t) => t.againUs)), 3) },
    serverPageFaultsMedian: Object.fromEntries(Object.entries(serverFaults).map(([k, v]) => [k, { newBackend: median(v.cold), secondCall: median(v.again) }])),
    freshProcessReadMs: Object.fromEntries(Object.entries(readMs).map(([k, v]) => [k, { median: round(median(v)), min: round(Math.min(...v)), max: round(Math.max(...v)) }])),
  };
  console.log(`first touch of a 4 kB page: ${summary.pageTouchUs.first} µs (touching it again: ${summary.pageTouchUs.again} µs)`);
  console.log(`server page faults for ${rows} rows (${bytes} bytes as one value), new backend / second call: pieces ${summary.serverPageFaultsMedian.pieces!.newBackend} / ${summary.serverPageFaultsMedian.pieces!.secondCall}, one value ${summary.serverPageFaultsMedian.oneValue!.newBackend} / ${summary.serverPageFaultsMedian.oneValue!.secondCall}`);
  console.log(`read in a fresh process, median of ${N} (target <= 20 ms): pieces ${summary.freshProcessReadMs.pieces!.median} ms, one value ${summary.freshProcessReadMs.oneValue!.median} ms`);
  console.log(JSON.stringify(summary));
} finally {
  await admin.end().catch(() => undefined);
  await root.query(`drop database if exists ${dbName} with (force)`); // lint-allow-identifier
  await root.end();
}
