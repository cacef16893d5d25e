// The agent log is bounded: rotated by size (LAB_LOG_MAX_MB, fractions allowed), LAB_LOG_KEEP old
// files kept, nothing lost between the kept files, and writers in two processes stay consistent.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLogger } from '../src/services/logger.js';
import { RotatingFile, rotationOptions } from '../src/services/rotating-file.js';
import { AgentEnv } from './helpers/agent-env.js';
import { freshDatabase, type TestDb } from './helpers/db.js';

const dbs: TestDb[] = [];
after(async () => {
  for (const db of dbs) await db.drop();
});

const numbersIn = (text: string) =>
  text.split('\n').filter(Boolean).map((l) => Number((JSON.parse(l) as { n: number }).n));

test('0.01 MB with 3 kept: the files rotate, only 3 old ones stay, and they hold the newest lines in order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-rot-'));
  const path = join(dir, 'agent.log');
  const opts = rotationOptions({ LAB_LOG_MAX_MB: '0.01', LAB_LOG_KEEP: '3' });
  assert.deepEqual(opts, { maxBytes: 10486, keep: 3 });
  const log = createLogger({ level: 'info', destination: new RotatingFile(path, opts) });
  for (let n = 0; n < 3000; n++) log.info({ n }, 'a line of the agent log, long enough to fill ten kilobytes soon');
  assert.deepEqual(readdirSync(dir).sort(), ['agent.log', 'agent.log.1', 'agent.log.2', 'agent.log.3']);
  const files = [`${path}.3`, `${path}.2`, `${path}.1`, path];
  for (const f of files) {
    assert.ok(statSync(f).size <= opts.maxBytes, `${f} is ${statSync(f).size} bytes`);
    assert.equal(statSync(f).mode & 0o777, 0o600);
  }
  const kept = files.flatMap((f) => numbersIn(readFileSync(f, 'utf8')));
  assert.equal(kept.at(-1), 2999, 'the newest line is in agent.log');
  assert.ok(kept.length > 200, `${kept.length} lines kept`);
  kept.forEach((n, i) => assert.equal(n, kept[0]! + i, 'no line missing or repeated between the kept files'));
});

test('two writers on one log (two processes in real life) lose nothing across rotations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-rot2-'));
  const path = join(dir, 'agent.log');
  const opts = { maxBytes: 2048, keep: 100 };
  const a = new RotatingFile(path, opts);
  const b = new RotatingFile(path, opts);
  for (let n = 0; n < 600; n++) (n % 3 ? a : b).write(`${JSON.stringify({ n, pad: 'x'.repeat(40) })}\n`);
  const all = readdirSync(dir).flatMap((f) => numbersIn(readFileSync(join(dir, f), 'utf8'))).sort((x, y) => x - y);
  assert.deepEqual(all, [...Array(600).keys()]);
  assert.ok(existsSync(`${path}.5`), 'rotated several times');
  for (const f of readdirSync(dir)) assert.ok(statSync(join(dir, f)).size <= opts.maxBytes);
});

test('the real agent: ticks with LAB_LOG_MAX_MB=0.001 and LAB_LOG_KEEP=2 leave agent.log, .1 and .2', async () => {
  const db = await freshDatabase();
  dbs.push(db);
  const env = new AgentEnv(db, 'rotor', { LAB_LOG_MAX_MB: '0.001', LAB_LOG_KEEP: '2', LAB_LOG_LEVEL: 'trace' });
  const script = env.write('hello.py', 'print("hello")\n');
  for (let i = 0; i < 3; i++) assert.equal((await env.cli(['submit', script])).code, 0);
  for (let i = 0; i < 6; i++) {
    const r = await env.cli(['tick', '--trace']);
    assert.equal(r.code, 0, r.stderr);
  }
  const dir = dirname(env.agentLog); // the agent's folder, or the data folder when there is none yet
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('agent.log')).sort(), ['agent.log', 'agent.log.1', 'agent.log.2']);
  for (const f of ['agent.log', 'agent.log.1', 'agent.log.2']) {
    const text = readFileSync(join(dir, f), 'utf8');
    for (const line of text.split('\n').filter(Boolean)) JSON.parse(line); // whole lines only
  }
});

test('bad rotation settings are refused with the key and the fix', async () => {
  const db = await freshDatabase();
  dbs.push(db);
  const env = new AgentEnv(db, 'rotor2');
  const bad = await env.cli(['config'], { LAB_LOG_MAX_MB: 'ten', LAB_LOG_KEEP: '0' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /LAB_LOG_MAX_MB=ten is not a number/);
  assert.match(bad.stderr, /LAB_LOG_KEEP=0 is below 1/);
  const ok = await env.cli(['config', '--json'], { LAB_LOG_MAX_MB: '0.5' });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).values.LAB_LOG_MAX_MB, '0.5');
});
