// Slurm's client commands (sbatch, squeue, scancel, sacct, sinfo, scontrol) as the agent runs
// them: found on the agent's PATH, then on the member's login PATH (sites put Slurm in
// /opt/slurm/bin through a profile script that cron never reads), each with a time limit, the
// first line of its complaint kept for the member. node:child_process rather than execa: execa
// takes ~0.2 s to import, which a cron tick with the Slurm executor would pay every minute.
import { execFile } from 'node:child_process';
import { whichIn } from '../host/executables.js';

export type SlurmTool = 'sbatch' | 'squeue' | 'scancel' | 'sacct' | 'sinfo' | 'scontrol';

/** Complaints that say the controller could not be reached or was busy: worth a later try. */
const TRANSIENT = /contact (the )?slurm controller|slurm_load_jobs error: (Socket timed out|Unable to contact)|Socket timed out|Connection refused|Resource temporarily unavailable|try again|Zero Bytes were transmitted|Slurm backup controller in standby mode|Communication connection failure/i;

export class SlurmCommandError extends Error {
  override name = 'SlurmCommandError';
  constructor(
    readonly tool: SlurmTool,
    /** What the command said (its stderr), trimmed; or why it could not run. */
    readonly said: string,
    readonly exitCode: number | null,
  ) {
    super(`${tool} failed${exitCode === null ? '' : ` (exit ${exitCode})`}: ${said || 'no message'}`);
  }

  /** The controller was away or busy, not the request at fault. */
  get transient(): boolean {
    return this.exitCode === null || TRANSIENT.test(this.said);
  }
}

interface SlurmRunOptions {
  /** The command's whole environment (sbatch passes it on to the job); default: the client's. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface SlurmClient {
  /** Runs a client command; resolves with its stdout, rejects with SlurmCommandError. */
  run(tool: SlurmTool, args: string[], opts?: SlurmRunOptions): Promise<string>;
  /** Where a tool is, or null when neither PATH has it. */
  which(tool: SlurmTool): string | null;
  /** The client's environment: what every command gets unless told otherwise. */
  readonly env: Record<string, string>;
}

export interface SlurmClientOptions {
  /** The member's login environment: its PATH is searched second, and it is the commands' base environment. */
  loginEnv: Record<string, string>;
  /** The agent's own environment (SLURM_CONF and PATH come from here first); default process.env. */
  agentEnv?: NodeJS.ProcessEnv;
  /** Per command; default 30 s (a busy controller answers slowly, a dead one not at all). */
  timeoutMs?: number;
}

/** Variables of the agent's environment that tell the client commands which cluster to talk to. */
const CLIENT_VARIABLES = ['SLURM_CONF', 'SLURM_CLUSTERS'];

export function createSlurmClient(opts: SlurmClientOptions): SlurmClient {
  const agentEnv = opts.agentEnv ?? process.env;
  const env: Record<string, string> = { ...opts.loginEnv };
  for (const k of CLIENT_VARIABLES) if (agentEnv[k]) env[k] = agentEnv[k]!;
  const search = [agentEnv.PATH, opts.loginEnv.PATH].filter(Boolean).join(':');
  const found = new Map<SlurmTool, string | null>();
  const which = (tool: SlurmTool): string | null => {
    if (!found.has(tool)) found.set(tool, whichIn(tool, search));
    return found.get(tool) ?? null;
  };
  return {
    env,
    which,
    run(tool, args, runOpts = {}) {
      const path = which(tool);
      if (!path) return Promise.reject(new SlurmCommandError(tool, `${tool} not found on the agent's PATH or your login PATH: is this a Slurm login node?`, null));
      // Dates in ISO form whatever the site's default, so that squeue's and sacct's times parse.
      const commandEnv: Record<string, string> = { ...(runOpts.env ?? env), SLURM_TIME_FORMAT: 'standard' };
      for (const k of CLIENT_VARIABLES) if (env[k] && !commandEnv[k]) commandEnv[k] = env[k];
      return new Promise((resolve, reject) => {
        execFile(path, args, { env: commandEnv, timeout: runOpts.timeoutMs ?? opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
          const said = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / ') || (e.killed ? 'timed out' : e.message);
          reject(new SlurmCommandError(tool, said, typeof e.code === 'number' ? e.code : null));
        });
      });
    },
  };
}
