// A member's `npm test` (not root, no CI=true) skips only what truly needs root, each saying so and
// why (issue 15). Reading every test file: a skip about root goes through requireRoot, checked
// before the parts the test needs (so the reason is "root", not a part a member's PATH does not
// show); no other skip decides on the user id; a skip reason written out by hand is one of the few
// below, each with why it cannot be a requirePart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, repoRoot, requireRoot } from './helpers/required.js';

const testDir = join(repoRoot, 'test');
const files = [
  ...readdirSync(testDir).filter((f) => f.endsWith('.ts')).map((f) => join('test', f)),
  ...readdirSync(join(testDir, 'helpers')).filter((f) => f.endsWith('.ts')).map((f) => join('test', 'helpers', f)),
].filter((f) => !f.endsWith('skip-reasons.test.ts'));
const source = new Map(files.map((f) => [f, readFileSync(join(repoRoot, f), 'utf8')]));

/** The text of each call to `name(...)`, split into its top-level arguments (strings and nesting respected). */
function calls(text: string, name: string): string[][] {
  const found: string[][] = [];
  for (let at = text.indexOf(`${name}(`); at >= 0; at = text.indexOf(`${name}(`, at + 1)) {
    if (/[\w.]/.test(text[at - 1] ?? '')) continue; // part of a longer name
    const args: string[] = [];
    let depth = 0;
    let quote: string | null = null;
    let current = '';
    for (let i = at + name.length + 1; i < text.length; i++) {
      const c = text[i]!;
      if (quote) {
        current += c;
        if (c === '\\') current += text[++i] ?? '';
        else if (c === quote) quote = null;
        continue;
      }
      if (c === "'" || c === '"' || c === '`') quote = c;
      if ('([{'.includes(c)) depth++;
      if (')]}'.includes(c)) {
        if (depth === 0) {
          args.push(current.trim());
          break;
        }
        depth--;
      }
      if (c === ',' && depth === 0) {
        args.push(current.trim());
        current = '';
      } else current += c;
    }
    found.push(args);
  }
  return found;
}

const ABOUT_ROOT = /\broot\b|getuid|isRoot|uid\s*[!=]==\s*0/;

test('a skip about root is requireRoot: what a part is and whether it is there never mention root', () => {
  const offenders: string[] = [];
  for (const [file, text] of source) {
    if (file.endsWith(join('helpers', 'required.ts'))) continue; // requireRoot itself
    for (const [name = '', present = ''] of calls(text, 'requirePart')) {
      if (ABOUT_ROOT.test(name) || ABOUT_ROOT.test(present)) offenders.push(`${file}: requirePart(${name}, ${present}, …)`);
    }
  }
  assert.deepEqual(offenders, [], 'use requireRoot(why) || requirePart(…) so a member\'s run says it needs root');
});

test('every requireRoot says why, and comes before the parts it is combined with', () => {
  const uses: string[] = [];
  for (const [file, text] of source) {
    for (const [why = ''] of calls(text, 'requireRoot')) {
      if (file.endsWith(join('helpers', 'required.ts'))) continue;
      uses.push(file);
      assert.match(why, /^['"`].{10,}['"`]$/s, `${file}: requireRoot needs a reason a member can read, got ${why}`);
    }
    // `requirePart(…) || requireRoot(…)` would report a part a member cannot see before root
    assert.doesNotMatch(text, /requirePart\([^;]*\|\|\s*requireRoot\(/, `${file}: check root first`);
  }
  // the files whose tests need root (creating Linux users, mounting, slurmd, a root agent's database)
  for (const f of ['gpu-host-locks', 'gpu-scheduling', 'install', 'jobs-full-disk', 'slurm-cluster', 'slurm-jobs', 'trust-host', 'trust-jupyter-link']) {
    assert.ok(uses.includes(join('test', `${f}.test.ts`)), `${f}.test.ts skips through requireRoot`);
  }
});

test('no other skip decides on the user id', () => {
  const offenders: string[] = [];
  for (const [file, text] of source) {
    text.split('\n').forEach((line, i) => {
      // running as root may need a tool to drop privileges (setpriv), which is not a skip for a member
      const asRootNeeds = /getuid\?\.\(\) === 0 \? requirePart\(/.test(line) && /: false;?\s*$/.test(line);
      if (/skip/i.test(line) && /getuid|isRoot/.test(line) && !asRootNeeds) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
});

// A reason written out by hand, not through requirePart/requireRoot: allowed only here, with why.
const HAND_WRITTEN: Record<string, string> = {
  'test/supabase-live.test.ts': 'a real Supabase project (its URL and keys): nothing here can stand in for one, so it skips even under CI',
  'test/viz.test.ts': '"the <name> machine is not in this build yet": never skips now that both machines are built',
};

test('hand-written skip reasons are only the allowed ones', () => {
  const offenders: string[] = [];
  for (const [file, text] of source) {
    text.split('\n').forEach((line, i) => {
      const literal = /\bskip\w*\s*[:=][^;]*\?\s*[\w.]+\s*:\s*['"`]|\bskip:\s*['"`]/.test(line);
      if (literal && !(file in HAND_WRITTEN)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, [], `use requirePart (a missing part) or requireRoot; else add the file to HAND_WRITTEN with why`);
});

test('requireRoot: no skip as root; as a member, a reason that names root and why', () => {
  const reason = requireRoot('creates Linux users');
  if (isRoot) assert.equal(reason, false);
  else assert.equal(reason, 'needs root: creates Linux users (run the tests as root, as .ci/run does)');
  assert.throws(() => requireRoot(' '), /say why/);
});
