// The README stays true: its configuration table is the one the code generates, and every CLI
// command is documented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configDocTable } from '../src/cli/config-command.js';
import { commands } from '../src/cli/registry.js';
import { repoRoot } from './helpers/required.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');

test('the README configuration table matches the keys in the code', () => {
  const start = readme.indexOf('<!-- config-table:start');
  const end = readme.indexOf('<!-- config-table:end -->');
  assert.ok(start > 0 && end > start);
  const table = readme.slice(readme.indexOf('\n', start) + 1, end).trim();
  assert.equal(table, configDocTable(), 'run `node dist/index.js config --doc` and paste it into README.md');
});

test('every command appears in the README', () => {
  for (const c of commands) assert.ok(readme.includes(`\`${c.name}`), `README lacks ${c.name}`);
});
