// Jupyter on Slurm end to end, on the one-node Slurm of scripts/slurm-local.sh: a non-root
// member's agent (LAB_EXECUTOR=slurm) turns `lab-agent jupyter start` into a Slurm batch job, driven
// by `lab-agent tick` as cron would (at most one squeue per tick). While Slurm holds the job the
// session stays starting with Slurm's state and reason; once it runs, the server on the compute
// node answers with the session's token at the node and port in the row's link, and `jupyter
// stop` ends the Slurm job (scancel). A scancel from outside is noticed; a GPU request becomes
// --gres=gpu:N (which this GPU-less cluster refuses, as the member is told). Root only (it creates
// a Linux user); under CI=true a missing Slurm or Debian's jupyter-notebook fails the suite.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { hostname } from 'node:os';
import { eventually } from './helpers/agent-env.js';
import { requirePart, requireRoot } from './helpers/required.js';
import { hasSlurm, runAsUser, useLocalSlurm, type LocalSlurm } from './helpers/slurm.js';
import { addSlurmMember, type SlurmMember } from './helpers/slurm-member.js';

const skip =
  requireRoot('the Slurm tests start slurmd and create Linux users') ||
  requirePart('Slurm (slurmctld, slurmd, munged and the client commands)', hasSlurm(), 'as root: apt-get install -y slurm-wlm munge (as .ci/run does)') ||
  requirePart("Debian's jupyter-notebook", existsSync('/usr/bin/jupyter-notebook'), 'apt-get install -y jupyter-notebook (as .ci/run does)');

interface Session {
  session_id: string; status: string; url: string | null; tunnel: string | null; port: number | null; token: string | null; pid: number | null;
  error_message: string | null; executor: string | null; slurm_job_id: string | null; slurm_state: string | null; slurm_reason: string | null;
  slurm_node: string | null; gpus: number;
}

/** GET /api/status on the node: the HTTP status, or null when nothing answers. */
function apiStatus(host: string, port: number, token: string | null): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/api/status', headers: token ? { Authorization: `token ${token}` } : {}, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

