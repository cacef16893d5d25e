import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNotebookParams, pythonLiteral, injectParameters, findParametersCell, parseNotebook, inferValue, isPythonNotebook, type Notebook } from '../src/services/runner/notebook-params.js';
import { JobInputError } from '../src/services/runner/errors.js';

const lit = (raw: string): Record<string, string> => Object.fromEntries(Object.entries(parseNotebookParams(raw)).map(([k, v]) => [k, pythonLiteral(v)]));

test('text and JSON-array args become typed parameters', () => {
  assert.deepEqual(lit('--alpha 0.5 --epochs 10 --name "my run" --verbose --big 12345678901234567890 --one 1.0 --neg -3 --e 1e-3 --flag=false --learning-rate=3 --x 007'), {
    alpha: '0.5',
    epochs: '10',
    name: '"my run"',
    verbose: 'True',
    big: '12345678901234567890',
    one: '1.0',
    neg: '-3',
    e: '1e-3',
    flag: 'False',
    learning_rate: '3',
    x: '7',
  });
  assert.deepEqual(lit('["--path", "/tmp/a b", "--n", "2"]'), { path: '"/tmp/a b"', n: '2' });
  assert.deepEqual(lit('--s "it\'s \\"quoted\\" \\\\ ünï"'), { s: '"it\'s \\"quoted\\" \\\\ ünï"' });
});

test('a JSON object is taken as-is', () => {
  assert.deepEqual(lit('{"a": 1, "b": 2.5, "c": "x", "d": true, "e": null, "f": [1, "y"], "g": {"k": false}}'), {
    a: '1',
    b: '2.5',
    c: '"x"',
    d: 'True',
    e: 'None',
    f: '[1, "y"]',
    g: '{"k": False}',
  });
});

test('bad notebook arguments are explained', () => {
  assert.throws(() => parseNotebookParams('positional --a 1'), (e: unknown) => e instanceof JobInputError && /--name value pairs.*"positional"/.test(e.message));
  assert.throws(() => parseNotebookParams('--9lives 1'), (e: unknown) => e instanceof JobInputError && /not a valid Python variable name/.test(e.message));
  assert.throws(() => parseNotebookParams('{"not valid": 1}'), JobInputError);
  assert.throws(() => parseNotebookParams('--a "open'), /unbalanced double quote/);
});

test('inferValue keeps text that is not a number or boolean', () => {
  for (const s of ['abc', '1.2.3', 'inf', 'nan', '0x10', '', '1_000']) assert.equal(inferValue(s), s);
  assert.equal(inferValue('TRUE'), true);
});

test('injectParameters puts a tagged cell right after the parameters cell', () => {
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', language: 'python' } },
    cells: [
      { cell_type: 'markdown', id: 'm1', metadata: {}, source: '# title' },
      { cell_type: 'code', id: 'c1', metadata: { tags: ['parameters'] }, source: 'a = 1', outputs: [], execution_count: null },
      { cell_type: 'code', id: 'c2', metadata: {}, source: 'print(a)', outputs: [], execution_count: null },
    ],
  };
  assert.equal(findParametersCell(nb), 1);
  assert.ok(isPythonNotebook(nb));
  const out = injectParameters(nb, { a: 2, s: 'x' });
  assert.equal(out.cells.length, 4);
  assert.equal(nb.cells.length, 3, 'original untouched');
  const cell = out.cells[2]!;
  assert.deepEqual(cell.metadata, { tags: ['injected-parameters'] });
  assert.equal((cell.source as string[]).join(''), '# Parameters (injected by lab-job-agent)\na = 2\ns = "x"\n');
  assert.match(String(cell.id), /^[0-9a-f]{8}$/);
  const old = injectParameters({ ...nb, nbformat_minor: 4 }, { a: 2 });
  assert.equal(old.cells[2]!.id, undefined, 'no cell ids before nbformat 4.5');
});

test('parseNotebook rejects what is not a notebook', () => {
  assert.throws(() => parseNotebook('not json', 'x.ipynb'), /x.ipynb is not a valid notebook: it is not JSON/);
  assert.throws(() => parseNotebook('{"cells": 1}', 'x.ipynb'), /no "cells" list/);
  assert.throws(() => parseNotebook('{"cells": [], "nbformat": 3}', 'x.ipynb'), /old nbformat 3/);
});
