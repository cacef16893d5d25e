// Cold open of the dashboard (issue 14: token link → job list rendered ≤ 1 s on loopback, cold
// browser cache), measured in the browser. Each run opens the link the way a member does — a new
// tab straight at the address, in a fresh profile (empty cache, no cookie) — with Debian's Chromium
// over the DevTools protocol and nothing injected into the page. The time is Element Timing's
// paint time of the first job row (ms from navigation start, the token's redirect included).
// Reference, alternating in the same run and opened the same way: a one-line page from a bare
// Node server (what Chromium itself costs on this machine now: a new tab, a renderer, a paint).
// Run: npm run build && node --import tsx bench/web-cold-open.ts [--runs 15] [--jobs 10000]
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { CdpBrowser, paintedExpression } from './lib/cdp-browser.js';
import { webFixture } from './lib/web-fixture.js';
import { median, percentile, round } from './lib/stats.js';

const arg = (name: string, def: number) => Number(process.argv[process.argv.indexOf(name) + 1] || def) || def;
const runs = arg('--runs', 15);
const f = await webFixture(arg('--jobs', 10_000), 0);
const bare = createServer((_q, r) => r.end('<!doctype html><p elementtiming="bare">hello</p>'));
await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/`;
const browser = await CdpBrowser.launch();

interface Painted { painted: number; responseEnd: number; domContentLoaded: number; firstContentfulPaint: number | null }
const load0 = loadavg()[0]!;
const page: Painted[] = [];
const reference: number[] = [];
// One of each first, not counted: Chromium's own first tab (its caches, the zygote) is not the page's cost.
await browser.coldOpen(bareUrl, bareUrl, paintedExpression('bare'));
await browser.coldOpen(f.web.link, f.web.origin, paintedExpression('first-job-row'));
for (let i = 0; i < runs; i++) {
  reference.push((await browser.coldOpen<Painted>(bareUrl, bareUrl, paintedExpression('bare'))).painted);
  page.push(await browser.coldOpen<Painted>(f.web.link, f.web.origin, paintedExpression('first-job-row')));
}
const load1 = loadavg()[0]!;
await browser.close();
bare.close();
await f.close();

const stat = (xs: number[]) => ({ median: round(median(xs)), p90: round(percentile(xs, 90)), max: round(Math.max(...xs)) });
console.log(JSON.stringify({
  runs, load_avg: [round(load0, 1), round(load1, 1)],
  bare_page_painted_ms: stat(reference),
  first_job_row_painted_ms: stat(page.map((p) => p.painted)),
  over_bare_ms_median: round(median(page.map((p, i) => p.painted - reference[i]!))),
  html_received_ms_median: round(median(page.map((p) => p.responseEnd))),
  dom_content_loaded_ms_median: round(median(page.map((p) => p.domContentLoaded))),
}));
process.exit(0);
