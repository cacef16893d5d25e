// Stack traces that name src/*.ts, paid for only when a stack is formatted. `node
// --enable-source-maps` reads and parses the map of every module it loads, at start-up: ~10 ms of
// CPU and ~1 MiB in every cron tick, which almost never formats a stack (BENCHMARKS.md, issue 12).
// Here the bundles' frames (dist/cli-main.cjs, dist/tick-main.cjs) are mapped when an
// error's `stack` is first read: the map of a file is read then, once per process. Enabling Node's own source maps
// late (process.setSourceMapsEnabled) would not do: it maps only modules loaded after it.
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Frames of files under dist/ are mapped (this module sits in dist/ once built;
// run from src/ by tsx, whose own maps are in place, there is nothing to map).
const here = import.meta.url;
const dist = here.includes('/dist/') ? here.slice(0, here.lastIndexOf('/dist/') + '/dist/'.length) : null;
const maps = new Map<string, SourceMap | null>();

/** The parsed source map next to a bundle file (its file: URL), or null (none: its frames stay as they are). */
function mapOf(fileUrl: string): SourceMap | null {
  let map = maps.get(fileUrl);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(fileURLToPath(`${fileUrl}.map`), 'utf8')));
    } catch {
      map = null; // a chunk of packages' code only (pg) has no map
    }
    maps.set(fileUrl, map);
  }
  return map;
}

/** A frame's `file:line:column` as src/…ts:line:column where the bundle's map says so. */
function mapFrame(frame: NodeJS.CallSite): string {
  const text = frame.toString();
  const file = frame.getFileName(); // a file: URL in an ES module, a path in dist/tick.cjs
  const line = frame.getLineNumber();
  const column = frame.getColumnNumber();
  const url = file?.startsWith('/') ? pathToFileURL(file).href : file;
  if (!dist || !file || !url?.startsWith(dist) || !line || !column) return text;
  const entry = mapOf(url)?.findEntry(line - 1, column - 1);
  if (!entry || !('originalSource' in entry) || !entry.originalSource) return text;
  // the map names sources relative to itself (../src/… from dist/)
  const source = fileURLToPath(new URL(entry.originalSource, url));
  return text.replace(`${file}:${line}:${column}`, `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`);
}

/** Error.prepareStackTrace's shape: the header V8 writes, then one line per frame. */
function formatStack(error: Error, frames: NodeJS.CallSite[]): string {
  let header: string;
  try {
    header = Error.prototype.toString.call(error);
  } catch {
    header = '<error>';
  }
  const line = (f: NodeJS.CallSite): string => {
    try {
      return mapFrame(f);
    } catch {
      return String(f); // a map that does not parse as expected: the frame as V8 wrote it
    }
  };
  return [header, ...frames.map((f) => `    at ${line(f)}`)].join('\n');
}

/** Maps stacks from now on, unless node runs with --enable-source-maps (its own mapping is then in place). */
export function mapStacksOnDemand(): void {
  if (!process.sourceMapsEnabled) Error.prepareStackTrace = formatStack;
}
