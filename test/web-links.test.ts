// LAB_DASHBOARD_URL: emails and the CLI link to the job's or session's page; without it, nothing
// changes (stdout of submit stays the bare id that scripts read).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { useFreshDatabase } from './helpers/fresh-db.js';
import { AgentEnv } from './helpers/agent-env.js';
import { dashboardLink } from '../src/services/dashboard-link.js';
import { renderJobEmail, renderJupyterEmail } from '../src/services/job-email.js';

const db = await useFreshDatabase();
let a: AgentEnv;

before(async () => {
  a = new AgentEnv(db, 'linker');
});

const ID = '0b4e8c9a-1f2d-4e5f-8a9b-0c1d2e3f4a5b';

test('a link names the page by its fragment, whatever the base ends with', () => {
  assert.equal(dashboardLink('http://127.0.0.1:8642/', 'job', ID), `http://127.0.0.1:8642/#/jobs/${ID}`);
  assert.equal(dashboardLink('https://lab.example/dash/index.html#/old', 'session', ID), `https://lab.example/dash/index.html#/jupyter/${ID}`);
  assert.equal(dashboardLink('', 'job', ID), null);
});

test('emails carry the page link when LAB_DASHBOARD_URL is set, and not otherwise', () => {
  const job = { job_id: ID, script_path: '/home/a/t.py', status: 'finished' as const, retcode: 0 };
  const withLink = renderJobEmail(job, { host: 'gpu1', dashboardUrl: 'https://lab.example/' });
  assert.ok(withLink.text.includes(`On your dashboard: https://lab.example/#/jobs/${ID}`));
  assert.ok(withLink.html.includes(`<a href="https://lab.example/#/jobs/${ID}">`));
  const without = renderJobEmail(job, { host: 'gpu1' });
  assert.ok(!without.text.includes('dashboard') && !without.html.includes('dashboard'));
  const jup = renderJupyterEmail({ session_id: ID, port: 8801, url: 'http://127.0.0.1:8801/lab?token=t', tunnel: 'ssh -N -L 8801:127.0.0.1:8801 a@gpu1' }, { host: 'gpu1', dashboardUrl: 'https://lab.example/' });
  assert.ok(jup.text.includes(`https://lab.example/#/jupyter/${ID}`));
});

test('the CLI: submit keeps its id on stdout and names the page on stderr; status shows it', async () => {
  const script = a.write('t.py', 'print(1)\n');
  const plain = await a.cli(['submit', script]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(!plain.stderr.includes('dashboard'));
  const env = { LAB_DASHBOARD_URL: 'http://127.0.0.1:8642/' };
  const r = await a.cli(['submit', script], env);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.ok(r.stderr.includes(`on your dashboard: http://127.0.0.1:8642/#/jobs/${id}`), r.stderr);
  const s = await a.cli(['status', id], env);
  assert.match(s.stdout, new RegExp(`dashboard\\s+http://127\\.0\\.0\\.1:8642/#/jobs/${id}`));
  const bad = await a.cli(['status', id], { LAB_DASHBOARD_URL: 'not a url' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /LAB_DASHBOARD_URL/);
});

test('lab-agent web: bad --ip or --port is a usage error before anything starts; no option takes a token', async () => {
  const ip = await a.cli(['web', '--ip', 'everywhere']);
  assert.equal(ip.code, 2);
  assert.match(ip.stderr, /--ip takes an address/);
  const port = await a.cli(['web', '--port', '70000']);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /--port takes a port number/);
  const token = await a.cli(['web', '--token', 'chosen-by-me']);
  assert.equal(token.code, 2, 'the token is always fresh and random, never from the command line');
});
