// dist/tick.cjs, the tick's own entry point (what the installer's wrapper runs for cron's
// `lab-agent tick`, and AgentEnv.cli(['tick']) in every test): a real tick against the test
// database, the tick's options and nothing else, and stack traces in the agent log that name
// src/*.ts although node runs without --enable-source-maps (both entry points map frames when a
// stack is formatted).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './helpers/required.js';
import { jobRow, useFreshDatabase } from './helpers/fresh-db.js';
import { AgentEnv, cliPath, eventually } from './helpers/agent-env.js';

const db = await useFreshDatabase();
let a: AgentEnv;

before(async () => {
  a = new AgentEnv(db, 'tess');
});

describe('dist/tick.cjs', () => {
  test('runs a real tick: a submitted job is claimed, run and finished, and --json says so', async () => {
    const script = a.write('hello.py', 'import sys\nprint("hello", sys.argv[1:])\n');
    const submitted = await a.cli(['submit', script, '--', '--n', '3']);
    assert.equal(submitted.code, 0, submitted.stderr);
    const jobId = submitted.stdout.trim();
    const first = await a.cli(['tick', '--json']);
    assert.equal(first.code, 0, first.stderr);
    const result = JSON.parse(first.stdout) as { jobs: { claimed: number } };
    assert.equal(result.jobs.claimed, 1, first.stdout);
    const row = await eventually(`job ${jobId} to finish`, async () => {
      const t = await a.cli(['tick']);
      assert.equal(t.code, 0, t.stderr);
      assert.match(t.stdout, /^claimed \d+, stepped \d+, running \d+, waiting \d+\n$/);
      const r = await jobRow(db, jobId);
      return ['finished', 'failed'].includes(r.status) ? r : null;
    }, 90_000, 300);
    assert.equal(row.status, 'finished', row.stderr_tail ?? '');
    assert.equal(readFileSync(row.stdout_path!, 'utf8'), "hello ['--n', '3']\n");
  });

  test('takes the tick\'s options only: --help prints the tick\'s usage, another command\'s option is refused with exit 2', async () => {
    const help = await a.cli(['tick', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: lab-agent tick \[--trace\] \[--json\]/);
    assert.match(help.stdout, /--trace/);
    const wrong = await a.cli(['tick', '--limit', '5']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^lab-agent tick: Unknown option '--limit'/);
    assert.match(wrong.stderr, /usage: lab-agent tick/);
  });

  test('a failing tick\'s stack in the agent log names src/*.ts, from dist/tick.cjs, dist/index.cjs tick and an older wrapper\'s dist/index.js tick', async () => {
    // The tick's poll fails: a function missing from the database (a store error thrown in
    // pg-transport.ts), which the tick command logs with its stack as "the tick failed".
    const fn = 'public.agent_poll(uuid, text, text, text, int, int, text, text, jsonb, uuid)';
    await db.admin.query(`alter function ${fn} rename to agent_poll_gone`);
    try {
      const failures = () => readFileSync(a.agentLog, 'utf8').trim().split('\n')
        .map((l) => JSON.parse(l) as { msg: string; err?: { stack: string } })
        .filter((l) => l.msg === 'the tick failed');
      const entries = [
        ['dist/tick.cjs', () => a.cli(['tick'])],
        ['dist/index.cjs tick', () => a.node(cliPath, ['tick'])],
        // wrappers written before the launcher was CommonJS run the ES module entry, which loads it
        ['dist/index.js tick', () => a.node(join(repoRoot, 'dist', 'index.js'), ['tick'])],
      ] as const;
      for (const [what, run] of entries) {
        const before = failures().length;
        const r = await run();
        assert.equal(r.code, 1, `${what}: ${r.stderr}`);
        const logged = failures();
        assert.equal(logged.length, before + 1, `${what}: one failure logged`);
        const { err } = logged.at(-1)!;
        assert.ok(err, what);
        assert.match(err.stack, /^StoreError: function public\.agent_poll\(.*\) does not exist\n/, what);
        assert.match(err.stack, /\n {4}at toStoreError \(\/\S+\/src\/services\/store\/pg-transport\.ts:\d+:\d+\)\n/, `${what}: ${err.stack}`);
        assert.match(err.stack, /\n {4}at async pollWork \(\/\S+\/src\/services\/agent\/poll\.ts:\d+:\d+\)/, `${what}: ${err.stack}`);
        assert.doesNotMatch(err.stack, /dist\//, `${what}: no frame left in the bundle`);
      }
    } finally {
      await db.admin.query('alter function public.agent_poll_gone(uuid, text, text, text, int, int, text, text, jsonb, uuid) rename to agent_poll');
    }
  });
});
