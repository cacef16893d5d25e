// A notebook swept over a grid, end to end (issue 17): a real .ipynb with a `parameters` cell,
// `submit nb.ipynb --sweep lr=… --sweep seed=…`, each cell a job that the agent runs through
// nbconvert (the test venv's Jupyter) to finished, with its own executed notebook in its own log
// folder, the values injected after the parameters cell, and the LAB_RESULT line the notebook
// printed on the sweep's grid (a notebook's prints are in its output cells, not in stdout).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDatabase, type TestDb } from './helpers/db.js';
import { AgentEnv, eventually } from './helpers/agent-env.js';
import { hasTestJupyter, requirePart, testJupyter } from './helpers/required.js';
import type { SweepView } from '../src/services/store/queue-types.js';

const noJupyter = requirePart('Jupyter (nbconvert)', hasTestJupyter, 'make the test venv: scripts/test-venv.sh (npm test does it when .venv is missing)');

let db: TestDb;
before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await db?.drop();
});

const notebook = JSON.stringify({
  nbformat: 4, nbformat_minor: 5,
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  cells: [
    { id: 'md', cell_type: 'markdown', metadata: {}, source: '# Training' },
    { id: 'p', cell_type: 'code', metadata: { tags: ['parameters'] }, execution_count: null, outputs: [], source: 'lr = 1.0\nseed = 0\nepochs = 1' },
    { id: 't', cell_type: 'code', metadata: {}, execution_count: null, outputs: [],
      source: 'import json\nloss = lr * seed / epochs\nprint(f"lr={lr!r} seed={seed!r} epochs={epochs!r}")\nprint("LAB_RESULT " + json.dumps({"loss": loss, "seed": seed}))' },
  ],
});

test('a notebook swept over a 2×2 grid: each cell runs through nbconvert to finished, its outputs in its own folder, its result on the grid', { skip: noJupyter, timeout: 400_000 }, async () => {
  const a = new AgentEnv(db, 'nina', { LAB_JUPYTER: testJupyter, LAB_MAX_PARALLEL: '4' });
  const nb = a.write('proj/train.ipynb', notebook);
  const submitted = await a.cli(['submit', nb, '--sweep', 'lr=0.5,0.25', '--sweep', 'seed=1..2', '--max-parallel', '2', '--', '--epochs', '2']);
  assert.equal(submitted.code, 0, submitted.stderr);
  const sweepId = submitted.stdout.trim().split('\n')[0]!;
  const view = await eventually('the four cells to end', async () => {
    await a.cli(['tick']);
    const v = JSON.parse((await a.cli(['status', sweepId, '--json'])).stdout) as SweepView;
    return v.jobs.every((c) => ['finished', 'failed', 'cancelled'].includes(c.status)) ? v : null;
  }, 360_000, 500);
  const jobs = (await db.admin.query('select * from public.jobs where sweep_id = $1 order by sweep_index', [sweepId])).rows;
  const expected = [['0.5', '1'], ['0.5', '2'], ['0.25', '1'], ['0.25', '2']];
  assert.deepEqual(view.jobs.map((c) => c.status), ['finished', 'finished', 'finished', 'finished'], jobs.map((j) => j.stderr_tail).join('\n---\n'));
  assert.deepEqual(view.jobs.map((c) => [c.params.lr, c.params.seed]), expected);
  const folders = new Set<string>();
  for (const [i, [lr, seed]] of expected.entries()) {
    const job = jobs[i]!;
    folders.add(job.log_dir);
    assert.equal(job.log_dir, join(a.home, 'lab_job_logs', job.job_id), 'each cell its own log folder');
    const output = JSON.parse(readFileSync(join(job.log_dir, 'output.ipynb'), 'utf8'));
    const injected = output.cells.find((c: { metadata: { tags?: string[] } }) => c.metadata.tags?.includes('injected-parameters'));
    assert.match([injected.source].flat().join(''), new RegExp(`lr = ${lr!.replace('.', '\\.')}\\n[^]*seed = ${seed}\\n[^]*epochs = 2`));
    const printed = output.cells.flatMap((c: { outputs?: { text?: string | string[] }[] }) => c.outputs ?? []).map((o: { text?: string | string[] }) => [o.text ?? ''].flat().join('')).join('');
    assert.match(printed, new RegExp(`lr=${lr!.replace('.', '\\.')} seed=${seed} epochs=2`), 'the values reached the notebook as numbers');
    assert.deepEqual(view.jobs[i]!.result, { loss: (Number(lr) * Number(seed)) / 2, seed: Number(seed) }, 'the LAB_RESULT the notebook printed');
  }
  assert.equal(folders.size, 4);
  // At most two at once (--max-parallel 2), read from the runs' own start and end times.
  const spans = jobs.map((j) => [Date.parse(j.started_at), Date.parse(j.finished_at)] as const);
  const peak = Math.max(...spans.map(([s]) => spans.filter(([s2, e2]) => s2 <= s && s < e2).length));
  assert.ok(peak <= 2, `at most two cells at once (saw ${peak})`);
  const grid = (await a.cli(['ls', '--sweep', sweepId.slice(0, 8)])).stdout;
  assert.match(grid, /0\.25\s+2\s+finished\s+0\s+\{"loss":0\.25,"seed":2\}/);
});
