// Everything an agent process holds while it runs: configuration, store, mailer, identity.
import { nodeCrypto } from '../node-crypto.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Mailer } from '../mailer.js';
import { loginEnvironment } from '../host/login-env.js';
import type { LabStore } from '../store/lab-store.js';
import type { JobRow } from '../store/types.js';
import { hostFileName, isUuid } from '../names.js';
import { AGENT_VERSION } from '../package-info.js';

export interface AgentContext {
  config: Config;
  store: LabStore;
  log: Logger;
  agentId: string;
  host: string;
  /** The SMTP mailer, created on first use (nodemailer is loaded only when there is mail to send). */
  mailer(): Promise<Mailer | null>;
  /** Closes what the agent opened besides the store (the mailer's connection). */
  close(): Promise<void>;
  /** The user's login environment (PATH etc.), read once per process. */
  loginEnv(): Promise<Record<string, string>>;
  /** Log every machine transition (--trace). */
  trace: boolean;
  /** Told when a job this process started has ended (its exit record is written): supervise drives it at once. */
  jobEnded: () => void;
  version: string;
  /** The inventory sync in flight, if any (one at a time; the supervisor waits for it before it closes the store). */
  syncing: Promise<unknown> | null;
  /**
   * When this process last stepped each running job (job id → epoch ms): tails are read again
   * only a heartbeat later, even when they did not change (then the row's heartbeat_at stays).
   */
  lastStepped: Map<string, number>;
  /** How this process runs: a cron tick or the supervisor (told to the database with each poll). */
  mode: 'tick' | 'supervise';
  /**
   * The claimed and running jobs as this process's last step left them: the supervisor steps
   * them between polls from the local process table, without asking the database.
   */
  heldJobs: Map<string, JobRow>;
}

/** One agent id per user and host, kept in the data folder, so its agents row is reused. */
function stableAgentId(dataDir: string, host: string): string {
  const file = join(dataDir, `agent-id-${hostFileName(host)}`);
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (isUuid(id)) return id;
  } catch {
    /* first run on this host */
  }
  const id = nodeCrypto().randomUUID();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}

export function createAgentContext(config: Config, store: LabStore, log: Logger, opts: { trace?: boolean; mode?: AgentContext['mode'] } = {}): AgentContext {
  let env: Promise<Record<string, string>> | null = null;
  let mailer: Promise<Mailer | null> | null = null;
  const makeMailer = async (): Promise<Mailer | null> => {
    if (!config.email) return null;
    const { createMailer } = await import('../mailer.js');
    return createMailer({
      host: config.smtp.host, port: config.smtp.port, secure: config.smtp.secure,
      user: config.smtp.user || undefined, pass: config.smtp.pass || undefined, from: config.smtp.from, logger: log,
      pool: true, // one connection for all of this process's email (a handshake per message cost ~8 ms of CPU)
    });
  };
  return {
    config,
    store,
    log,
    agentId: stableAgentId(config.dataDir, config.host),
    host: config.host,
    mailer: () => (mailer ??= makeMailer()),
    close: async () => (await mailer?.catch(() => null))?.close(),
    loginEnv: () => (env ??= loginEnvironment(config.home)),
    trace: opts.trace ?? false,
    jobEnded: () => undefined,
    version: AGENT_VERSION,
    syncing: null,
    lastStepped: new Map(),
    mode: opts.mode ?? 'tick',
    heldJobs: new Map(),
  };
}
