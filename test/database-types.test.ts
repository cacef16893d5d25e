// The committed database types (src/services/store/database.types.ts, from `npm run db:types`)
// name every public SQL function and its parameters exactly as the migrations define them, so
// `npm run typecheck` holds LabStore to the SQL: a migration that renames a parameter without
// regenerating fails here, and after regenerating LabStore fails to compile until it follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useFreshDatabase } from './helpers/fresh-db.js';
import { repoRoot } from './helpers/required.js';

const db = await useFreshDatabase();

/** function name → its parameter names (sorted), read from the generated file's Functions block. */
function generatedFunctions(): Record<string, string[]> {
  const text = readFileSync(join(repoRoot, 'src', 'services', 'store', 'database.types.ts'), 'utf8');
  const block = text.slice(text.indexOf('    Functions: {'), text.indexOf('    Enums: {'));
  const out: Record<string, string[]> = {};
  // A function without parameters is `Args: never` or `Args: Record<PropertyKey, never>`.
  for (const m of block.matchAll(/^ {6}(\w+): \{\s*Args: (never|Record<PropertyKey, never>|\{[^}]*\})/gm)) {
    out[m[1]!] = m[2]!.startsWith('{') ? [...m[2]!.matchAll(/(\w+)\??:/g)].map((k) => k[1]!).sort() : [];
  }
  return out;
}

test('database.types.ts matches the migrated schema\'s public functions and parameter names (else: npm run db:types)', async () => {
  const r = await db.admin.query(
    `select p.proname, coalesce(p.proargnames, '{}') as names
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' and p.prokind = 'f' order by 1`,
  );
  const fromSql = Object.fromEntries(r.rows.map((row) => [row.proname as string, (row.names as string[]).filter(Boolean).sort()]));
  const generated = generatedFunctions();
  assert.ok(Object.keys(generated).length >= 30, 'the generated file lists the functions');
  assert.deepEqual(generated, fromSql);
});
