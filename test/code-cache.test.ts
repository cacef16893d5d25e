// dist/tick.cjs runs the tick's bundle (dist/tick-main.cjs) from a V8 code cache in the member's
// cache folder (src/code-cache.ts). V8 trusts a cache it is given: it checks the source's length,
// not its text. These tests plant a cache compiled from other code of the same length and check
// that it runs only when it is a file the member alone could have written, and that a missing,
// stale or broken cache never changes what a tick does.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { useFreshDatabase } from './helpers/fresh-db.js';
import { AgentEnv } from './helpers/agent-env.js';
import { codeCacheName } from '../src/code-cache.js';
import { packageRoot } from '../src/services/package-info.js';

const db = await useFreshDatabase();
const dist = join(packageRoot, 'dist');
const bundle = join(dist, 'tick-main.cjs');
const SUMMARY = /^claimed \d+, stepped \d+, running \d+, waiting \d+\n$/;

let a: AgentEnv;
before(async () => {
  a = new AgentEnv(db, 'cachy');
  assert.equal((await a.cli(['tick'])).code, 0); // the member's row and agent id: not what is tested
});

/** A member's own cache folder for one test, and the cache file the real bundle would use in it. */
function cacheHome(): { env: NodeJS.ProcessEnv; dir: string; file: string } {
  const xdg = mkdtempSync(join(tmpdir(), 'lab-code-cache-'));
  const dir = join(xdg, 'lab-job-agent');
  return { env: { XDG_CACHE_HOME: xdg }, dir, file: join(dir, codeCacheName(bundle, statSync(bundle))) };
}

