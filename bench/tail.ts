// Tail of a 1 GiB log: readTail (last 50 lines or 8 KiB, read from the end) against GNU
// `tail -n 50` on the same file in the same run.
// Run: node --import tsx bench/tail.ts [--runs 50]
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTail } from '../src/services/host/tail.js';
import { median, percentile, round } from './lib/stats.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 50) || 50;
const file = join(tmpdir(), 'lab-agent-bench-1gib.log');
const GIB = 1024 ** 3;
if (!existsSync(file) || statSync(file).size !== GIB) {
  // Real lines (not a sparse file), so the tail has something to find.
  const text = 'epoch 0001 step 000001 loss=0.123456 acc=0.987654 lr=0.001 ';
  const line = Buffer.from(text.padEnd(127, 'x') + '\n'); // 128 bytes: whole lines fill each MiB
  const chunk = Buffer.concat(Array.from({ length: Math.ceil((1024 * 1024) / line.length) }, () => line)).subarray(0, 1024 * 1024);
  const fd = openSync(file, 'w');
  for (let i = 0; i < 1024; i++) {
    for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off); // writeSync may write less
  }
  closeSync(fd);
}
const ours: number[] = [];
const gnu: number[] = [];
for (let i = 0; i < runs + 3; i++) {
  let t = performance.now();
  const tail = await readTail(file);
  const a = performance.now() - t;
  t = performance.now();
  execFileSync('tail', ['-n', '50', file]);
  const b = performance.now() - t;
  if (i >= 3) {
    ours.push(a);
    gnu.push(b);
  }
  if (!tail.endsWith('\n') || Buffer.byteLength(tail) > 8192) throw new Error('bad tail');
}
console.log(JSON.stringify({
  file_bytes: statSync(file).size, runs,
  readTail_ms: { median: round(median(ours), 3), p99: round(percentile(ours, 99), 3) },
  gnu_tail_ms: { median: round(median(gnu), 3), p99: round(percentile(gnu, 99), 3) },
}));
