// What `tick` and `supervise` share: the per-user lock, the agent log, the store, the context.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config } from '../config.js';
import { lockHolder, tryLock } from '../file-lock.js';
import { hostFileName } from '../names.js';
import { createLogger, type Logger } from '../logger.js';
import { RotatingFile, rotationOptions } from '../rotating-file.js';
import { isRoot, preflight, ROOT_WARNING, usePrivateUmask } from '../process-safety.js';
import { sharedWarning } from '../store/identity.js';
import { DatabaseUnreachableError } from '../store/db-errors.js';
import { openStore } from '../store/open-store.js';
import { createAgentContext, type AgentContext } from './context.js';

const lockPath = (config: Config) => join(config.dataDir, `agent-${hostFileName(config.host)}.lock`);

/** The live process holding this user's agent lock on this host, if any. */
export const agentLockHolder = (config: Config): number | null => lockHolder(lockPath(config));

/**
 * agent.log lives in the agent folder (~/lab_job_agent, as installed). An agent run from a clone
 * elsewhere (`npm start`) before any install has no such folder: its log goes to LAB_DATA_DIR
 * instead, so no folder holding only a log appears where install_agent.sh will put the code.
 */
export function agentLogFile(config: Pick<Config, 'agentDir' | 'dataDir'>): string {
  return existsSync(config.agentDir) ? join(config.agentDir, 'agent.log') : join(config.dataDir, 'agent.log');
}

export function agentLogger(config: Config, opts: { toFile?: boolean; quiet?: boolean } = {}): Logger {
  const pretty = Boolean(process.stderr.isTTY) && !opts.quiet; // quiet: the file only
  if (opts.toFile === false) return createLogger({ level: config.logLevel, pretty: false });
  // Bounded: rotated at LAB_LOG_MAX_MB, LAB_LOG_KEEP old files kept (the original grew forever).
  const destination = new RotatingFile(agentLogFile(config), rotationOptions(config.values));
  return createLogger({ level: config.logLevel, destination, pretty });
}

export interface AgentProcess {
  ctx: AgentContext;
  release(): void;
}

export type LockBusy = { busy: true; holder: number | null };

/**
 * Takes the user's agent lock on this host and opens the store. One agent process per user and
 * host at a time: a second supervisor refuses to start, an overlapping cron tick leaves at once.
 */
export async function startAgentProcess(env: NodeJS.ProcessEnv, mode: 'tick' | 'supervise', opts: { trace?: boolean; log?: Logger } = {}): Promise<AgentProcess | LockBusy> {
  usePrivateUmask(); // before anything is created, agent.log included
  const config = loadConfig({ env });
  const log = opts.log ?? agentLogger(config);
  try {
    preflight(config, 'the agent (your jobs, Jupyter servers and the local database)');
  } catch (err) {
    // Also in the agent log: under cron, stderr goes nowhere anyone reads.
    log.error({ err: (err as Error).message }, 'the agent refuses to start');
    throw err;
  }
  if (isRoot()) log.warn(ROOT_WARNING);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const release = tryLock(lockPath(config));
  if (!release) return { busy: true, holder: agentLockHolder(config) };
  let store: Awaited<ReturnType<typeof openStore>> | undefined;
  try {
    // A cron tick's poll registers it and keeps the users row (one request for an idle tick); a
    // supervisor registers at once, so that an agent id of another member stops it at the start.
    store = await openStore(config, log, { ensureRow: mode === 'supervise' });
    const ctx = createAgentContext(config, store, log, { trace: opts.trace, mode });
    if (mode === 'supervise') await store.registerAgent({ agentId: ctx.agentId, host: ctx.host, version: ctx.version, mode, pid: process.pid });
    const who = store.identity;
    if (who?.shared) log.warn({ userId: who.userId, proof: who.detail }, sharedWarning(config));
    return { ctx, release };
  } catch (err) {
    // Also in the agent log: under cron, stderr goes nowhere anyone reads. (An unreachable
    // database is logged by the CLI with the one line it prints.)
    if (!(err instanceof DatabaseUnreachableError)) log.error({ err }, 'the agent could not start');
    // An open pool would keep the process alive until its idle timeout (a failed cron tick lingered 10 s).
    await store?.close().catch(() => undefined);
    release();
    throw err;
  }
}
