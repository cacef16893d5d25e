// Messages a member can act on (issue 15), the ones that need jobs in a real database: no `lab:`
// tag from the SQL functions, `wait` without the exit code twice, `status` honest about email (from
// what the agent that ended the job recorded, not the LAB_EMAIL where the CLI runs).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentEnv, exited, eventually } from './helpers/agent-env.js';
import { jobRow, useFreshDatabase } from './helpers/fresh-db.js';
import { startSmtp } from './helpers/smtp.js';
import { tokyoClock } from './helpers/times.js';
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

test('`wait` says "failed (exit 3)" once; `status` says no email was sent, as the agent recorded it', async () => {
  const id = (await a.cli(['submit', a.write('three.py', 'import sys\nsys.exit(3)\n')])).stdout.trim();
  const waited = await a.cli(['wait', id], {}, 60_000);
  assert.equal(waited.code, 3, waited.stderr);
  assert.equal(waited.stdout.trim(), `${id} failed (exit 3)`);
  const status = await eventually('the job marked notified', async () => {
    const r = await a.cli(['status', id]);
    return /^notified /m.test(r.stdout) && r;
  }, 60_000);
  assert.match(status.stdout, /^notified\s+no email \(LAB_EMAIL empty\)$/m);
  // The agent's LAB_EMAIL decides, not the one where `status` runs (another machine, another .env).
  const elsewhere = await a.cli(['status', id], { LAB_EMAIL: 'member@example.ac.jp' });
  assert.match(elsewhere.stdout, /^notified\s+no email \(LAB_EMAIL empty\)$/m, elsewhere.stdout);
});

test("`status` says when the email went, even where the CLI's own LAB_EMAIL is empty", async () => {
  const smtp = await startSmtp(); // closed after the file
  const m = new AgentEnv(db, `mail${process.pid}`, { LAB_EMAIL: 'member@example.ac.jp', SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), TZ: 'Asia/Tokyo' });
  const id = (await m.cli(['submit', m.write('ok.py', 'print("fine")\n')])).stdout.trim();
  const row = await eventually('the email sent and recorded', async () => {
    await m.cli(['tick']);
    const j = await jobRow(db, id);
    return j.notified_at ? j : null;
  }, 90_000, 500);
  assert.equal(smtp.received.length, 1);
  const status = await m.cli(['status', id], { LAB_EMAIL: '' });
  assert.match(status.stdout, new RegExp(`^notified\\s+email sent ${tokyoClock(row.notified_at!)} \\+09:00 \\(Asia/Tokyo\\)$`, 'm'), status.stdout);
});

test("a sweep's cell (one email for the whole sweep): `status` says the sweep's email covers it", async () => {
  const out = await a.cli(['submit', a.write('cell.py', 'print("cell")\n'), '--sweep', 'n=1,2']);
  assert.equal(out.code, 0, out.stderr);
  const cell = out.stdout.split('\n')[1]!.trim().split(/\s+/)[0]!;
  const waited = await a.cli(['wait', cell], {}, 60_000);
  assert.equal(waited.code, 0, waited.stdout + waited.stderr);
  const status = await a.cli(['status', cell]);
  assert.match(status.stdout, /^notified\s+no email \(the sweep's one email covers this cell\)$/m, status.stdout);
});
