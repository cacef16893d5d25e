// Jupyter links name an address the server listens on. With JUPYTER_IP=127.0.0.1 the old link
// named the server's host name: an address Jupyter does not listen on, where another local Linux
// user can listen on the (predictable) port first and receive the click, token and all. Here that
// user does exactly that; the link must reach the real server, and the listener nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { AgentEnv, eventually, sleep, type CliResult } from './helpers/agent-env.js';
import { freshDatabase, killLeftoverJupyter, type TestDb } from './helpers/db.js';
import { which } from './helpers/install-env.js';
import { addLinuxUser, deleteLinuxUser, killUserProcesses } from './helpers/linux-users.js';
import { hasLegacyJupyter, requirePart, requireRoot } from './helpers/required.js';
import { freePort, readMail, startSmtp, type TestSmtp } from './helpers/smtp.js';
import { jupyterLink } from '../src/services/jupyter/link.js';
import { sessionRuntimeDir } from '../src/services/jupyter/session-record.js';
import { canonical, listeningAddresses, receives } from '../src/services/jupyter/listening.js';
import type { SessionRow } from '../src/services/store/types.js';

describe('the link a server gets', () => {
  const base = { port: 8801, token: 't/k', app: 'lab' as const, linuxUser: 'hana', publicHost: 'gpu1.lab' };
  test('loopback: its own address and the tunnel; wildcard: the public name; a specific address: that address', () => {
    assert.deepEqual(jupyterLink({ ...base, ip: '127.0.0.1' }), { url: 'http://127.0.0.1:8801/lab?token=t%2Fk', tunnel: 'ssh -N -L 8801:127.0.0.1:8801 hana@gpu1.lab' });
    assert.deepEqual(jupyterLink({ ...base, ip: 'localhost' }), { url: 'http://127.0.0.1:8801/lab?token=t%2Fk', tunnel: 'ssh -N -L 8801:127.0.0.1:8801 hana@gpu1.lab' });
    assert.deepEqual(jupyterLink({ ...base, ip: '::1', app: 'notebook' }), { url: 'http://[::1]:8801/tree?token=t%2Fk', tunnel: 'ssh -N -L 8801:[::1]:8801 hana@gpu1.lab' });
    assert.deepEqual(jupyterLink({ ...base, ip: '0.0.0.0' }), { url: 'http://gpu1.lab:8801/lab?token=t%2Fk', tunnel: null });
    assert.deepEqual(jupyterLink({ ...base, ip: '::', app: 'server' }), { url: 'http://gpu1.lab:8801/?token=t%2Fk', tunnel: null });
    assert.deepEqual(jupyterLink({ ...base, ip: '10.1.2.3' }), { url: 'http://10.1.2.3:8801/lab?token=t%2Fk', tunnel: null });
  });

  test('who receives a connection: the wildcard its family, a specific address only itself', () => {
    assert.ok(receives('0.0.0.0', '192.0.2.7'));
    assert.ok(!receives('0.0.0.0', '::1'));
    assert.ok(receives('::', '192.0.2.7'));
    assert.ok(receives('127.0.0.1', '127.0.0.1'));
    assert.ok(!receives('127.0.0.1', '192.0.2.7'));
    assert.ok(receives('::1', '0:0:0:0:0:0:0:1'));
    assert.equal(canonical('0:0:0:0:0:0:0:1'), '::1');
  });

  test('a process\'s listening addresses come from /proc', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      assert.deepEqual(listeningAddresses(process.pid, port), ['127.0.0.1']);
      assert.deepEqual(listeningAddresses(process.pid, port + 1 === 65536 ? 1 : port + 1), []);
    } finally {
      server.close();
    }
  });
});

const skip = requireRoot('the attack needs a second Linux user') ||
  requirePart('useradd and runuser', which('useradd') && which('runuser'), 'apt-get install passwd util-linux') ||
  requirePart('legacy Notebook 6', hasLegacyJupyter, 'apt-get install jupyter-notebook (Debian/Ubuntu)');

/** This machine's address on the network (what its host name means to others), else IPv6 wildcard. */
function lanAddress(): { listen: string; publicHost: string } {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return { listen: a.address, publicHost: a.address };
  }
  // No network: the IPv6 wildcard, which another user may take beside 127.0.0.1 all the same.
  return { listen: '::', publicHost: '::1' };
}

