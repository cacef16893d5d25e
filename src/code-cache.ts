// Runs a CommonJS bundle from a V8 code cache kept in the member's own cache folder, so that a
// process that starts 1,440 times a day (cron's tick) does not compile the same 400 kB of code
// each time: compiling dist/tick-main.cjs and the functions an idle tick calls is ~15 % of its CPU
// (BENCHMARKS.md, issue 12). Node 22 has this built in (module.enableCompileCache); Node 20 has
// vm.Script's cachedData, which this uses.
//
// The cache is bytecode that V8 runs as is: it checks only the source's length, the V8 version and
// its flags, not what the source says. So the file must be one nobody else can write: the folder is
// made 0700 and must be ours, and a cache file is used only if it is ours, not a symlink, and not
// writable by group or others (test/code-cache.test.ts plants one that is). Its name says which
// build of the bundle and which Node it is for, so a rebuilt or upgraded agent never runs an old one.
// Any failure here only means no cache: the bundle runs as `node bundle` would run it.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { Script } from 'node:vm';
import { lendImport } from './services/import-package.js';

const SUFFIX = '.v8cache';

/**
 * The member's cache folder for the agent, $XDG_CACHE_HOME/lab-job-agent, else
 * ~/.cache/lab-job-agent, with the folders to make on the way: never home or XDG_CACHE_HOME
 * themselves (a home that is missing, a mount that is down, must stay missing: the script
 * inventory reads an empty home as "every script deleted").
 */
function codeCacheFolders(env: NodeJS.ProcessEnv): string[] | null {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return [join(xdg, 'lab-job-agent')];
  return env.HOME && isAbsolute(env.HOME) ? [join(env.HOME, '.cache'), join(env.HOME, '.cache', 'lab-job-agent')] : null;
}

/**
 * Which build of the bundle and which Node: the file's identity and change time (any rewrite of the
 * file, a rebuild included, changes its ctime, which no tool can set back) rather than a hash of its
 * text, which cost ~5 ms of a tick's CPU here.
 */
export function codeCacheName(bundle: string, st: { dev: number; ino: number; size: number; ctimeMs: number }): string {
  return `${cachePrefix(bundle)}${st.dev}-${st.ino}-${st.size}-${st.ctimeMs}-node${process.versions.node}-${process.arch}${SUFFIX}`;
}

/** What every cache of this bundle's name starts with, whatever its build. */
const cachePrefix = (bundle: string): string => `${basename(bundle, '.cjs')}-`;

/** Ours, and nobody else can write it. */
function trusted(st: { uid: number; mode: number }): boolean {
  return st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
}

/** The cache folder (the last of `folders`), made if missing, when it is ours alone; else null. */
function ownFolder(folders: string[]): string | null {
  const dir = folders.at(-1)!;
  try {
    for (const f of folders) {
      try {
        mkdirSync(f, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    const st = lstatSync(dir);
    return st.isDirectory() && trusted(st) ? dir : null;
  } catch {
    return null; // no home, a read-only one: run without a cache
  }
}

function readTrusted(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined; // none yet, or a symlink
  }
  try {
    const st = fstatSync(fd);
    return st.isFile() && trusted(st) ? readFileSync(fd) : undefined;
  } finally {
    closeSync(fd);
  }
}

/** Writes the cache next to the old ones (temp file, then rename), and removes the bundle's stale ones. */
function keep(dir: string, name: string, prefix: string, data: Buffer): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, join(dir, name));
    for (const old of readdirSync(dir)) {
      if (old !== name && old.startsWith(prefix) && old.endsWith(SUFFIX)) rmSync(join(dir, old), { force: true });
    }
  } catch {
    rmSync(tmp, { force: true });
  }
}

/**
 * Runs `bundle` (a CommonJS file) as Node's loader would, compiled from the member's code cache
 * when there is a usable one; writes one at exit when there was none, or V8 refused it, and the
 * process ends with code 0 (so the cache holds what a normal run compiles, not a failing path).
 */
export function runWithCodeCache(bundle: string, env: NodeJS.ProcessEnv = process.env): void {
  const fd = openSync(bundle, 'r');
  let source: string;
  let name: string;
  try {
    // ASCII (scripts/bundle.mjs checks it), so latin1 reads it exactly, and cheaper than UTF-8.
    // The first line is the shebang, which is no JavaScript inside a function: made a comment, in place.
    source = readFileSync(fd, 'latin1').replace(/^#!/, '//');
    name = codeCacheName(bundle, fstatSync(fd));
  } finally {
    closeSync(fd);
  }
  const folders = codeCacheFolders(env);
  const dir = folders && ownFolder(folders);
  const cachedData = dir ? readTrusted(join(dir, name)) : undefined;
  lendImport((specifier) => import(specifier));
  const script = new Script(Module.wrap(source), { filename: bundle, cachedData });
  if (dir && (!cachedData || script.cachedDataRejected)) {
    process.once('exit', (code) => {
      if (code === 0) keep(dir, name, cachePrefix(bundle), script.createCachedData());
    });
  }
  const mod = new Module(bundle);
  mod.filename = bundle;
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));
}
