// The CLI's contract: help on every command, exit codes 0 ok / 1 failure / 2 usage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands } from '../src/cli/registry.js';
import { cliPath } from './helpers/agent-env.js';

const home = mkdtempSync(join(tmpdir(), 'lab-cli-'));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env: { PATH: process.env.PATH, HOME: home } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('no command: the overview, exit 2; help: exit 0', async () => {
  const none = await cli();
  assert.equal(none.code, 2);
  assert.match(none.stdout, /usage: lab-agent <command>/);
  const help = await cli('--help');
  assert.equal(help.code, 0);
  for (const c of commands) assert.ok(help.stdout.includes(c.name), `--help lists ${c.name}`);
});

test('every command has --help', async () => {
  for (const c of commands) {
    const r = await cli(...c.name.split(' '), '--help');
    assert.equal(r.code, 0, `${c.name} --help`);
    assert.match(r.stdout, new RegExp(`usage: ${c.usage.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    if (c.json) assert.match(r.stdout, /--json/, `${c.name} documents --json`);
  }
});

test('usage errors exit 2 with the reason; bad configuration exits 1 naming the key', async () => {
  const unknown = await cli('frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const badFlag = await cli('ls', '--bogus');
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /Unknown option '--bogus'/);
  const missing = await cli('status');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /which job\?/);
  const badConfig = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [cliPath, 'ls'], { env: { PATH: process.env.PATH, HOME: home, SMTP_PORT: 'abc', LAB_EMAIL: 'nobody' } }, (err, _o, stderr) =>
      resolve({ code: Number((err as { code?: number } | null)?.code ?? 0), stderr }),
    );
  });
  assert.equal(badConfig.code, 1);
  assert.match(badConfig.stderr, /SMTP_PORT=abc is not a whole number/);
  assert.match(badConfig.stderr, /LAB_EMAIL=nobody is not an email address/);
  assert.doesNotMatch(badConfig.stderr, /at .*\.js:\d+/, 'no stack trace for a configuration problem');
});

test('an option name means one thing in every command (the first pass that finds the command reads them all)', () => {
  const seen = new Map<string, { type: string; short?: string; by: string }>();
  for (const c of commands) {
    for (const [name, o] of Object.entries(c.options ?? {})) {
      const first = seen.get(name);
      if (first) assert.deepEqual([o.type, o.short], [first.type, first.short], `--${name}: ${c.name} and ${first.by} disagree`);
      else seen.set(name, { type: o.type, short: o.short, by: c.name });
    }
  }
  assert.ok(seen.size > 5);
});

test('a reader that stops early (`lab-agent … | head`) ends the command quietly, not with a stack', async () => {
  // The pipe's reading end is closed before the CLI writes: its first write fails with EPIPE,
  // as `lab-agent scripts | head` does once head has its lines.
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cliPath, '--help'], { env: { PATH: process.env.PATH, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
});