describe('Jupyter sessions on Slurm (LAB_EXECUTOR=slurm)', { skip, timeout: 10 * 60_000 }, () => {
  let slurm: LocalSlurm;
  let member: SlurmMember;
  const node = hostname().split('.')[0]!;

  const cli = (args: string[], extra: Record<string, string> = {}) => member.cli(args, extra);

  async function start(opts: string[] = []): Promise<string> {
    const r = await cli(['jupyter', 'start', '--wait', '0', '--json', ...opts]);
    const row = JSON.parse(r.stdout) as Session;
    assert.match(row.session_id, /^[0-9a-f-]{36}$/, r.stderr);
    return row.session_id;
  }

  async function session(id: string): Promise<Session> {
    const r = await cli(['jupyter', 'ls', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const found = (JSON.parse(r.stdout) as Session[]).find((s) => s.session_id === id);
    assert.ok(found, `session ${id} listed`);
    return found;
  }

  /** One cron tick (with `extra` in the agent's environment); at most one squeue call. */
  async function tick(extra: Record<string, string> = {}): Promise<void> {
    const before = member.calls('squeue');
    const r = await cli(['tick'], extra);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(member.calls('squeue') - before <= 1, 'one squeue call per tick at most');
  }

  const tickUntil = (id: string, what: string, done: (s: Session) => boolean, extra: Record<string, string> = {}) =>
    eventually(`session ${id} ${what}`, async () => {
      await tick(extra);
      const s = await session(id);
      return done(s) ? s : null;
    }, 120_000, 300);

  const squeueState = (slurmId: string): string =>
    execFileSync('squeue', ['-h', '-t', 'all', '-j', slurmId, '-o', '%T'], { env: { ...process.env, SLURM_CONF: slurm.conf }, encoding: 'utf8' }).trim();

  before(() => {
    slurm = useLocalSlurm();
    member = addSlurmMember(slurm, 'labjs', {
      LAB_JUPYTER: '/usr/bin/jupyter', LAB_JUPYTER_APP: 'notebook', LAB_JUPYTER_START_TIMEOUT: '90', LAB_JUPYTER_MAX: '3', LAB_PUBLIC_HOST: 'login.lab.example',
    });
  });

  after(async () => {
    await member?.remove();
    slurm?.release();
  });

  test('held by Slurm it stays starting with Slurm\'s reason; running, the server on the node answers with its token; stop is scancel', async () => {
    const id = await start();
    // The tick that submits it asks Slurm to hold it (a busy cluster, as far as the session can tell).
    const held = await tickUntil(id, 'held in Slurm', (s) => s.slurm_state === 'PENDING' && s.slurm_reason !== 'submitted', { LAB_SLURM_EXTRA_ARGS: '--hold' });
    assert.equal(held.status, 'starting');
    assert.equal(held.executor, 'slurm');
    assert.match(held.slurm_job_id ?? '', /^\d+$/);
    assert.match(held.slurm_reason ?? '', /Held/i);
    assert.equal(squeueState(held.slurm_job_id!), 'PENDING');
    const waiting = await cli(['jupyter', 'ls']);
    assert.match(waiting.stdout, new RegExp(`Slurm job ${held.slurm_job_id}: PENDING`), 'the member sees why it waits');
    const noLink = await cli(['jupyter', 'url', id]);
    assert.equal(noLink.code, 1);
    assert.match(noLink.stderr, new RegExp(`is starting \\(Slurm job ${held.slurm_job_id}: PENDING, .*Held`, 'i'));
    // Held longer than the start timeout would allow a local server: the timeout counts from Slurm's start.
    await tick({ LAB_JUPYTER_START_TIMEOUT: '1' });
    assert.equal((await session(id)).status, 'starting');

    const released = await runAsUser(member.user, ['scontrol', 'release', held.slurm_job_id!]);
    assert.equal(released.code, 0, released.stderr);
    const up = await tickUntil(id, 'running', (s) => s.status === 'running');
    assert.equal(up.slurm_job_id, held.slurm_job_id, 'the same Slurm job: never a second sbatch');
    assert.equal(member.calls('sbatch'), 1);
    assert.equal(up.slurm_node, node);
    assert.equal(up.pid, null, 'no process of the agent\'s host');
    assert.ok(up.port && up.token);
    assert.equal(up.url, `http://${node}:${up.port}/tree?token=${up.token}`, 'the link names the compute node');
    assert.equal(up.tunnel, `ssh -N -L ${up.port}:${node}:${up.port} ${member.user.name}@login.lab.example`);
    assert.equal(squeueState(up.slurm_job_id!), 'RUNNING');
    assert.equal(await apiStatus(node, up.port, up.token), 200, 'the server answers with the session\'s token');
    assert.equal(await apiStatus(node, up.port, null), 403, 'and refuses anyone without it');
    const ps = execFileSync('ps', ['-u', member.user.name, '-o', 'args='], { encoding: 'utf8' });
    assert.ok(!ps.includes(up.token), 'the token is on no command line');

    const shown = await cli(['jupyter', 'url', id]);
    assert.equal(shown.code, 0, shown.stderr);

    const stop = await cli(['jupyter', 'stop', id, '--wait', '0']);
    assert.equal(stop.code === 0 || stop.code === 1, true, stop.stderr);
    const stopped = await tickUntil(id, 'stopped', (s) => s.status === 'stopped' || s.status === 'failed');
    assert.equal(stopped.status, 'stopped', JSON.stringify(stopped));
    await eventually('the Slurm job to end', async () => !['RUNNING', 'COMPLETING', 'PENDING'].includes(squeueState(up.slurm_job_id!)), 60_000, 300);
    await eventually('the port to close', async () => (await apiStatus(node, up.port!, up.token)) === null, 60_000, 300);
  });

  test('a scancel from outside the agent is noticed: the session stops with Slurm\'s reason', async () => {
    const id = await start();
    const up = await tickUntil(id, 'running', (s) => s.status === 'running');
    const r = await runAsUser(member.user, ['scancel', up.slurm_job_id!]);
    assert.equal(r.code, 0, r.stderr);
    const ended = await tickUntil(id, 'ended', (s) => s.status === 'stopped' || s.status === 'failed');
    assert.equal(ended.status, 'stopped', JSON.stringify(ended));
    const events = await cli(['jupyter', 'ls', '--json']);
    assert.equal(events.code, 0, events.stderr);
  });

  test('--gpus asks Slurm for --gres=gpu:N; a cluster without GPUs refuses, and the member is told why', async () => {
    const id = await start(['--gpus', '2']);
    const failed = await tickUntil(id, 'failed', (s) => s.status === 'failed' || s.status === 'running');
    assert.equal(failed.status, 'failed');
    assert.equal(failed.gpus, 2);
    assert.match(failed.error_message ?? '', /Slurm refused the job: .*(gres|generic resource|Requested node configuration)/i);
    assert.ok(member.callLines('sbatch').some((l) => l.includes('--gres=gpu:2')), member.callLines('sbatch').join('\n'));
    const bad = await cli(['jupyter', 'start', '--wait', '0', '--gpu-mem', '40G']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--gpu-mem and --gpu-model need --gpus N/);
  });
});
