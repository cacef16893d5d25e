// Script scan benchmark: scanScripts against GNU find with the same pruning, on a synthetic home
// of about 90,000 files (generated once, cached under os.tmpdir()).
//   node --import tsx bench/scan.ts [--n 7] [--fresh]
// Both run warm (page cache filled by a warm-up round); runs alternate so drift hits both alike.
import { createSyntheticHome } from './synthetic-home.js';
import { findArgsFor, runFind } from './lib/find.js';
import { scanScripts, listScripts, type ScanOptions, type KnownFile } from '../src/services/scanner/scan.js';

const argv = process.argv.slice(2);
const nAt = argv.indexOf('--n');
const N = (nAt >= 0 ? Number(argv[nAt + 1]) : 7) || 7;
const TARGET_RATIO = 2;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number): number => Math.round(x * 10) / 10;

const t0 = performance.now();
const synth = await createSyntheticHome({ fresh: argv.includes('--fresh') });
const genMs = performance.now() - t0;
const opts: ScanOptions = { home: synth.home, logDir: synth.logDir, agentDir: synth.agentDir };

// find with the same pruning: any folder with an excluded name, plus the two agent folders.
const findArgs = findArgsFor(synth);
async function runScan(known?: ReadonlyMap<string, KnownFile>): Promise<{ ms: number; paths: string[]; dirs: number; warnings: string[]; truncated?: string; known: Map<string, KnownFile> }> {
  const t = performance.now();
  const r = await scanScripts({ ...opts, known });
  const ms = performance.now() - t;
  // What the database would hand back after a sync: the next scan's `known`.
  const next = new Map(r.files.map((f) => [f.path, { size: f.size, mtimeMs: Date.parse(f.mtime), kernel: f.kernel ?? null }]));
  return { ms, paths: r.files.map((f) => f.path), dirs: r.dirsScanned, warnings: r.warnings, truncated: r.truncated, known: next };
}
async function runList(): Promise<number> {
  const t = performance.now();
  await listScripts(opts);
  return performance.now() - t;
}
// For context: find that also reports size and mtime, as our scan does (it stats every script).
const findStatArgs = [...findArgs.slice(0, -1), '-printf', '%s %T@ %p\\0'];

// Warm-up rounds (page cache, JIT), not counted; the first is also the correctness check and
// shows what the first scan in a fresh process costs (the cron `tick` case).
const warm = await runScan();
const found = runFind(findArgs).out.split('\0').filter(Boolean);
for (let i = 0; i < 2; i++) {
  await runScan(warm.known);
  await runList();
  runFind(findStatArgs);
}
const ours = new Set(warm.paths);
const theirs = new Set(found);
const onlyOurs = [...ours].filter((p) => !theirs.has(p));
const onlyFind = [...theirs].filter((p) => !ours.has(p));
const same = onlyOurs.length === 0 && onlyFind.length === 0;

const scanMs: number[] = [];
const findMs: number[] = [];
const steadyMs: number[] = [];
const listMs: number[] = [];
const findStatMs: number[] = [];
for (let i = 0; i < N; i++) {
  scanMs.push((await runScan()).ms); // reads every notebook's kernel
  findMs.push(runFind(findArgs).ms);
  steadyMs.push((await runScan(warm.known)).ms); // a later sync: unchanged notebooks not reopened
  listMs.push(await runList());
  findStatMs.push(runFind(findStatArgs).ms);
}

const summary = {
  bench: 'scan',
  node: process.version,
  home: synth.home,
  totalFiles: synth.totalFiles,
  expectedScripts: synth.expectedScripts,
  found: warm.paths.length,
  foundByFind: found.length,
  sameSet: same,
  dirsScanned: warm.dirs,
  warnings: warm.warnings.length,
  n: N,
  scanMedianMs: round(median(scanMs)),
  findMedianMs: round(median(findMs)),
  ratio: Math.round((median(scanMs) / median(findMs)) * 100) / 100,
  steadyScanMedianMs: round(median(steadyMs)),
  steadyRatio: Math.round((median(steadyMs) / median(findMs)) * 100) / 100,
  listOnlyMedianMs: round(median(listMs)),
  listRatio: Math.round((median(listMs) / median(findMs)) * 100) / 100,
  findWithStatMedianMs: round(median(findStatMs)),
  firstScanMs: round(warm.ms),
  scanRunsMs: scanMs.map(round),
  findRunsMs: findMs.map(round),
  generatedMs: synth.cached ? 0 : Math.round(genMs),
  cachedHome: synth.cached,
};

console.log(`synthetic home: ${synth.home} (${synth.totalFiles} files${synth.cached ? ', cached' : `, generated in ${Math.round(genMs)} ms`})`);
console.log(`scripts: ours ${warm.paths.length}, find ${found.length}, expected ${synth.expectedScripts}, same set: ${same}`);
if (!same) {
  console.log('only ours:', onlyOurs.slice(0, 10));
  console.log('only find:', onlyFind.slice(0, 10));
}
console.log(`folders read by our scan: ${warm.dirs}; warnings: ${warm.warnings.length}`);
console.log(`median of ${N}: scanScripts ${summary.scanMedianMs} ms | find ${summary.findMedianMs} ms | ratio ${summary.ratio} (target <= ${TARGET_RATIO})`);
console.log(`           scanScripts with known inventory ${summary.steadyScanMedianMs} ms (ratio ${summary.steadyRatio}) | listing only ${summary.listOnlyMedianMs} ms (ratio ${summary.listRatio})`);
console.log(`           find -printf size+mtime ${summary.findWithStatMedianMs} ms | first scan in this process ${summary.firstScanMs} ms`);
console.log(JSON.stringify(summary));
if (!same || warm.paths.length !== synth.expectedScripts || warm.truncated) process.exitCode = 1;
