// The user's Jupyter commands: start (and wait for the link), stop, ls, url. Every mode.
import { isAbsolute, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dashboardLink } from '../services/dashboard-link.js';
import type { LabStore } from '../services/store/lab-store.js';
import type { SessionRow } from '../services/store/types.js';
import { formatTime, memberTimeZone, timeHeading } from '../services/time-format.js';
import { defineCommand, type Command } from './command.js';
import { CliFailure, positiveInt, shorten, table, UsageError } from './output.js';
import { findSession, idArg, withUserStore } from './user-store.js';
import { GPU_OPTIONS, GPU_USAGE, gpuOptions } from './gpu-options.js';

/** How long beyond the agent's own limits the CLI waits: a cron agent picks requests up once a minute. */
const PICKUP_MARGIN_S = 75;

const sessionArg = (args: string[]): string => idArg(args, 'session', 'lab-agent jupyter ls');

function waitSeconds(option: unknown, fallback: number): number {
  if (option === undefined) return fallback;
  const s = Number(option);
  if (!Number.isFinite(s) || s < 0) throw new UsageError('--wait takes seconds, e.g. --wait 120 (0 = do not wait)');
  return s;
}

/** Polls the row until `done` holds or the time is up; returns the last row seen. */
async function waitFor(store: LabStore, s: SessionRow, done: (s: SessionRow) => boolean, seconds: number): Promise<SessionRow> {
  const deadline = Date.now() + seconds * 1000;
  let row = s;
  while (!done(row) && Date.now() < deadline) {
    await sleep(250);
    row = await store.getSession(row.session_id);
  }
  return row;
}

const ended = (s: SessionRow) => s.status === 'stopped' || s.status === 'failed';

/** A loopback-bound server is reached through a tunnel: said on stderr, so stdout stays the link. */
function tellTunnel(s: SessionRow, json: boolean): void {
  if (!s.tunnel || json) return;
  if (s.executor === 'slurm') {
    process.stderr.write(`It runs as Slurm job ${s.slurm_job_id ?? '?'} on compute node ${s.slurm_node ?? '?'}; the link works inside the cluster. From your computer, open a tunnel through the login node first:\n  ${s.tunnel}\nthen open the link with localhost in place of the node's name.\n`);
  } else {
    process.stderr.write(`It listens on this server's loopback address only. From your computer, open a tunnel first:\n  ${s.tunnel}\nthen open the link there.\n`);
  }
}

/** Why a session is not up yet, when the row says: the GPUs it waits for, or Slurm's reason. */
function waitingFor(s: SessionRow): string {
  if (s.status === 'pending' && s.pending_reason) return ` (${s.pending_reason})`;
  if (s.status === 'starting' && s.slurm_state && s.slurm_state !== 'RUNNING') {
    return ` (Slurm job ${s.slurm_job_id ?? '?'}: ${s.slurm_state}${s.slurm_reason ? `, ${s.slurm_reason}` : ''})`;
  }
  return '';
}

export function sessionsTable(rows: SessionRow[], tokenlessUrl: (url: string | null) => string | null, zone = memberTimeZone()): string {
  if (rows.length === 0) return 'no Jupyter sessions yet: start one with `lab-agent jupyter start`';
  return table([
    ['ID', 'STATUS', timeHeading('CREATED', zone), 'HOST', 'PORT', 'URL / ERROR'],
    ...rows.map((s) => [
      s.session_id.slice(0, 8), s.status, formatTime(s.created_at, zone, 'cell'), s.run_host ?? s.host ?? '(any)', s.port === null ? '-' : String(s.port),
      shorten(s.status === 'failed' ? s.error_message ?? '' : s.status === 'running' ? tokenlessUrl(s.url) ?? '' : `${s.dir ?? ''}${waitingFor(s)}`.trim(), 100),
    ]),
  ]);
}

