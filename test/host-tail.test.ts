import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, openSync, writeSync, closeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readTail } from '../src/services/host/tail.js';

const dir = mkdtempSync(join(tmpdir(), 'runner-tail-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

test('missing and empty files give an empty string', async () => {
  assert.equal(await readTail(join(dir, 'nope.log')), '');
  assert.equal(await readTail(file('empty.log', '')), '');
});

test('small files: last lines, trailing newline kept, short files whole', async () => {
  const lines = Array.from({ length: 100 }, (_, i) => `line ${i + 1}`);
  const p = file('small.log', lines.join('\n') + '\n');
  assert.equal(await readTail(p, { maxLines: 3 }), 'line 98\nline 99\nline 100\n');
  assert.equal(await readTail(p), lines.slice(50).join('\n') + '\n');
  const noNl = file('nonl.log', 'a\nb\nc');
  assert.equal(await readTail(noNl, { maxLines: 2 }), 'b\nc');
  assert.equal(await readTail(noNl, { maxLines: 10 }), 'a\nb\nc');
  assert.equal(await readTail(file('blank-first.log', '\nx\n'), { maxLines: 5 }), '\nx\n');
  assert.equal(await readTail(file('crlf.log', 'a\r\nb\r\nc\r\n'), { maxLines: 2 }), 'b\r\nc\r\n');
});

test('the byte limit applies when it is the smaller one', async () => {
  const p = file('long-line.log', 'x'.repeat(20_000) + '\nend\n');
  const t = await readTail(p, { maxLines: 50, maxBytes: 100 });
  assert.equal(Buffer.byteLength(t), 100);
  assert.ok(t.endsWith('x\nend\n'));
});

test('a multi-byte UTF-8 character is never split at the cut', async () => {
  // "€" is 3 bytes, "😀" is 4: for every cut position the result must be valid, complete text
  const content = 'a€b😀c€€😀\nzé😀\n';
  const p = file('utf8.log', content);
  const total = Buffer.byteLength(content);
  for (let maxBytes = 1; maxBytes <= total; maxBytes++) {
    const t = await readTail(p, { maxBytes });
    assert.ok(!t.includes('\uFFFD'), `maxBytes ${maxBytes}: ${JSON.stringify(t)}`);
    assert.ok(content.endsWith(t), `maxBytes ${maxBytes}: ${JSON.stringify(t)}`);
    assert.ok(Buffer.byteLength(t) <= maxBytes && Buffer.byteLength(t) > maxBytes - 4);
  }
  // a writer caught mid-character: the incomplete last character is dropped
  const partial = Buffer.concat([Buffer.from('ok ', 'utf8'), Buffer.from('😀', 'utf8').subarray(0, 2)]);
  assert.equal(await readTail(file('partial.log', partial)), 'ok ');
});

test('NUL bytes are removed (PostgreSQL text cannot store them)', async () => {
  assert.equal(await readTail(file('nul.log', 'a\0b\n')), 'ab\n');
});

test('a ~1 GiB sparse file: only the end is read', async () => {
  const p = join(dir, 'huge.log');
  const fd = openSync(p, 'w');
  try {
    // 200 MB of real data written in big buffers, then extended to 1 GiB sparse, then a tail
    const block = Buffer.alloc(8 << 20, 'all work and no play\n');
    for (let i = 0; i < 25; i++) writeSync(fd, block);
    ftruncateSync(fd, 1 << 30);
    const tail = Array.from({ length: 60 }, (_, i) => `final ${i}`).join('\n') + '\n';
    writeSync(fd, Buffer.from(tail), 0, Buffer.byteLength(tail), 1 << 30);
  } finally {
    closeSync(fd);
  }
  const before = process.memoryUsage().rss;
  const t = await readTail(p, { maxLines: 5 });
  assert.equal(t, 'final 55\nfinal 56\nfinal 57\nfinal 58\nfinal 59\n');
  assert.ok(process.memoryUsage().rss - before < 64 << 20, 'did not load the file');
  const bytesOnly = await readTail(p, { maxLines: 1000, maxBytes: 4096 });
  assert.ok(Buffer.byteLength(bytesOnly) <= 4096 && bytesOnly.endsWith('final 59\n'));
});
