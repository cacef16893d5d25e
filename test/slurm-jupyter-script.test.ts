// The Jupyter batch script (src/services/slurm/jupyter-batch.ts) run by a real shell, as slurmd
// would run it, with a stand-in for Jupyter that records its arguments and exits 3: it writes the
// node and a free port where the agent reads them, passes that port and the session's config to
// Jupyter, and writes Jupyter's exit code when it ends. The agent reads only a well-formed
// connection file (a node name that is a host name, a port in range).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jupyterBatchScript, readConnection, serverEnded, slurmSessionName } from '../src/services/slurm/jupyter-batch.js';

test('the batch script writes the node and a free port, runs Jupyter on that port with the session config, and records its exit code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-jupyter-batch-'));
  try {
    const runtimeDir = join(dir, 'rt');
    execFileSync('mkdir', ['-m', '700', runtimeDir]);
    const fake = join(dir, 'jupyter-notebook');
    writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$@" > ${join(dir, 'args')}\nexit 3\n`, { mode: 0o755 });
    const script = jupyterBatchScript({
      sessionId: '0123456789abcdef', jupyterPath: fake, app: 'notebook', legacy: true, dir, configFile: join(runtimeDir, "it's config.json"), runtimeDir, umask: '022',
    });
    const file = join(dir, 'job.sh');
    writeFileSync(file, script, { mode: 0o700 });
    let code = 0;
    try {
      execFileSync('sh', [file], { env: { PATH: '/usr/bin:/bin', SLURMD_NODENAME: 'node07', SLURM_JOB_ID: '77' }, stdio: 'pipe' });
    } catch (err) {
      code = (err as { status: number }).status;
    }
    assert.equal(code, 3, 'the job ends with Jupyter\'s exit code');
    const conn = readConnection(runtimeDir);
    assert.equal(conn?.node, 'node07');
    assert.ok(conn && conn.port > 0 && conn.port < 65536);
    const args = readFileSync(join(dir, 'args'), 'utf8').split('\n');
    assert.ok(args.includes(`--port=${conn!.port}`), args.join(' '));
    assert.ok(args.includes(`--config=${join(runtimeDir, "it's config.json")}`), 'a quoted path arrives whole');
    assert.ok(args.includes('--ip=0.0.0.0'), 'bound to the node\'s addresses, reachable from the login node');
    assert.ok(serverEnded(runtimeDir));
    assert.equal(readFileSync(join(runtimeDir, 'ended'), 'utf8').trim(), '3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a connection file is read only when it names a host and a port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-jupyter-conn-'));
  try {
    const put = (v: unknown) => writeFileSync(join(dir, 'connection.json'), JSON.stringify(v));
    put({ node: 'gpu-node-1.cluster', port: 40001 });
    assert.deepEqual(readConnection(dir), { node: 'gpu-node-1.cluster', port: 40001 });
    for (const bad of [{ node: 'evil.example/x?', port: 1 }, { node: 'n1', port: 70000 }, { node: '', port: 8888 }, { node: 'n1' }]) {
      put(bad);
      assert.equal(readConnection(dir), null, JSON.stringify(bad));
    }
    assert.equal(slurmSessionName('abcdef0123456789'), 'lab-jupyter-abcdef01');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