export const jupyterCommands: Command[] = [
  defineCommand({
    name: 'jupyter start',
    summary: 'ask the agent for a Jupyter server; waits until it answers and prints its link',
    usage: `lab-agent jupyter start [--dir D] [--host H] [--app lab|notebook|server] ${GPU_USAGE} [--wait S] [--json]`,
    json: true,
    options: {
      dir: { type: 'string', help: 'the folder the server opens in', whenAbsent: 'your home' }, host: { type: 'string', help: 'run the server on this host', whenAbsent: 'any host of yours' },
      app: { type: 'string', help: 'lab, notebook or server', whenAbsent: 'what is installed, lab first' }, wait: { type: 'string', help: 'seconds to wait for the link', whenAbsent: 'the start timeout + 30' },
      ...GPU_OPTIONS,
    },
    async run({ options, env, out }) {
      const app = options.app ?? null;
      if (app !== null && !['lab', 'notebook', 'server'].includes(app)) throw new UsageError('--app is lab, notebook or server');
      const gpu = gpuOptions(options);
      const dir = options.dir;
      // A relative folder means this shell's folder here; on another host it is taken from that home.
      const absDir = dir === undefined ? null : isAbsolute(dir) || options.host ? dir : resolve(dir);
      const row = await withUserStore(env, async (store, config) => {
        const requested = await store.requestJupyter({ dir: absDir, host: options.host ?? null, app, ...gpu });
        process.stderr.write(`Jupyter session ${requested.session_id} requested; waiting for the agent…\n`);
        const page = dashboardLink(config.values.LAB_DASHBOARD_URL, 'session', requested.session_id);
        if (page) process.stderr.write(`on your dashboard: ${page}\n`);
        const seconds = waitSeconds(options.wait, config.jupyter.startTimeoutS + PICKUP_MARGIN_S);
        return waitFor(store, requested, (s) => s.status === 'running' || ended(s), seconds);
      });
      if (row.status === 'running') {
        tellTunnel(row, out.json);
        out.data(row, (s: SessionRow) => s.url ?? '');
        return 0;
      }
      if (out.json) {
        out.data(row, () => '');
        return 1;
      }
      if (row.status === 'failed') throw new CliFailure(`Jupyter session ${row.session_id} failed: ${row.error_message ?? 'no reason given'}`);
      if (row.status === 'stopped') throw new CliFailure(`Jupyter session ${row.session_id} was stopped before it was ready`);
      throw new CliFailure(
        `Jupyter session ${row.session_id} is still ${row.status}${waitingFor(row)}: is an agent running for you on ${row.host ?? 'a host'}? ` +
          `Check later with \`lab-agent jupyter url ${row.session_id}\`.`,
      );
    },
  }),
  defineCommand({
    name: 'jupyter stop',
    summary: 'stop a Jupyter server (SIGTERM, SIGKILL after the grace); waits until it is stopped',
    usage: 'lab-agent jupyter stop <session> [--wait S] [--json]',
    json: true,
    options: { wait: { type: 'string', help: 'seconds to wait for the server to stop', whenAbsent: 'the kill grace + 30' } },
    async run({ args, options, env, out }) {
      const id = sessionArg(args);
      const row = await withUserStore(env, async (store, config) => {
        const s = await findSession(store, id);
        if (ended(s)) return s;
        const requested = await store.requestJupyterStop(s.session_id);
        return waitFor(store, requested, ended, waitSeconds(options.wait, config.killGraceS + PICKUP_MARGIN_S));
      });
      out.data(row, (s: SessionRow) =>
        ended(s) ? `${s.session_id} ${s.status}${s.error_message ? `: ${s.error_message.split('\n')[0]}` : ''}` : `${s.session_id}: stop requested; the agent stops it on its next pass`,
      );
    },
  }),
  defineCommand({
    name: 'jupyter ls',
    summary: 'your Jupyter sessions, newest first',
    usage: 'lab-agent jupyter ls [--active] [--limit N] [--json]',
    json: true,
    options: { active: { type: 'boolean', help: 'only servers starting or running', whenAbsent: 'off' }, limit: { type: 'string', help: 'how many sessions to show', whenAbsent: '20' } },
    async run({ options, env, out }) {
      const limit = positiveInt(options.limit, '--limit', 20);
      const rows = await withUserStore(env, (store) => store.listSessions({ limit, activeOnly: Boolean(options.active) }));
      const { tokenlessUrl } = await import('../machines/jupyter-rules.js'); // not at the top: its kit brings XState
      out.data(rows, (r) => sessionsTable(r, tokenlessUrl));
    },
  }),
  defineCommand({
    name: 'jupyter url',
    summary: "a running Jupyter server's link, token included (keep it to yourself)",
    usage: 'lab-agent jupyter url <session> [--json]',
    json: true,
    async run({ args, env, out }) {
      const id = sessionArg(args);
      const s = await withUserStore(env, (store) => findSession(store, id));
      if (s.status !== 'running' || !s.url) {
        throw new CliFailure(`Jupyter session ${s.session_id} is ${s.status}${waitingFor(s)}${s.error_message ? `: ${s.error_message}` : ''}; it has no link now`);
      }
      tellTunnel(s, out.json);
      out.data({ session_id: s.session_id, url: s.url, tunnel: s.tunnel, port: s.port, host: s.slurm_node ?? s.run_host }, (v: { url: string }) => v.url);
    },
  }),
];
