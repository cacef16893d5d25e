// pg decides at import time whether it runs in a Cloudflare Worker; on Node 20, which has no
// global `navigator`, it probes by constructing a fetch Response, which loads undici: ~20 ms of CPU
// in every cron tick. A stand-in `navigator` for the length of the imports skips that probe;
// removeNavigatorShim() takes it away again before anything else (supabase-js) could see it.
const g = globalThis as { navigator?: unknown };
const installed = g.navigator === undefined;
if (installed) g.navigator = { userAgent: 'Node.js' };

export function removeNavigatorShim(): void {
  if (installed) delete g.navigator;
}
