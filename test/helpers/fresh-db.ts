// The two things most test files repeat: a fresh database for the file, and reading a jobs row
// behind the API's back.
import { after, before } from 'node:test';
import type { JobRow } from '../../src/services/store/types.js';
import { freshDatabase, type TestDb } from './db.js';

/**
 * The test file's own database, cloned from the migrated template before its first test and
 * dropped after its last. Use it inside hooks and tests (it exists once the `before` hook ran);
 * `beforeDrop` runs first at the end (e.g. stopping what the tests left running).
 */
export function useFreshDatabase(opts: { migrated?: boolean; beforeDrop?: (db: TestDb) => Promise<void> } = {}): TestDb {
  let made: TestDb | null = null;
  const db = (): TestDb => {
    if (!made) throw new Error('the test database is made in before(): use it inside hooks and tests');
    return made;
  };
  before(async () => {
    made = await freshDatabase({ migrated: opts.migrated });
  });
  after(async () => {
    if (!made) return;
    try {
      await opts.beforeDrop?.(made);
    } finally {
      await made.drop();
    }
  });
  return {
    get connection() { return db().connection; },
    get admin() { return db().admin; },
    get name() { return db().name; },
    drop: () => db().drop(),
  };
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