describe('another local user listening on the Jupyter port', { skip, timeout: 240_000 }, () => {
  let db: TestDb;
  let smtp: TestSmtp;
  let attacker: string;
  let listener: ChildProcess | null = null;
  let heard = '';
  before(async () => {
    db = await freshDatabase();
    smtp = await startSmtp();
    attacker = addLinuxUser('labx').name;
  });
  after(async () => {
    listener?.kill('SIGKILL');
    killUserProcesses(attacker);
    await sleep(200);
    deleteLinuxUser(attacker);
    await killLeftoverJupyter(db);
    await db.drop();
  });

  async function withTicks(a: AgentEnv, args: string[]): Promise<CliResult> {
    let done = false;
    const running = a.cli(args).finally(() => (done = true));
    while (!done) {
      assert.equal((await a.cli(['tick'])).code, 0);
      await sleep(100);
    }
    return running;
  }

  const get = (url: string): Promise<{ status: number; server: string }> =>
    new Promise((resolve, reject) => {
      request(url, { agent: false, timeout: 60_000 }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, server: String(res.headers.server ?? '') });
      }).on('error', reject).end();
    });

  test('the link reaches the real server; the listener on the LAN address gets nothing; email, CLI, row and doctor agree', async () => {
    const lan = lanAddress();
    const port = await freePort();
    // The attacker takes <LAN address>:<port> before the member's server starts (the port is predictable).
    const script = `const s = require('net').createServer((c) => c.once('data', (d) => { process.stdout.write('GOT ' + d.toString().split('\\r\\n')[0] + '\\n'); c.end('HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok'); }));
      s.listen({ host: process.argv[1], port: Number(process.argv[2]), ipv6Only: process.argv[1].includes(':') }, () => process.stdout.write('LISTENING\\n'));`;
    listener = spawn('runuser', ['-u', attacker, '--', process.execPath, '-e', script, lan.listen, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    listener.stdout!.on('data', (d) => (heard += d));
    listener.stderr!.on('data', (d) => (heard += d));
    await eventually('the attacker to listen', async () => {
      if (/Error/.test(heard)) throw new Error(heard);
      return heard.includes('LISTENING');
    }, 60_000, 50);

    const a = new AgentEnv(db, 'linkuser', {
      JUPYTER_IP: '127.0.0.1', JUPYTER_BASE_PORT: String(port - ((process.getuid?.() ?? 0) % 100)), LAB_JUPYTER_PORT_RANGE: '1',
      LAB_PUBLIC_HOST: lan.publicHost, JUPYTER_LEGACY: 'true', LAB_JUPYTER: '/usr/bin/jupyter', LAB_EMAIL: 'linkuser@lab.example',
      SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), LAB_JUPYTER_START_TIMEOUT: '180', // CI runs files side by side on 2 cores
    });
    const started = await withTicks(a, ['jupyter', 'start', '--json']);
    assert.equal(started.code, 0, started.stderr + started.stdout);
    const s = JSON.parse(started.stdout) as SessionRow;
    assert.equal(s.port, port, 'the server has the port the attacker listens on (on another address)');
    const host = lan.publicHost.includes(':') ? `[${lan.publicHost}]` : lan.publicHost;
    assert.ok(s.url!.startsWith(`http://127.0.0.1:${port}/tree?token=`), s.url!);
    assert.equal(s.tunnel, `ssh -N -L ${port}:127.0.0.1:${port} linkuser@${lan.publicHost}`);

    // Its runtime folder, config (the token) and log are the member's alone, whatever the umask.
    const runtime = sessionRuntimeDir(a.home, s.session_id);
    assert.equal(statSync(runtime).mode & 0o777, 0o700);
    for (const f of readdirSync(runtime)) assert.equal(statSync(join(runtime, f)).mode & 0o777, 0o600, f);
    assert.equal(statSync(s.log_path!).mode & 0o777, 0o600);

    // The click: it reaches Jupyter itself.
    const click = await get(s.url!);
    assert.match(click.server, /Tornado/, 'Jupyter answered');
    assert.ok(click.status === 200 || click.status === 302, `status ${click.status}`);
    assert.ok(!heard.includes('GOT'), `the listener heard: ${heard}`);

    // The CLI says how to reach it; so does the email.
    const url = await a.cli(['jupyter', 'url', s.session_id]);
    assert.equal(url.stdout.trim(), s.url);
    assert.ok(url.stderr.includes(s.tunnel!), url.stderr);
    // Ticks until the ready email arrives (a busy machine may need more than one to send it).
    const mail = await eventually('the ready email', async () => {
      const found = smtp.received.map(readMail).find((m) => m.text.includes(s.session_id));
      if (!found) await a.cli(['tick']);
      return found;
    }, 90_000, 500);
    assert.ok(mail.text.includes(s.url!));
    assert.ok(mail.text.includes(s.tunnel!));
    assert.ok(!mail.text.includes(`${host}:${port}`), 'no link to the address the attacker holds');

    // Doctor: the link reaches its own server with the token.
    const doc = JSON.parse((await a.cli(['doctor', '--json'])).stdout) as { checks: { id: string; status: string; detail: string }[] };
    const link = doc.checks.find((c) => c.id === 'jupyter-link')!;
    assert.equal(link.status, 'ok', link.detail);

    // A row with the old kind of link (the host name): doctor fails it without sending the token there.
    await db.admin.query('update public.jupyter_sessions set url = $2 where session_id = $1', [s.session_id, s.url!.replace(`127.0.0.1:${port}`, `${host}:${port}`)]);
    const stale = JSON.parse((await a.cli(['doctor', '--json'])).stdout) as { checks: { id: string; status: string; detail: string }[] };
    const bad = stale.checks.find((c) => c.id === 'jupyter-link')!;
    assert.equal(bad.status, 'fail');
    assert.match(bad.detail, /listens on 127\.0\.0\.1 at port \d+; the token was not sent/);
    assert.ok(!heard.includes('GOT'), `the listener heard: ${heard}`);
    // ...and that address really was the attacker's: what the old link would have reached.
    assert.equal((await get(`http://${host}:${port}/`)).server, '');
    assert.match(heard, /GOT GET \/ HTTP/);
    assert.ok(!heard.includes(s.token!));

    const stop = await withTicks(a, ['jupyter', 'stop', s.session_id, '--json']);
    assert.equal((JSON.parse(stop.stdout) as SessionRow).status, 'stopped');
  });
});
