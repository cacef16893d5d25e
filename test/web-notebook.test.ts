// A notebook for the page: its parameters cell as form fields (read back by the runner's own
// parser), and its outputs as one HTML document in which nothing but an output's own HTML is
// markup (and that is shown only in the sandboxed frame, see web-security.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notebookParams } from '../src/services/web/notebook-form.js';
import { notebookHtml } from '../src/services/web/notebook-html.js';
import { parseNotebookParams, PyLiteral } from '../src/services/runner/notebook-params.js';

const nb = (cells: unknown[]) => JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells });

test('parameters: top-level assignments with their kind, default and comment; blocks and other cells ignored', () => {
  const text = nb([
    { cell_type: 'code', metadata: {}, source: 'lr = 5' },
    { cell_type: 'code', metadata: { tags: ['parameters'] }, source: [
      'lr = 0.001  # learning rate\n', 'epochs: int = 10\n', 'name = "run # 1"\n', "tag = 'a'\n", 'debug = False\n',
      'layers = [64, 64]\n', 'if debug:\n', '    epochs = 1\n', '# a comment\n',
    ] },
  ]);
  const params = notebookParams(text, 'x.ipynb');
  assert.deepEqual(params.map((p) => [p.name, p.kind, p.value, p.comment]), [
    ['lr', 'float', '0.001', 'learning rate'], ['epochs', 'int', '10', null], ['name', 'str', 'run # 1', null],
    ['tag', 'str', 'a', null], ['debug', 'bool', 'false', null], ['layers', 'other', '[64, 64]', null],
  ]);
  // What the form sends back, the runner reads with the same types.
  const back = parseNotebookParams("--lr 0.01 --epochs 3 --name 'run 2' --debug true");
  assert.deepEqual(back, { lr: new PyLiteral('0.01'), epochs: new PyLiteral('3'), name: 'run 2', debug: true });
  assert.deepEqual(notebookParams(nb([{ cell_type: 'code', metadata: {}, source: 'a = 1' }]), 'y.ipynb'), []);
  assert.throws(() => notebookParams('{not json', 'z.ipynb'), /not a valid notebook/);
});

test('outputs: text and tracebacks escaped (colours dropped), images as data: images, HTML kept for the sandbox', () => {
  const html = notebookHtml(JSON.parse(nb([
    { cell_type: 'markdown', metadata: {}, source: '# <img src=x onerror=alert(1)>' },
    { cell_type: 'code', metadata: {}, execution_count: 3, source: 'print("<b>")', outputs: [
      { output_type: 'stream', name: 'stdout', text: ['<b>not bold</b>\n'] },
      { output_type: 'error', ename: 'ValueError', evalue: 'x', traceback: ['\u001b[0;31mValueError\u001b[0m: <bad>'] },
      { output_type: 'display_data', data: { 'image/png': 'iVBORw0KGgo=\n', 'text/plain': '<Figure>' } },
      { output_type: 'display_data', data: { 'image/svg+xml': '<svg onload="alert(1)"></svg>' } },
      { output_type: 'execute_result', data: { 'text/html': '<table><tr><td>1</td></tr></table>' } },
    ] },
  ])), { title: '<t>' });
  assert.ok(html.includes('<title>&lt;t&gt;</title>'));
  assert.ok(html.includes('# &lt;img src=x onerror=alert(1)&gt;'));
  assert.ok(html.includes('&lt;b&gt;not bold&lt;/b&gt;'));
  assert.ok(html.includes('ValueError: &lt;bad&gt;') && !html.includes('\u001b'));
  assert.ok(html.includes('<img alt="" src="data:image/png;base64,iVBORw0KGgo=">'));
  assert.ok(html.includes(`src="data:image/svg+xml;base64,${Buffer.from('<svg onload="alert(1)"></svg>').toString('base64')}"`), 'SVG only as an image');
  assert.ok(html.includes('<table><tr><td>1</td></tr></table>'));
  assert.ok(html.includes('<span class="n">[3]</span>'));
});
