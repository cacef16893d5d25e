// What a process that runs things for a member checks first: it is not root (unless LAB_ALLOW_ROOT
// says so), its .env with secrets is not readable by others, and what it creates is private
// (umask 077) whatever umask cron, systemd or the terminal gave it. The member's own processes
// (jobs, Jupyter servers) get the member's umask back: what they write stays as the member expects.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS } from './config-keys.js';
import { ConfigError, type Config } from './config.js';

export const isRoot = (): boolean => process.getuid?.() === 0;

/** Why root is refused, and the two ways on. `what` names what would have run as root. */
export function rootRefusal(what: string): string {
  return `lab-agent refuses to run as root: ${what} would run as root, with every lab member's requests one mistake away from it. ` +
    'Run it as the lab member whose jobs it runs (install_agent.sh under their account). ' +
    'Where everything runs as root by design (a single-user container), set LAB_ALLOW_ROOT=1';
}

export const ROOT_WARNING = 'running as root because LAB_ALLOW_ROOT is set: jobs and Jupyter servers run as root; the local database is reachable by root alone';

export interface EnvExposure {
  file: string;
  /** Octal, e.g. "644". */
  mode: string;
  /** A secret's value comes from this file (not only the environment). */
  secrets: boolean;
}

/** The agent's .env when others may read it; null when private or absent. */
export function envFileExposure(config: Config): EnvExposure | null {
  const file = join(config.agentDir, '.env');
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return null;
  }
  if (!(mode & 0o077)) return null;
  const secrets = CONFIG_KEYS.some((k) => k.secret && config.sources[k.key] === '.env');
  return { file, mode: mode.toString(8), secrets };
}

let memberMask: number | null = null;

/** Sets umask 077 for this process (once); remembers the umask it had. */
export function usePrivateUmask(): void {
  if (memberMask === null) memberMask = process.umask(0o077);
}

/** The member's own umask (the one this process started with) as octal digits; null when it is the agent's own 077. */
export function memberUmask(): string | null {
  return memberMask === null || memberMask === 0o077 ? null : memberMask.toString(8).padStart(4, '0');
}

/** argv run under the member's own umask (the one this process started with), through /bin/sh. */
export function withMemberUmask(argv: string[]): string[] {
  const mask = memberUmask();
  if (mask === null) return argv;
  // exec: the same pid and start time as the program itself, so process identity is unchanged.
  return ['/bin/sh', '-c', `umask ${mask} && exec "$0" "$@"`, ...argv];
}

/**
 * Before an agent process (or a command that opens the member's store) does anything: refuses root
 * without LAB_ALLOW_ROOT (rootWhat: what would run as root; null when nothing would), refuses a
 * .env with secrets that others can read, and makes what it creates private.
 */
export function preflight(config: Config, rootWhat: string | null): void {
  const problems: string[] = [];
  if (rootWhat && isRoot() && !config.allowRoot) problems.push(rootRefusal(rootWhat));
  const exposed = envFileExposure(config);
  if (exposed?.secrets) problems.push(`${exposed.file} holds secrets and others can read it (mode ${exposed.mode}): run  chmod 600 ${exposed.file}`);
  if (problems.length) throw new ConfigError(problems);
  usePrivateUmask();
}
