// 10,000 jobs: the dashboard's first page and each filter, as the page asks for them — through
// `lab-agent web` (HTTP, JSON, the member's transaction) and, beside it in the same run, the same
// SQL function called directly (pg transport), so the server's own share shows.
// Run: npm run build && node --import tsx bench/web-queries.ts [--runs 20]
import { storeAs } from '../test/helpers/db.js';
import { webFixture } from './lib/web-fixture.js';
import { median, percentile, round } from './lib/stats.js';

const arg = (name: string, def: number) => Number(process.argv[process.argv.indexOf(name) + 1] || def) || def;
const runs = arg('--runs', 20);

const f = await webFixture(10_000);
const store = storeAs(f.db, f.userId, 1);
// A cursor 100 pages deep (the 5,000th job), for paging far back.
const deep = (await f.db.admin.query('select created_at, job_id from public.jobs order by created_at desc, job_id desc offset 4999 limit 1')).rows[0];

const cases: Record<string, Record<string, unknown>> = {
  first_page: { p_limit: 50 },
  status_failed: { p_limit: 50, p_statuses: ['failed'] },
  status_two: { p_limit: 50, p_statuses: ['failed', 'cancelled'] },
  host: { p_limit: 50, p_host: 'gpu2' },
  script: { p_limit: 50, p_script: '/home/benchweb/exp3/train_3.py' },
  text: { p_limit: 50, p_q: 'out of memory' },
  text_and_status: { p_limit: 50, p_q: 'seed 77', p_statuses: ['finished'] },
  page_100: { p_limit: 50, p_before_created: deep.created_at.toISOString(), p_before_id: deep.job_id },
  facets: {},
};

const viaApi = async (fn: string, body: unknown) => {
  const r = await fetch(`${f.web.origin}/api/rpc/${fn}`, {
    method: 'POST', headers: { cookie: f.cookie, origin: f.web.origin, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${fn}: ${r.status} ${await r.text()}`);
  return r.json();
};

const out: Record<string, unknown> = {};
for (const [name, args] of Object.entries(cases)) {
  const fn = name === 'facets' ? 'jobs_facets' : 'jobs_page';
  await viaApi(fn, args); // warm: the plan cache and the connection
  const api: number[] = [];
  const sql: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    await viaApi(fn, args);
    api.push(performance.now() - t);
    t = performance.now();
    await store.transport.rpc(fn, args);
    sql.push(performance.now() - t);
  }
  out[name] = { api_ms_median: round(median(api)), api_ms_p95: round(percentile(api, 95)), sql_ms_median: round(median(sql)) };
}
await store.close();
await f.close();
console.log(JSON.stringify({ jobs: 10_000, runs, ...out }));
process.exit(0);
