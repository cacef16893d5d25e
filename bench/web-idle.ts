// `lab-agent web` when nothing happens: CPU share and RSS from /proc over a window, first with no
// page open, then with one page open (its event stream connected, the fallback poll running).
// Reference in the same run: a bare Node.js process that only waits (the floor of any server).
// Run: npm run build && node --import tsx bench/web-idle.ts [--seconds 60]
import { spawn } from 'node:child_process';
import { sleep } from '../test/helpers/agent-env.js';
import { launchChromium } from '../test/helpers/web-env.js';
import { cpuSeconds, rssMiB } from './lib/proc.js';
import { round } from './lib/stats.js';
import { webFixture } from './lib/web-fixture.js';

const arg = (name: string, def: number) => Number(process.argv[process.argv.indexOf(name) + 1] || def) || def;
const seconds = arg('--seconds', 60);

async function watch(pid: number): Promise<{ cpu_percent: number; max_rss_mib: number }> {
  const cpu0 = cpuSeconds(pid);
  let maxRss = 0;
  for (let s = 0; s < seconds; s++) {
    await sleep(1000);
    maxRss = Math.max(maxRss, rssMiB(pid));
  }
  return { cpu_percent: round(((cpuSeconds(pid) - cpu0) / seconds) * 100, 2), max_rss_mib: round(maxRss) };
}

const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)']);
await sleep(1000);
const floor = await watch(bare.pid!);
bare.kill();

const f = await webFixture(10_000);
const pid = f.web.child.pid!;
await sleep(3000); // start-up is not idle time
const noPage = await watch(pid);
const browser = await launchChromium();
const page = await (await browser.newContext()).newPage();
await page.goto(f.web.link);
await page.locator('tr[data-job]').first().waitFor();
await sleep(3000);
const onePage = await watch(pid);
await browser.close();
await f.close();
console.log(JSON.stringify({ seconds, bare_node: floor, web_idle_no_page: noPage, web_idle_one_page_open: onePage }));
process.exit(0);
