// The generic row step both pass drivers use (machine-runner.ts stepRow), with the job machine and
// the agent's step() wrapper (row-actors.ts), no database: a claimed row starts its machine in
// `claimed` (no replay of the claim), a step records the machine state it ran in as `via`, and a
// step's failure goes back through the group's one error edge, leaving the row as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobMachine, jobActorStubs } from '../src/machines/job-machine.js';
import type { JobMachineInput, JobProbe } from '../src/machines/job-rules.js';
import { JOB_RESTING_STATES } from '../src/machines/job-states.js';
import { stepRow, type Lifecycle } from '../src/services/agent/machine-runner.js';
import { step } from '../src/services/agent/row-actors.js';
import type { AgentContext } from '../src/services/agent/context.js';
import { JobInputError } from '../src/services/runner/errors.js';
import { silentLogger } from '../src/services/logger.js';
import type { JobRow } from '../src/services/store/types.js';

const now = Date.now();
const claimedRow = { job_id: 'j-1', status: 'claimed', notified_at: null, notify_next_at: null, started_at: null, timeout_s: null, kill_sent_at: null, cancel_requested_at: null, heartbeat_at: null, stdout_tail: null, stderr_tail: null } as unknown as JobRow;

function lifecycle(actors: Partial<typeof jobActorStubs>): Lifecycle<JobRow, JobMachineInput> {
  const machine = jobMachine.provide({ actors });
  return {
    kind: 'job', machine: () => machine, idOf: (r) => r.job_id, resting: JOB_RESTING_STATES,
    input: (_ctx, row, at) => ({ row, now: at, killGraceMs: 1000, heartbeatMs: 1000, defaultTimeoutS: 0 }),
  };
}
const errors: string[] = [];
const ctx = { log: { ...silentLogger, error: (_o: unknown, msg: string) => errors.push(msg) }, trace: false } as unknown as AgentContext;

test('a claimed row starts in claimed: one TICK starts it; a bad input fails it, recorded via starting.failing', async () => {
  const calls: string[] = [];
  const status = await stepRow(ctx, lifecycle({
    startJob: step('job', async ({ row }): Promise<JobRow> => {
      calls.push(`start ${row.status}`);
      throw new JobInputError('no such script');
    }),
    failJob: step('job', async ({ row, error }, { via }): Promise<JobRow> => {
      calls.push(`fail via ${via}: ${error}`);
      return { ...row, status: 'failed' as const };
    }),
    notifyUser: step('job', async ({ row }): Promise<JobRow> => ({ ...row, notified_at: new Date(now).toISOString() })),
  }), claimedRow);
  assert.deepEqual(calls, ['start claimed', 'fail via starting.failing: no such script']);
  assert.equal(status, 'failed');
});

test('a step that fails (the database away) goes back by its group\'s error edge: the row keeps its status', async () => {
  const running = { ...claimedRow, status: 'running', pid: 1, started_at: new Date(now).toISOString() } as JobRow;
  let probes = 0;
  const status = await stepRow(ctx, lifecycle({
    probeJob: step('job', async (): Promise<JobProbe> => {
      probes++;
      throw new Error('connection refused');
    }),
  }), running);
  assert.equal(probes, 1, 'probed once, not again in the same tick');
  assert.equal(status, 'running');
  assert.deepEqual(errors, [], 'handled by the machine (back to restoring → running.waiting), not a machine error caught by stepRow');
});
