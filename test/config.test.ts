// Configuration: .env plus environment (environment wins), the original keys' defaults, the mode,
// one clear message per problem, and secrets never shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, maskedValues } from '../src/services/config.js';
import { CONFIG_KEYS } from '../src/services/config-keys.js';

const home = mkdtempSync(join(tmpdir(), 'lab-cfg-'));
const base = { HOME: home, USER: 'dave' };

test('the original agent\'s keys keep their defaults', () => {
  const c = loadConfig({ env: base });
  assert.equal(c.mode, 'local');
  assert.equal(c.user, 'dave');
  assert.equal(c.smtp.host, 'localhost');
  assert.equal(c.smtp.port, 25);
  assert.equal(c.jupyter.basePort, 8800);
  assert.equal(c.jupyter.ip, '0.0.0.0');
  assert.equal(c.jupyter.legacy, null); // found from what is installed
  assert.equal(c.jupyter.app, 'lab');
  assert.equal(c.syncIntervalMin, 10);
  assert.equal(c.agentDir, join(home, 'lab_job_agent'));
  assert.equal(c.dataDir, join(home, '.local/share/lab-job-agent'));
  assert.equal(c.logDir, join(home, 'lab_job_logs'));
  assert.match(c.smtp.from, /^dave@/);
  for (const k of ['LAB_USER', 'LAB_EMAIL', 'LAB_USER_ID', 'SUPABASE_URL', 'SUPABASE_SERVICE_KEY', 'SMTP_HOST', 'SMTP_PORT', 'LAB_FROM_EMAIL', 'JUPYTER_BASE_PORT', 'JUPYTER_IP', 'JUPYTER_LEGACY', 'SYNC_INTERVAL_MIN']) {
    assert.ok(CONFIG_KEYS.some((s) => s.key === k && s.original), `${k} is an original key`);
  }
});

test('.env in the agent folder is read, the environment wins, LAB_AGENT_DIR moves it', () => {
  const agentDir = mkdtempSync(join(home, 'agentdir-'));
  writeFileSync(join(agentDir, '.env'), 'SMTP_PORT=2525\nLAB_EMAIL=from-file@lab.example\nJUPYTER_LEGACY=true\n');
  const c = loadConfig({ env: { ...base, LAB_AGENT_DIR: agentDir, LAB_EMAIL: 'from-env@lab.example' } });
  assert.equal(c.smtp.port, 2525);
  assert.equal(c.email, 'from-env@lab.example');
  assert.equal(c.sources.LAB_EMAIL, 'env');
  assert.equal(c.sources.SMTP_PORT, '.env');
  assert.equal(c.jupyter.app, 'notebook', 'legacy means the classic notebook app');
});

test('mode: Supabase when SUPABASE_URL is set, else Postgres with LAB_DATABASE_URL, else local', () => {
  assert.equal(loadConfig({ env: { ...base, SUPABASE_URL: 'https://x.supabase.co', SUPABASE_ANON_KEY: 'k' } }).mode, 'supabase');
  assert.equal(loadConfig({ env: { ...base, LAB_DATABASE_URL: 'postgres://u:p@db:5432/lab' } }).mode, 'postgres');
});

test('every problem gets one message naming the key and the fix', () => {
  try {
    loadConfig({ env: { ...base, SMTP_PORT: 'twenty-five', JUPYTER_IP: 'everywhere', LAB_USER_ID: 'bob', SUPABASE_URL: 'ftp://x', LAB_MAX_PARALLEL: '0' } });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const p = err.problems;
    assert.equal(p.length, 6, p.join('\n'));
    assert.ok(p.some((m) => m.startsWith('SMTP_PORT=twenty-five is not a whole number')));
    assert.ok(p.some((m) => m.startsWith('JUPYTER_IP=everywhere is not an IP address: use 127.0.0.1')));
    assert.ok(p.some((m) => m.startsWith('LAB_USER_ID=bob is not a UUID')));
    assert.ok(p.some((m) => m.startsWith('SUPABASE_URL has the wrong scheme')));
    assert.ok(p.some((m) => m.startsWith('LAB_MAX_PARALLEL=0 is below 1')));
    assert.ok(p.some((m) => m.startsWith('SUPABASE_URL is set but no key is')));
  }
});

test('secrets are masked, including the password inside LAB_DATABASE_URL', () => {
  const c = loadConfig({ env: { ...base, LAB_DATABASE_URL: 'postgres://lab:hunter2hunter2@db/lab', SMTP_PASS: 'smtp-secret-value' } });
  const shown = JSON.stringify(maskedValues(c));
  assert.ok(!shown.includes('hunter2hunter2'));
  assert.ok(!shown.includes('smtp-secret-value'));
  assert.match(maskedValues(c).LAB_DATABASE_URL!, /postgres:\/\/lab:\*\*\*\*@db\/lab/);
  try {
    loadConfig({ env: { ...base, SUPABASE_SERVICE_KEY: 'service-secret-123456' } });
  } catch (err) {
    assert.ok(!(err as Error).message.includes('service-secret-123456'));
    return;
  }
  assert.fail('a key without SUPABASE_URL is a problem');
});

test('LAB_JUPYTER_PORT_RANGE means what the port picker does: the number of ports tried, the preferred one included', async () => {
  const { createServer } = await import('node:net');
  const { pickFreePort, preferredPort } = await import('../src/services/jupyter/ports.js');
  const spec = CONFIG_KEYS.find((k) => k.key === 'LAB_JUPYTER_PORT_RANGE')!;
  assert.match(spec.description, /number of ports tried, the preferred one included/i);
  // A window of 2 from a preferred port held by someone else: only the next one may be taken.
  const held = createServer();
  await new Promise<void>((r) => held.listen(0, '127.0.0.1', () => r()));
  const taken = (held.address() as { port: number }).port;
  try {
    const uid = 7;
    const basePort = taken - (uid % 100);
    assert.equal(preferredPort(basePort, uid), taken);
    const picked = await pickFreePort({ basePort, uid, range: 2, host: '127.0.0.1' }).catch((e: Error) => e.message);
    assert.ok(picked === taken + 1 || /no free port in/.test(String(picked)), `range 2 tries ${taken} and ${taken + 1} only: got ${picked}`);
    await assert.rejects(pickFreePort({ basePort, uid, range: 1, host: '127.0.0.1' }), new RegExp(`no free port in ${taken}–${taken} `));
  } finally {
    await new Promise((r) => held.close(r));
  }
});
