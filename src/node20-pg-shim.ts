// pg decides when it is first loaded whether it runs in a Cloudflare Worker; on Node 20, which has
// no global `navigator`, it probes by constructing a fetch Response, which loads undici and
// compiles its WebAssembly HTTP parser: ~20 ms of CPU and several MiB in every cron tick. This
// stand-in `navigator`, as Node 21 and later have it ({ userAgent: 'Node.js/<major>' }), skips
// that probe. It stays for the whole process: commands load pg lazily (the bundle's chunks), long
// after start-up, and code that runs on Node 22 (supabase-js among it) already meets a navigator.
const g = globalThis as { navigator?: unknown };
if (g.navigator === undefined) g.navigator = { userAgent: `Node.js/${process.versions.node.split('.')[0]}` };
