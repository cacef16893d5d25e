// Messages a member can act on (issue 15), the ones that need jobs in a real database: no `lab:`
// tag from the SQL functions, `wait` without the exit code twice, `status` honest about email.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentEnv, exited, eventually } from './helpers/agent-env.js';
import { useFreshDatabase } from './helpers/fresh-db.js';
import type { ChildProcess } from 'node:child_process';

const db = await useFreshDatabase();
let a: AgentEnv;
let sup: ChildProcess;
before(() => {
  a = new AgentEnv(db, `msg${process.pid}`);
  sup = a.spawn(['supervise']);
});
after(async () => {
  sup.kill('SIGTERM');
  await exited(sup);
});

test('a database error reads without the SQL functions\' `lab:` tag', async () => {
  const nobody = '00000000-0000-4000-8000-000000000000';
  for (const args of [['status', nobody], ['wait', nobody], ['cancel', nobody]]) {
    const r = await a.cli(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^lab-agent ${args[0]}: no job ${nobody} among your jobs; \`lab-agent ls\` lists yours\n$`), args.join(' '));
    assert.doesNotMatch(r.stderr, /lab: /, args.join(' '));
  }
  const prefix = await a.cli(['status', '0123abcd']);
  assert.equal(prefix.stderr, 'lab-agent status: no job of yours starts with 0123abcd; `lab-agent ls` lists yours\n');
});

test('`wait` says "failed (exit 3)" once; `status` says no email was sent when LAB_EMAIL is empty', async () => {
  const id = (await a.cli(['submit', a.write('three.py', 'import sys\nsys.exit(3)\n')])).stdout.trim();
  const waited = await a.cli(['wait', id], {}, 60_000);
  assert.equal(waited.code, 3, waited.stderr);
  assert.equal(waited.stdout.trim(), `${id} failed (exit 3)`);
  const status = await eventually('the job marked notified', async () => {
    const r = await a.cli(['status', id]);
    return /^notified /m.test(r.stdout) && r;
  }, 30_000);
  assert.match(status.stdout, /^notified\s+no email \(LAB_EMAIL empty\)$/m);
  // with an address configured the line is the time the email went
  const withEmail = await a.cli(['status', id], { LAB_EMAIL: 'member@example.ac.jp' });
  assert.match(withEmail.stdout, /^notified\s+\d{4}-\d\d-\d\dT/m, withEmail.stdout);
});