async function tick(env: NodeJS.ProcessEnv): Promise<string> {
  const r = await a.cli(['tick'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'a tick prints nothing on stderr (no warning about vm either)');
  return r.stdout;
}

/**
 * A cache compiled from the tick's bundle with its summary line changed to PWNED, the same length:
 * what another user who can write the member's cache folder would plant.
 */
async function plantedCache(): Promise<Buffer> {
  // a copy of the agent whose bundle says PWNED (its package.json, migrations and packages as they are)
  const evil = mkdtempSync(join(tmpdir(), 'lab-code-cache-evil-'));
  copyFileSync(join(packageRoot, 'package.json'), join(evil, 'package.json'));
  for (const dir of ['supabase', 'node_modules']) symlinkSync(join(packageRoot, dir), join(evil, dir));
  mkdirSync(join(evil, 'dist'));
  const text = readFileSync(bundle, 'utf8');
  assert.ok(text.includes('`claimed ${'), 'the summary line is in the bundle');
  const changed = text.replace('`claimed ${', '`PWNED!! ${');
  assert.equal(changed.length, text.length);
  writeFileSync(join(evil, 'dist', 'tick-main.cjs'), changed);
  copyFileSync(join(dist, 'tick.cjs'), join(evil, 'dist', 'tick.cjs'));
  const home = cacheHome();
  const out = await a.node(join(evil, 'dist', 'tick.cjs'), [], home.env);
  assert.match(out.stdout, /^PWNED!! /, out.stderr);
  const [made] = readdirSync(home.dir);
  assert.ok(made, 'the changed bundle left its cache');
  return readFileSync(join(home.dir, made));
}

describe('the tick\'s code cache', () => {
  test('the first tick writes it (0600, in a 0700 folder); the next ticks use it as it is', async () => {
    const home = cacheHome();
    assert.match(await tick(home.env), SUMMARY);
    assert.equal(statSync(home.dir).mode & 0o777, 0o700);
    const st = statSync(home.file);
    assert.equal(st.mode & 0o777, 0o600);
    assert.ok(st.size > 10_000, `a cache of ${st.size} bytes`);
    const bytes = readFileSync(home.file);
    assert.match(await tick(home.env), SUMMARY);
    assert.match(await tick(home.env), SUMMARY);
    // V8 accepted it: a refused cache is written again, and a new one differs from the first
    assert.equal(statSync(home.file).mtimeMs, st.mtimeMs);
    assert.deepEqual(readFileSync(home.file), bytes);
    assert.deepEqual(readdirSync(home.dir), [codeCacheName(bundle, statSync(bundle))]);
  });

  test('a broken cache is replaced, and a stale one of an earlier build removed; the tick runs as always', async () => {
    const home = cacheHome();
    mkdirSync(home.dir, { recursive: true, mode: 0o700 });
    writeFileSync(home.file, 'not a V8 code cache', { mode: 0o600 });
    const stale = join(home.dir, 'tick-main-1-2-3-4-node20.0.0-x64.v8cache');
    writeFileSync(stale, 'an earlier build', { mode: 0o600 });
    assert.match(await tick(home.env), SUMMARY);
    assert.ok(readFileSync(home.file).length > 10_000, 'replaced by a real cache');
    assert.equal(existsSync(stale), false);
  });

  test('a planted cache runs only if the member alone could have written it: group-writable, another owner\'s, a symlink are ignored', async () => {
    const planted = await plantedCache();
    // The control: the same cache as the member's own file is run, which is why the checks matter.
    const own = cacheHome();
    mkdirSync(own.dir, { recursive: true, mode: 0o700 });
    writeFileSync(own.file, planted, { mode: 0o600 });
    assert.match(await tick(own.env), /^PWNED!! /, 'V8 ran the planted code: the test plants what it means to');

    const groupWritable = cacheHome();
    mkdirSync(groupWritable.dir, { recursive: true, mode: 0o700 });
    writeFileSync(groupWritable.file, planted);
    chmodSync(groupWritable.file, 0o620);
    assert.match(await tick(groupWritable.env), SUMMARY);

    const linked = cacheHome();
    mkdirSync(linked.dir, { recursive: true, mode: 0o700 });
    const elsewhere = join(mkdtempSync(join(tmpdir(), 'lab-code-cache-target-')), 'cache');
    writeFileSync(elsewhere, planted, { mode: 0o600 });
    symlinkSync(elsewhere, linked.file);
    assert.match(await tick(linked.env), SUMMARY);

    const openFolder = cacheHome();
    mkdirSync(openFolder.dir, { recursive: true });
    chmodSync(openFolder.dir, 0o777);
    writeFileSync(openFolder.file, planted, { mode: 0o600 });
    assert.match(await tick(openFolder.env), SUMMARY, 'a folder others can write is not used at all');

    if (process.getuid?.() === 0) {
      const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
      const theirs = cacheHome();
      mkdirSync(theirs.dir, { recursive: true, mode: 0o700 });
      writeFileSync(theirs.file, planted, { mode: 0o600 });
      chownSync(theirs.file, nobody, nobody);
      assert.match(await tick(theirs.env), SUMMARY, 'a cache file another user owns is not used');
    }
  });

  test('a home that does not exist (a mount that is down) is not made by the cache: it stays missing', async () => {
    const home = join(mkdtempSync(join(tmpdir(), 'lab-code-cache-nohome-')), 'home');
    assert.match(await tick({ HOME: home, LAB_DATA_DIR: join(home, '..', 'data') }), SUMMARY);
    const help = await a.cli(['--help'], { HOME: home });
    assert.equal(help.code, 0, help.stderr);
    assert.equal(existsSync(home), false);
  });

  test('no usable cache folder (XDG_CACHE_HOME is a file): the tick runs without one', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lab-code-cache-file-')), 'not-a-folder');
    writeFileSync(file, '');
    assert.match(await tick({ XDG_CACHE_HOME: file }), SUMMARY);
  });

  test('importPackage() inside the bundle works through the launcher, from the cache too (where Node 20 loses import())', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-code-cache-import-'));
    copyFileSync(join(dist, 'tick.cjs'), join(dir, 'tick.cjs'));
    writeFileSync(join(dir, 'tick-main.cjs'), "globalThis[Symbol.for('lab-job-agent.import')]('node:os').then((os) => console.log(typeof os.cpus, __filename));\n");
    const home = cacheHome();
    for (let i = 0; i < 2; i++) {
      const r = await a.node(join(dir, 'tick.cjs'), [], home.env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `function ${join(dir, 'tick-main.cjs')}\n`);
      assert.equal(r.stderr, '');
    }
    assert.equal(readdirSync(home.dir).length, 1, 'the second run was from the cache the first wrote');
  });
});
