// Messages a member can act on (issue 15): each CLI message names the mistake and the next step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands } from '../src/cli/registry.js';
import { sessionsTable } from '../src/cli/jupyter-commands.js';
import type { SessionRow } from '../src/services/store/types.js';
import { cliPath } from './helpers/agent-env.js';

const home = mkdtempSync(join(tmpdir(), 'lab-cli-msg-'));

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env: { PATH: process.env.PATH, HOME: home, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('an unknown command suggests the nearest one in one line, not the whole help (exit 2)', async () => {
  for (const [typed, meant] of [[['sbumit', 'x.py'], 'submit'], [['stauts'], 'status'], [['db', 'migrat'], 'db migrate']] as const) {
    const r = await cli([...typed]);
    assert.equal(r.code, 2, typed.join(' '));
    assert.match(r.stderr, new RegExp(`unknown command "${typed.join(' ')}"; did you mean ${meant}\\?`), typed.join(' '));
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
  }
  const far = await cli(['frobnicate']);
  assert.equal(far.code, 2);
  assert.equal(far.stderr, 'lab-agent: unknown command "frobnicate" (lab-agent --help lists the commands)\n');
});

test('`ls --status bogus` says the status is unknown and lists the valid ones', async () => {
  const r = await cli(['ls', '--status', 'bogus']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown status "bogus"; --status takes one of pending, claimed, running, finished, failed, cancelled/);
  assert.doesNotMatch(r.stdout + r.stderr, /no jobs yet/);
  const typo = await cli(['ls', '--status', 'runing']);
  assert.match(typo.stderr, /unknown status "runing" \(did you mean running\?\)/);
});

test('forgetting `--` before the script\'s arguments: the member\'s own command line, corrected', async () => {
  const r = await cli(['submit', 'train.py', '--gpus', '1', '--lr', '0.1', '--name', 'run one']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown option '--lr'/);
  assert.ok(r.stderr.includes("put it after `--`, which passes what follows to the script untouched:\n  lab-agent submit train.py --gpus 1 -- --lr 0.1 --name 'run one'\n"), r.stderr);
  const scheduled = await cli(['schedule', 'add', '0 3 * * *', 'eval.py', '--ckpt', 'latest', '--', '--seed', '1']);
  assert.equal(scheduled.code, 2);
  assert.ok(scheduled.stderr.includes("  lab-agent schedule add '0 3 * * *' eval.py -- --ckpt latest --seed 1\n"), scheduled.stderr);
  const ls = await cli(['ls', '--lr']);
  assert.doesNotMatch(ls.stderr, /after `--`/, 'a command without script arguments has no `--` to suggest');
});

test('every option in `--help` has a one-line meaning and its default', async () => {
  let checked = 0;
  for (const c of commands) {
    const r = await cli([...c.name.split(' '), '--help']);
    assert.equal(r.code, 0, c.name);
    const names = [...Object.keys(c.options ?? {}), ...(c.json ? ['json'] : [])];
    for (const name of names) {
      const line = r.stdout.split('\n').find((l) => new RegExp(`^  --${name}(,| |$)`).test(l));
      assert.ok(line, `${c.name} --help lists --${name}:\n${r.stdout}`);
      assert.match(line, new RegExp(`^  --${name}\\S*(?: <value>)?\\s+\\S.{5,}\\(default: [^)]+\\)$`), `${c.name} --${name}: meaning and default on one line`);
      checked++;
    }
  }
  assert.ok(checked > 50, `checked ${checked} options`);
  const ls = await cli(['ls', '--help']);
  assert.match(ls.stdout, /--limit <value>\s+how many jobs to show \(default: 20\)/);
  assert.match(ls.stdout, /--json\s+machine-readable output \(default: off\)/);
});

test('a file the member cannot write: one line with the path and the reason; the stack only with LAB_LOG_LEVEL=debug', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-cli-out-'));
  writeFileSync(join(dir, 'plain'), '');
  const cases: [string, RegExp][] = [
    [join(dir, 'plain', 'x.svg'), /a part of the path is not a folder \(ENOTDIR\)/],
    [dir, /it is a folder \(EISDIR\)/],
  ];
  if (process.getuid?.() !== 0) { // root writes anywhere: a read-only folder refuses only a member
    mkdirSync(join(dir, 'locked'));
    chmodSync(join(dir, 'locked'), 0o500);
    cases.push([join(dir, 'locked', 'x.svg'), /permission denied \(EACCES\)/]);
  }
  for (const [path, reason] of cases) {
    const r = await cli(['viz', 'job', '-o', path]);
    assert.equal(r.code, 1, path);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`lab-agent viz: cannot open ${path}: `), r.stderr);
    assert.match(r.stderr, reason);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  const debug = await cli(['viz', 'job', '-o', dir], { LAB_LOG_LEVEL: 'debug' });
  assert.match(debug.stderr, /it is a folder \(EISDIR\)\n[^]*\n\s+at /, 'the stack for a debug run');
});

test('`jupyter ls` shortens a long error with an ellipsis; a short one stays whole', () => {
  const row = (id: string, error: string) => ({
    session_id: id, status: 'failed', created_at: new Date().toISOString(), run_host: 'h1', host: null, port: null, error_message: error, url: null, dir: null,
  }) as unknown as SessionRow;
  const long = `jupyter-lab exited before it listened: ${'ModuleNotFoundError: No module named jupyterlab '.repeat(6)}`;
  const text = sessionsTable([row('aaaaaaaa-1', long), row('bbbbbbbb-2', 'port 8888 taken\nTraceback (most recent call last):'), row('cccccccc-3', 'stopped: the server exited')], (u) => u);
  const [, a, b, c] = text.split('\n');
  const cell = (line: string) => line.slice(line.indexOf('h1') + 2).trim().replace(/^-\s+/, '');
  assert.ok(cell(a!).endsWith('…'), a);
  assert.equal([...cell(a!)].length, 100, a);
  assert.ok(long.startsWith(cell(a!).slice(0, -1)), 'the start of the error, as it was');
  assert.equal(cell(b!), 'port 8888 taken…', 'more lines are marked too');
  assert.equal(cell(c!), 'stopped: the server exited');
});
