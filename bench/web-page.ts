// The dashboard in Chromium, served by `lab-agent web`, with 10,000 jobs in the database:
//  - token link → job list rendered, each time in a fresh browser profile (cold cache);
//  - a job's status change in the database → visible in the list, over N jobs (job_request_cancel
//    of a pending job, the same SQL function any client calls; seen by a MutationObserver).
// Run: npm run build && node --import tsx bench/web-page.ts [--runs 10] [--jobs 50]
import { createServer } from 'node:http';
import { launchChromium } from '../test/helpers/web-env.js';
import { sleep } from '../test/helpers/agent-env.js';
import { storeAs } from '../test/helpers/db.js';
import { webFixture } from './lib/web-fixture.js';
import { median, percentile, round } from './lib/stats.js';

const arg = (name: string, def: number) => Number(process.argv[process.argv.indexOf(name) + 1] || def) || def;
const runs = arg('--runs', 10);
const liveJobs = Math.min(arg('--jobs', 50), 50); // one page of the list

const f = await webFixture(10_000, liveJobs);
const browser = await launchChromium();

// 1. Cold open: navigation start (the token link, its redirect included) → first row in the DOM,
// timed inside the page by an observer injected before any of the page's own script (asking from
// outside adds the driver's polling, 0.3–1 s on a loaded machine). The reference, in the same run:
// a fresh profile opening a one-line page from a bare Node server (what Chromium itself costs now).
const firstSeen = (selector: string) => `(() => { window.__firstAt = null; new MutationObserver((_, o) => {
  if (document.querySelector(${JSON.stringify(selector)})) { window.__firstAt = performance.now(); o.disconnect(); } }).observe(document, { subtree: true, childList: true }); })();`;
const bare = createServer((_q, r) => r.end('<!doctype html><p id="x">hello</p>'));
await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/`;
const open: { inPageMs: number; wallMs: number }[] = [];
const floor: number[] = [];
for (let i = 0; i < runs; i++) {
  const ref = await browser.newContext();
  await ref.addInitScript(firstSeen('#x'));
  const rp = await ref.newPage();
  await rp.goto(bareUrl);
  await rp.locator('#x').waitFor();
  floor.push(await rp.evaluate('window.__firstAt') as number);
  await ref.close();
  const ctx = await browser.newContext();
  await ctx.addInitScript(firstSeen('tr[data-job]'));
  const page = await ctx.newPage();
  const t0 = Date.now();
  await page.goto(f.web.link);
  await page.locator('tr[data-job]').first().waitFor();
  const inPage = await page.evaluate('window.__firstAt') as number;
  open.push({ inPageMs: inPage, wallMs: Date.now() - t0 });
  await ctx.close();
}

// 2. Live: each pending job cancelled in the database; when does its row show it?
const ctx = await browser.newContext();
const page = await ctx.newPage();
await page.goto(f.web.link);
await page.locator('tr[data-job]').nth(liveJobs - 1).waitFor();
await page.evaluate(`window.__seenAt = {};
  new MutationObserver(() => {
    for (const b of document.querySelectorAll('tr[data-job] .badge[data-status="cancelled"]')) {
      const id = b.closest('tr').dataset.job;
      if (!(id in window.__seenAt)) window.__seenAt[id] = Date.now();
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });`);
const store = storeAs(f.db, f.userId, 1);
const ids = ((await f.db.admin.query("select job_id from public.jobs where status = 'pending' order by created_at desc")).rows as { job_id: string }[]).map((r) => r.job_id);
const changedAt: Record<string, number> = {};
for (const id of ids) {
  await store.requestCancel(id);
  changedAt[id] = Date.now(); // after the commit: the change is in the database
  await sleep(150 + Math.random() * 100);
}
await sleep(2000);
const seenAt = await page.evaluate('window.__seenAt') as Record<string, number>;
const lat = ids.map((id) => (seenAt[id] ?? Infinity) - changedAt[id]!);
await store.close();
await browser.close();
bare.close();
await f.close();

console.log(JSON.stringify({
  bare_page_reference: { in_page_ms_median: round(median(floor)) },
  cold_open: { runs, in_page_ms_median: round(median(open.map((o) => o.inPageMs))), in_page_ms_max: round(Math.max(...open.map((o) => o.inPageMs))), wall_ms_median: round(median(open.map((o) => o.wallMs))) },
  live: { jobs: ids.length, seen: lat.filter(Number.isFinite).length, p50_ms: round(median(lat)), p95_ms: round(percentile(lat, 95)), max_ms: round(Math.max(...lat)) },
}));
process.exit(0);
