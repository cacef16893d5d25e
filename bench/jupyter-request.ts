// Jupyter request → healthy URL in supervise mode: a real `lab-agent supervise` process on a test
// database (the embedded PostgreSQL), requests inserted through the store as the user would, timed
// until the row says running (the agent marks it running only after /api/status answered with the
// token). Each session is stopped (and timed) before the next request. JupyterLab from the test
// venv (the target), then Debian's Notebook 6 for comparison.
// Run: npm run build && node --import tsx bench/jupyter-request.ts [--n 5]
import { cpus } from 'node:os';
import { freshDatabase, storeAs } from '../test/helpers/db.js';
import { AgentEnv, eventually, exited, sleep } from '../test/helpers/agent-env.js';
import { hasLegacyJupyter, hasTestJupyter, testJupyter } from '../test/helpers/required.js';
import type { SessionRow } from '../src/services/store/types.js';
import { median, percentile, round } from './lib/stats.js';

const n = Number(process.argv[process.argv.indexOf('--n') + 1] || 5) || 5;
const db = await freshDatabase();

interface Series {
  label: string;
  /** Request call → running seen by the client (polling every 20 ms). */
  wallMs: number[];
  /** created_at → started_at, both database clock: no polling in it. */
  rowMs: number[];
  stopMs: number[];
}

async function series(label: string, user: string, base: number, extra: NodeJS.ProcessEnv): Promise<Series> {
  const a = new AgentEnv(db, user, { JUPYTER_IP: '127.0.0.1', JUPYTER_BASE_PORT: String(base), LAB_LOG_LEVEL: 'warn', LAB_PUBLIC_HOST: 'bench.lab', ...extra });
  await a.cli(['jupyter', 'ls']); // creates the users row
  const userId = (await db.admin.query('select user_id from public.users where linux_user = $1', [user])).rows[0].user_id as string;
  const store = storeAs(db, userId, 1);
  const sup = a.spawn(['supervise']);
  const out: Series = { label, wallMs: [], rowMs: [], stopMs: [] };
  try {
    await eventually('supervisor up', async () => (await db.admin.query("select 1 from public.agents where user_id = $1 and mode = 'supervise' and stopped_at is null", [userId])).rowCount);
    await sleep(500); // its first pass is done
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const req = await store.requestJupyter();
      const s = await eventually<SessionRow>('running', async () => {
        const r = (await db.admin.query('select * from public.jupyter_sessions where session_id = $1', [req.session_id])).rows[0] as SessionRow;
        if (r.status === 'failed') throw new Error(`session failed: ${r.error_message}`);
        return r.status === 'running' ? r : null;
      }, 120_000, 20);
      const t1 = performance.now();
      out.wallMs.push(t1 - t0);
      // pg hands timestamptz back as Date objects; new Date() takes those and strings alike.
      out.rowMs.push(new Date(s.started_at!).getTime() - new Date(s.created_at).getTime());
      const t2 = performance.now();
      await store.requestJupyterStop(s.session_id);
      await eventually('stopped', async () => (await db.admin.query("select 1 from public.jupyter_sessions where session_id = $1 and status = 'stopped'", [s.session_id])).rowCount, 60_000, 20);
      out.stopMs.push(performance.now() - t2);
      console.error(`${label} run ${i + 1}: running after ${round(t1 - t0, 0)} ms (row ${round(out.rowMs.at(-1)!, 0)} ms), stopped after ${round(out.stopMs.at(-1)!, 0)} ms`);
    }
  } finally {
    sup.kill('SIGTERM');
    await exited(sup);
    await store.close();
  }
  return out;
}

const s = (ms: number) => (ms / 1000).toFixed(2);
const all: Series[] = [];
if (hasTestJupyter) all.push(await series('JupyterLab (`jupyter lab`, venv)', 'benchlab', 29600, { LAB_JUPYTER: testJupyter }));
else console.error(`skipped JupyterLab: ${testJupyter} missing`);
if (hasLegacyJupyter) all.push(await series('Notebook 6 (Debian, JUPYTER_LEGACY=true)', 'benchnb', 29700, { JUPYTER_LEGACY: 'true', LAB_JUPYTER: '/usr/bin/jupyter' }));
else console.error('skipped Notebook 6: /usr/bin/jupyter-notebook missing');
await db.drop();

console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}\n`);
console.log('| server | runs | request → running median (s) | p90 (s) | all (s) | created_at → started_at median (s) | stop median (s) |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const x of all) {
  console.log(`| ${x.label} | ${n} | ${s(median(x.wallMs))} | ${s(percentile(x.wallMs, 90))} | ${x.wallMs.map(s).join(', ')} | ${s(median(x.rowMs))} | ${s(median(x.stopMs))} |`);
}
process.exit(0);
