// What `supervise` (npm start) tells a member around the log: where the log is and the next step
// when it starts; when it stops (SIGTERM, Ctrl-C), what keeps running and how to stop that. And
// `lab-agent db start|stop` for the local database, which outlives the agent on purpose (the next
// cron tick or command would otherwise pay its start-up each time).
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { whichIn } from '../host/executables.js';
import { isAlive } from '../host/process-identity.js';
import { packageRoot } from '../package-info.js';
import { ensureLocalPostgres, serverRoot, stopLocalPostgres } from '../store/local-postgres.js';
import { agentLockHolder, agentLogFile } from './agent-process.js';
import type { AgentContext } from './context.js';

/** How the member runs this CLI from any folder: `lab-agent` when that is this package on PATH, else node with its path. */
export function cliInvocation(pathVar: string | undefined): string {
  const ours = join(packageRoot, 'dist', 'index.js');
  const found = whichIn('lab-agent', pathVar);
  try {
    // The link `npm install -g --prefix ~/.local .` makes, or install_agent.sh's wrapper script that runs this build.
    if (found && (realpathSync(found) === realpathSync(ours) || readFileSync(found, 'utf8').slice(0, 4096).includes(ours))) return 'lab-agent';
  } catch {
    /* a broken link: not ours */
  }
  return `node ${ours}`;
}

export function startLines(ctx: AgentContext, pathVar: string | undefined): string[] {
  const cli = cliInvocation(pathVar);
  return [
    `lab-agent: supervising for ${ctx.config.user} on ${ctx.host} (${ctx.config.mode} database); log: ${agentLogFile(ctx.config)}; SIGTERM or Ctrl-C stops it`,
    `Next, in another terminal: ${cli} submit ~/hello.py -- --n 3   (then: ${cli} wait <job-id>; the dashboard: ${cli} web)`,
  ];
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** One line: what the stopped supervisor leaves running, each with how to stop it. */
export async function stopLine(ctx: AgentContext): Promise<string> {
  const left: string[] = [];
  try {
    const jobs = (await ctx.store.listJobs({ status: 'running', limit: 1000 })).filter((j) => j.run_host === ctx.host);
    if (jobs.length) left.push(`${plural(jobs.length, 'job')} (detached: they run to their end; the next agent run records it; \`lab-agent cancel <id>\` stops one)`);
    const sessions = await ctx.store.listSessions({ activeOnly: true, host: ctx.host });
    if (sessions.length) left.push(`${plural(sessions.length, 'Jupyter server')} (\`lab-agent jupyter stop <id>\`)`);
  } catch {
    /* the database is gone already: say what we know */
  }
  if (ctx.config.mode === 'local') left.push('the local database (`lab-agent db stop`)');
  const still = left.length ? `still running: ${left.join(', ')}` : 'nothing of it is left running';
  return `lab-agent: supervisor stopped; ${still}. Cron's \`lab-agent tick\` (if installed) or \`npm start\` takes over again.`;
}

export interface DbControlResult {
  ok: boolean;
  message: string;
}

function localOnly(config: Config): DbControlResult | null {
  if (config.mode === 'local') return null;
  return { ok: false, message: `db start/stop is for the embedded local database; this agent uses ${config.mode === 'supabase' ? 'Supabase' : 'LAB_DATABASE_URL'}, which its admin runs` };
}

function postmasterRunning(config: Config): boolean {
  try {
    const pidFile = join(serverRoot(config.dataDir), 'data', 'postmaster.pid');
    if (!existsSync(pidFile)) return false;
    return isAlive(Number(readFileSync(pidFile, 'utf8').split('\n')[0]));
  } catch {
    return false;
  }
}

export async function startLocalDatabase(config: Config): Promise<DbControlResult> {
  const refused = localOnly(config);
  if (refused) return refused;
  const root = serverRoot(config.dataDir);
  const db = await ensureLocalPostgres({ dataDir: config.dataDir, allowRoot: config.allowRoot });
  return db.startedNow
    ? { ok: true, message: `started the local database (${root}); it keeps running after the agent stops: \`lab-agent db stop\` stops it` }
    : { ok: true, message: `the local database is already running (${root})` };
}

export async function stopLocalDatabase(config: Config): Promise<DbControlResult> {
  const refused = localOnly(config);
  if (refused) return refused;
  const root = serverRoot(config.dataDir);
  const holder = agentLockHolder(config);
  if (holder) return { ok: false, message: `an agent (pid ${holder}) is running and would start the database again: stop it first (Ctrl-C, or kill ${holder}), then \`lab-agent db stop\`` };
  if (!postmasterRunning(config)) return { ok: true, message: `the local database is not running (${root})` };
  await stopLocalPostgres(config.dataDir);
  return { ok: true, message: `stopped the local database (${root}); the agent or any command starts it again when needed` };
}
