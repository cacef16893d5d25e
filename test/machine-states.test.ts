// The lifecycle names, once: the statuses in src/machines/*-states.ts are exactly what the SQL
// check constraints allow (read back from a migrated database), every state the constants name is
// a state of the machine and every state of the machine is named there, resting where they say.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnyStateMachine } from 'xstate';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { jobMachine } from '../src/machines/job-machine.js';
import { jupyterMachine } from '../src/machines/jupyter-machine.js';
import { JOB_PASSING_STATES, JOB_RESTING_STATES, JOB_STATE_OF_STATUS, JOB_STATUSES } from '../src/machines/job-states.js';
import {
  JUPYTER_PASSING_STATES, JUPYTER_RESTING_STATES, JUPYTER_STATE_OF_STATUS, SESSION_STATUSES,
} from '../src/machines/jupyter-states.js';
import { machineGraph } from '../src/services/viz/machine-graph.js';

let db: TestDb;
before(async () => (db = await freshDatabase()));
after(async () => db.drop());

/** The values a table's check constraint on `status` allows, as PostgreSQL reads them back. */
async function allowedStatuses(table: string): Promise<string[]> {
  const { rows } = await db.admin.query<{ def: string }>(
    `select pg_get_constraintdef(oid) as def from pg_constraint
      where conrelid = $1::regclass and contype = 'c' and pg_get_constraintdef(oid) ~ '\\mstatus\\M'`,
    [`public.${table}`],
  );
  assert.equal(rows.length, 1, `one check constraint on ${table}.status: ${rows.map((r) => r.def).join(' | ')}`);
  return [...rows[0]!.def.matchAll(/'([^']+)'::text/g)].map((m) => m[1]!);
}

test('the SQL check constraints allow exactly the statuses the machines know', async () => {
  assert.deepEqual((await allowedStatuses('jobs')).sort(), [...JOB_STATUSES].sort());
  assert.deepEqual((await allowedStatuses('jupyter_sessions')).sort(), [...SESSION_STATUSES].sort());
});

function checkStates(machine: AnyStateMachine, resting: readonly string[], passing: readonly string[], ofStatus: Record<string, string>) {
  const graph = machineGraph(machine);
  const leaves = graph.states.filter((s) => s.kind === 'atomic' || s.kind === 'final');
  assert.deepEqual(leaves.map((s) => s.id).sort(), [...resting, ...passing].sort(), `${machine.id}: every state named once`);
  assert.deepEqual(leaves.filter((s) => s.resting).map((s) => s.id).sort(), [...resting].sort(), `${machine.id}: the resting ones rest`);
  for (const state of Object.values(ofStatus)) assert.ok(resting.includes(state), `${machine.id}: a row starts in a resting state (${state})`);
}

test('the state constants are the machines\' states', () => {
  checkStates(jobMachine, JOB_RESTING_STATES, JOB_PASSING_STATES, JOB_STATE_OF_STATUS);
  checkStates(jupyterMachine, JUPYTER_RESTING_STATES, JUPYTER_PASSING_STATES, JUPYTER_STATE_OF_STATUS);
});
