// The two things most test files repeat: a fresh database for the file, and reading a jobs row
// behind the API's back.
import { after } from 'node:test';
import type { JobRow } from '../../src/services/store/types.js';
import { freshDatabase, type TestDb } from './db.js';

/**
 * The test file's own database, cloned from the migrated template: `const db = await
 * useFreshDatabase();` at the top of the file (a top-level await, so the file's own hooks and
 * tests all find it made: Node 20 does not wait for one root `before` hook before the next),
 * dropped after its last test; `beforeDrop` runs first (e.g. stopping what the tests left running).
 */
export async function useFreshDatabase(opts: { migrated?: boolean; beforeDrop?: (db: TestDb) => Promise<void> } = {}): Promise<TestDb> {
  const db = await freshDatabase({ migrated: opts.migrated });
  after(async () => {
    try {
      await opts.beforeDrop?.(db);
    } finally {
      await db.drop();
    }
  });
  return db;
}

/** A jobs row as the database holds it now (read as the superuser, past row-level security). */
export async function jobRow(db: TestDb, jobId: string): Promise<JobRow> {
  return (await db.admin.query('select * from public.jobs where job_id = $1', [jobId])).rows[0];
}

/** Several jobs rows, in the order of `jobIds`. */
export async function jobRows(db: TestDb, jobIds: string[]): Promise<JobRow[]> {
  const rows: JobRow[] = (await db.admin.query('select * from public.jobs where job_id = any($1)', [jobIds])).rows;
  return jobIds.map((id) => rows.find((r) => r.job_id === id)!);
}
