import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { parseJobArgs } from '../src/services/runner/args.js';
import { JobInputError } from '../src/services/runner/errors.js';

const cases: Array<[string | null | undefined, string[]]> = [
  [null, []],
  [undefined, []],
  ['', []],
  ['   \n\t ', []],
  ['a b  c', ['a', 'b', 'c']],
  ['--epochs 10 --lr=0.1', ['--epochs', '10', '--lr=0.1']],
  [`'hello world' x`, ['hello world', 'x']],
  [`"hello world" x`, ['hello world', 'x']],
  [`''`, ['']],
  [`"" a`, ['', 'a']],
  [`a'b c'd`, ['ab cd']],
  [`"it's"`, ["it's"]],
  [`'say "hi"'`, ['say "hi"']],
  [`"a \\"q\\" b"`, ['a "q" b']],
  [`"back\\\\slash"`, ['back\\slash']],
  [`"keep \\n as is"`, ['keep \\n as is']], // inside "", only \ " $ ` newline are escapable
  [`'no \\ escapes'`, ['no \\ escapes']],
  [`a\\ b`, ['a b']],
  [`\\'x`, ["'x"]],
  ['a\\\nb', ['ab']], // backslash-newline continues the line
  ['$HOME *.py ~ `date`', ['$HOME', '*.py', '~', '`date`']], // no expansion
  ['a|b ; c > d #e', ['a|b', ';', 'c', '>', 'd', '#e']], // no operators, no comments
  ['ünï cødé 日本', ['ünï', 'cødé', '日本']],
  // JSON forms
  ['["a b", 1, true, null, {"k": 1}, [2]]', ['a b', '1', 'true', 'null', '{"k":1}', '[2]']],
  [' {"epochs": 10, "verbose": true, "quiet": false, "x": null, "tag": ["a", "b"], "name": "my run"} ', ['--epochs', '10', '--verbose', '--tag', 'a', '--tag', 'b', '--name', 'my run']],
  ['{"-n": 5, "cfg": {"a": 1}}', ['-n', '5', '--cfg', '{"a":1}']],
  [`'[a-z]*' x`, ['[a-z]*', 'x']], // quoted: text, not JSON
  ['"just a json string"', ['just a json string']],
];

test('parseJobArgs splits like a POSIX shell without expansion, or reads JSON', () => {
  for (const [input, expected] of cases) {
    assert.deepEqual(parseJobArgs(input), expected, `input: ${JSON.stringify(input)}`);
  }
});

test('parseJobArgs agrees with a real /bin/sh on quoting', () => {
  const samples = [`a 'b c' "d \\"e\\" f" g\\ h`, `"x'y" 'p"q' r\\\\s`, `''  "" t`, `"\\$x \\\` \\a"`];
  for (const s of samples) {
    // sh prints each word NUL-terminated; single-quote expansion chars are not in the samples
    const out = execFileSync('/bin/sh', ['-c', `for w in ${s}; do printf '%s\\0' "$w"; done`], { encoding: 'utf8' });
    const shWords = out.split('\0').slice(0, -1);
    assert.deepEqual(parseJobArgs(s), shWords, s);
  }
});

test('parseJobArgs rejects unbalanced quotes and a trailing backslash with the position', () => {
  const bad: Array<[string, RegExp]> = [
    [`a 'b c`, /unbalanced single quote.*position 3/],
    [`--name "my run`, /unbalanced double quote.*position 8/],
    [`"a \\"`, /unbalanced double quote.*position 1/],
    [`x y\\`, /lone backslash at position 4/],
    // Looks like JSON but is not: an error, never split as shell words.
    ['[a-z]* x', /start with "\[" but are not valid JSON .*quote the first word/],
    ['{"epochs": 10,}', /start with "\{" but are not valid JSON/],
  ];
  for (const [input, msg] of bad) {
    assert.throws(() => parseJobArgs(input), (e: unknown) => e instanceof JobInputError && msg.test(e.message), input);
  }
});
