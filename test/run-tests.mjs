#!/usr/bin/env node
// `npm test`: starts the test PostgreSQL (the embedded server), runs every test file with node's
// test runner, then stops the server it started. Extra arguments select test files.
import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLocalPostgres, stopLocalPostgres } from '../dist/services/store/local-postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const pgDir = process.env.LAB_TEST_PG_DIR ?? join(tmpdir(), `lab-job-agent-test-pg-${process.pid}`);
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(join(root, 'test')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test', f));

const server = await ensureLocalPostgres({ dataDir: pgDir, fast: true, database: 'postgres', allowRoot: true });
console.log(`test PostgreSQL ready at ${server.connection.host} (${server.startedNow ? 'started' : 'already running'})`);
let code = 1;
try {
  code = await new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, LAB_TEST_PG_DIR: pgDir },
    });
    child.on('close', (c) => resolve(c ?? 1));
  });
} finally {
  if (server.startedNow) {
    await stopLocalPostgres(pgDir).catch((err) => console.error(`could not stop the test PostgreSQL: ${err.message}`));
    if (!process.env.LAB_TEST_PG_DIR) rmSync(pgDir, { recursive: true, force: true });
  }
}
process.exit(code);
