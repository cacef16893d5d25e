// Options before the command: `lab-agent --limit 5 ls` reads 5 as the value of --limit (issue 12),
// an option the command does not take is refused naming it, and a value is never a command word.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentEnv } from './helpers/agent-env.js';
import { useFreshDatabase } from './helpers/fresh-db.js';

const db = await useFreshDatabase();
let a: AgentEnv;
before(async () => {
  a = new AgentEnv(db, `opt${process.pid}`);
  for (const n of [1, 2, 3]) {
    const r = await a.cli(['submit', a.write(`s${n}.py`, 'print(1)\n')]);
    assert.equal(r.code, 0, r.stderr);
  }
});

test('`lab-agent --limit 2 ls` works like `lab-agent ls --limit 2`', async () => {
  const before = await a.cli(['--limit', '2', 'ls', '--json']);
  assert.equal(before.code, 0, before.stderr);
  const afterCmd = await a.cli(['ls', '--limit', '2', '--json']);
  assert.equal(JSON.parse(before.stdout).length, 2);
  assert.deepEqual(JSON.parse(before.stdout), JSON.parse(afterCmd.stdout));
  const mixed = await a.cli(['--json', 'ls', '--limit=1']);
  assert.equal(JSON.parse(mixed.stdout).length, 1);
});

test('an option the command does not take is refused clearly, before the command or after it', async () => {
  for (const args of [['--limit', '5', 'submit', 'x.py'], ['submit', 'x.py', '--limit', '5']]) {
    const r = await a.cli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^lab-agent submit: Unknown option '--limit': `lab-agent submit` does not take it/, args.join(' '));
    assert.doesNotMatch(r.stderr, /unknown command/);
  }
  const bogus = await a.cli(['--bogus', 'ls']);
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /lab-agent ls: Unknown option '--bogus'/);
  const noCommand = await a.cli(['--limit', '5']);
  assert.equal(noCommand.code, 2);
  assert.match(noCommand.stderr, /options, but no command/);
  const missingValue = await a.cli(['ls', '--limit']);
  assert.equal(missingValue.code, 2);
  assert.match(missingValue.stderr, /--limit/);
});

test('a typed option keeps its checks: --limit must be a positive whole number', async () => {
  const r = await a.cli(['--limit', 'many', 'ls']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--limit takes a positive whole number/);
});
