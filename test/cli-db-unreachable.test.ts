// Every command that cannot reach the database says so in one line: which database (its URL with
// the password masked, or the local database's folder), what failed, what to check; exit 1. The
// detail (the underlying error, its stack) goes to the agent log, not the terminal.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, type CliResult } from './helpers/agent-env.js';
import { freePort } from './helpers/smtp.js';
import { serverRoot } from '../src/services/store/local-postgres.js';

const homes: string[] = [];
after(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

function member(extra: NodeJS.ProcessEnv): { home: string; env: NodeJS.ProcessEnv; script: string } {
  const home = mkdtempSync(join(tmpdir(), 'lab-unreach-'));
  homes.push(home);
  const script = join(home, 'x.py');
  writeFileSync(script, 'print(1)\n');
  return { home, script, env: { PATH: process.env.PATH, HOME: home, USER: 'pat', LAB_USER: 'pat', LAB_HOST: 'testhost', LAB_EMAIL: '', SUPABASE_URL: '', ...(process.getuid?.() === 0 ? { LAB_ALLOW_ROOT: '1' } : {}), ...extra } };
}

function assertOneLine(r: CliResult, what: string, database: RegExp, check: RegExp): void {
  assert.equal(r.code, 1, `${what}: exit 1 (${r.stderr})`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, database, what);
  assert.match(lines[0]!, check, `${what}: says what to check`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: no stack`);
}

test('postgres mode, server down: ls, tick, submit, status, wait, db status, sync (which scans while it connects) each print one line', async () => {
  const port = await freePort();
  const m = member({ LAB_DATABASE_URL: `postgres://lab:s3cr3t-pw@127.0.0.1:${port}/lab` });
  const db = new RegExp(`^lab-agent [a-z ]+: cannot reach the database at postgres://lab:\\*\\*\\*\\*@127\\.0\\.0\\.1:${port}/lab: .*ECONNREFUSED`);
  for (const args of [['ls'], ['tick'], ['submit', m.script], ['status', '0123abcd'], ['wait', '0123abcd'], ['db', 'status'], ['sync'], ['sync', '--dry-run']]) {
    const r = await cli(args, m.env);
    assertOneLine(r, args.join(' '), db, /check that the server is running .*LAB_DATABASE_URL/);
    assert.doesNotMatch(r.stderr, /s3cr3t-pw/, 'the password is never shown');
  }
  const log = readFileSync(join(m.home, '.local', 'share', 'lab-job-agent', 'agent.log'), 'utf8');
  assert.match(log, /ECONNREFUSED/, 'the detail is in the agent log');
  assert.match(log, /"stack":/, 'with its stack');
  assert.doesNotMatch(log, /s3cr3t-pw/);
});

test('a wrong database name: one line saying to check it', async () => {
  const { testServer } = await import('./helpers/db.js');
  const server = await testServer();
  const m = member({ LAB_DATABASE_URL: `postgres://${server.user}@localhost/no_such_db_here?host=${encodeURIComponent(String(server.host))}` });
  assertOneLine(await cli(['ls'], m.env), 'ls', /cannot reach the database at postgres:\/\/.*no_such_db_here.*does not exist/, /check the database name in LAB_DATABASE_URL/);
});

test('local mode, a database that will not start: one line naming its folder and its log', async () => {
  const m = member({ LAB_DATABASE_URL: '', LAB_DATA_DIR: join(tmpdir(), `lab-unreach-data-${process.pid}`) });
  const root = serverRoot(m.env.LAB_DATA_DIR!);
  homes.push(m.env.LAB_DATA_DIR!, root);
  // A data folder of a PostgreSQL version that does not exist: the server refuses it.
  mkdirSync(join(root, 'data'), { recursive: true });
  writeFileSync(join(root, 'data', 'PG_VERSION'), '99\n');
  const r = await cli(['ls'], m.env);
  assertOneLine(r, 'ls', new RegExp(`cannot reach the local database at ${root}: it would not start`), new RegExp(`see ${root}/postgres\\.log`));
  assert.ok(existsSync(join(m.env.LAB_DATA_DIR!, 'agent.log')), 'the detail is in the agent log');
});
