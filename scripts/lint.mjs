#!/usr/bin/env node
// Project rules that the type-checker does not see. Run by `npm run lint` after `tsc`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const problems = [];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

// The dashboard's page (web/src) follows the same rules as the agent's code.
const sources = [...walk(join(root, 'src')), ...walk(join(root, 'web', 'src'))].filter((f) => /\.tsx?$/.test(f));
const tests = walk(join(root, 'test')).filter((f) => f.endsWith('.ts'));

for (const file of sources) {
  const text = readFileSync(file, 'utf8');
  const rel = relative(root, file);
  const lines = text.split('\n').length;
  if (lines > 400) problems.push(`${rel}: ${lines} lines; split it by concern (limit 400)`);
  if (/console\.log\(/.test(text) && !rel.startsWith('src/cli/')) problems.push(`${rel}: console.log outside the CLI; use the logger`);
  // Machine files are pure definitions: no I/O of their own.
  if (rel.startsWith('src/machines/')) {
    const io = text.match(/from ['"](node:(fs|child_process|net|http|https|os)|fs|child_process|pg|execa|nodemailer|@supabase\/supabase-js)['"]/);
    if (io) problems.push(`${rel}: a machine file imports ${io[1]}; inject I/O through provide()`);
  }
  // SQL values always as parameters: no template interpolation inside a query string.
  for (const m of text.matchAll(/\.query\(\s*`([^`]*)`/g)) {
    if (/\$\{/.test(m[1]) && !/lint-allow-identifier/.test(m[1])) problems.push(`${rel}: interpolated SQL in .query(); pass values as $n parameters`);
  }
}

for (const file of tests) {
  const text = readFileSync(file, 'utf8');
  const rel = relative(root, file);
  if (/\b(test|it|describe)\.only\(/.test(text)) problems.push(`${rel}: .only left in a test`);
}

if (problems.length) {
  console.error(problems.map((p) => `lint: ${p}`).join('\n'));
  process.exit(1);
}
console.log(`lint: ${sources.length + tests.length} files ok`);
