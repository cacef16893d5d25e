// A password login (SCRAM) through the CLI's bundle. The bundle loads pg's SCRAM helpers, and
// node:crypto with them, on first use (scripts/bundle.mjs, pgCryptoOnFirstUse), so a member whose
// database asks for a password must still get in, and a wrong password must still be refused.
// The test server trusts every local login; one role of this test's own gets scram-sha-256.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { AgentEnv } from './helpers/agent-env.js';

let db: TestDb;
const role = `lab_scram_${process.pid}`;
const password = randomBytes(12).toString('hex');
let hbaFile = '';
let hbaBefore = '';

before(async () => {
  db = await freshDatabase();
  hbaFile = (await db.admin.query('show hba_file')).rows[0].hba_file as string;
  hbaBefore = readFileSync(hbaFile, 'utf8');
  // First match wins: this role, and only it, must give its password over the Unix socket.
  writeFileSync(hbaFile, `local all ${role} scram-sha-256\n${hbaBefore}`);
  await db.admin.query(`create role ${pg.escapeIdentifier(role)} login password ${pg.escapeLiteral(password)}`); // lint-allow-identifier
  await db.admin.query('select pg_reload_conf()');
});
after(async () => {
  writeFileSync(hbaFile, hbaBefore);
  await db.admin.query('select pg_reload_conf()');
  await db.admin.query(`drop role if exists ${pg.escapeIdentifier(role)}`); // lint-allow-identifier
  await db.drop();
});

test('the bundled CLI logs in with a password (SCRAM), and a wrong one is refused as such', async () => {
  const c = db.connection;
  const url = (pw: string) => `postgres://${role}:${pw}@localhost/${c.database}?host=${encodeURIComponent(String(c.host))}`;
  const a = new AgentEnv(db, 'scram');
  const right = await a.cli(['db', 'status', '--json'], { LAB_DATABASE_URL: url(password) });
  // Past the login: the role reads no migration history, so the status lists them all as missing.
  assert.doesNotMatch(right.stderr, /password authentication failed|SASL|SCRAM|crypto/i, right.stderr);
  const status = JSON.parse(right.stdout) as { where: string; applied: string[]; missing: string[] };
  assert.equal(status.where, 'LAB_DATABASE_URL');
  assert.ok(status.missing.length > 0, right.stdout);
  const wrong = await a.cli(['db', 'status', '--json'], { LAB_DATABASE_URL: url(`${password}x`) });
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /password authentication failed for user "lab_scram_/);
});
