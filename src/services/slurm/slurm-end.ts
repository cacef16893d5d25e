// Pure: what the agent makes of a Slurm job from squeue's view, the exit record and (when squeue
// has forgotten the job and the record is missing) sacct. The job machine decides outcomes from
// a probe (exit record, alive, tails); this fills such a probe for a Slurm job, and names the
// reasons Slurm itself ended a job for (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, a cancel
// from outside the agent), which become the row's error whatever the job's own exit said.
import type { JobOutcome, JobProbe } from '../../machines/job-rules.js';
import type { ExitRecord } from '../runner/launch.js';
import type { SacctRecord } from './sacct.js';
import type { SlurmJobRow } from './slurm-row.js';
import { hasEnded, isLive, isWaiting, type SlurmJobView } from './squeue.js';

/** What Slurm says of a job whose processes are gone. */
interface SlurmEnd {
  slurmJobId: string;
  /** Slurm's state, or null when neither squeue nor sacct knows the job. */
  state: string | null;
  /** Set when Slurm, not the job, ended it: the row's error. */
  error: string | null;
  /** From sacct when the exit record is missing. */
  exitCode: number | null;
  signal: number | null;
}

export interface SlurmProbe extends JobProbe {
  /** Slurm's word on a job that is no longer live; null while it runs. */
  slurm: SlurmEnd | null;
}

export interface SlurmFacts {
  slurmJobId: string;
  /** squeue's line for the job; undefined when squeue does not list it. */
  view: SlurmJobView | undefined;
  exit: ExitRecord | null;
  /** sacct's record; undefined when not asked (the record was there, or no accounting). */
  acct?: SacctRecord | undefined;
  /** Who is the agent (for "CANCELLED by you"); from sacct's uid. */
  ownUid?: number;
  /** uid → user name, for "CANCELLED by <name>". */
  userName?: (uid: string) => string | null;
}

/** A state in which Slurm, not the job's own exit, ended the job: its reason for the row. */
export function slurmEndError(slurmJobId: string, state: string, f: Pick<SlurmFacts, 'view' | 'acct' | 'ownUid' | 'userName'>): string | null {
  const nodes = f.view?.nodes ?? f.acct?.nodes ?? null;
  const on = nodes ? ` on ${nodes}` : '';
  switch (state) {
    case 'TIMEOUT':
      return `TIMEOUT: Slurm stopped job ${slurmJobId} at its time limit${f.view?.timeLimit ? ` (${f.view.timeLimit})` : ''}; ask for more with submit --time`;
    case 'OUT_OF_MEMORY':
      return `OUT_OF_MEMORY: Slurm job ${slurmJobId} used more memory than it was given${on}; ask for more with submit --mem`;
    case 'NODE_FAIL':
      return `NODE_FAIL: the node${nodes ? ` ${nodes}` : ''} failed while Slurm job ${slurmJobId} ran on it`;
    case 'PREEMPTED':
      return `PREEMPTED: Slurm stopped job ${slurmJobId}${on} to run another job first`;
    case 'BOOT_FAIL':
      return `BOOT_FAIL: the node for Slurm job ${slurmJobId} failed to boot`;
    case 'DEADLINE':
      return `DEADLINE: Slurm job ${slurmJobId} reached its deadline`;
    case 'CANCELLED':
      return `CANCELLED by ${canceller(f)}: Slurm job ${slurmJobId} was cancelled outside the agent (scancel)`;
    default:
      return null; // COMPLETED, FAILED: the job's own exit speaks
  }
}

function canceller(f: Pick<SlurmFacts, 'acct' | 'ownUid' | 'userName'>): string {
  const uid = f.acct?.by;
  if (!uid) return 'someone (no accounting on this cluster to say who)';
  if (f.ownUid !== undefined && uid === String(f.ownUid)) return 'you';
  const name = f.userName?.(uid);
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

/**
 * The probe of a running Slurm job: alive while Slurm has it waiting or running. A record of a
 * job killed by a signal while Slurm still counts it live waits for a later pass: squeue was asked
 * earlier in this one, or Slurm has not finished ending the job, and the signal may be Slurm's own
 * (its time limit, memory, preemption, a scancel), whose reason only its ended state says.
 */
export function slurmProbe(f: SlurmFacts, tails: { stdoutTail: string; stderrTail: string }): SlurmProbe {
  if (f.view && (isLive(f.view) || isWaiting(f.view))) return { exit: f.exit?.signal ? null : f.exit, alive: true, slurm: null, ...tails };
  const state = f.view?.state ?? f.acct?.state ?? null;
  return {
    exit: f.exit,
    alive: false,
    slurm: {
      slurmJobId: f.slurmJobId, state, error: state ? slurmEndError(f.slurmJobId, state, f) : null,
      exitCode: f.acct?.exitCode ?? null, signal: f.acct?.signal ?? null,
    },
    ...tails,
  };
}

/**
 * sacct may know more: what became of a job squeue no longer lists whose record is missing, and
 * who cancelled a job (squeue cannot say; its record, written on SIGTERM, cannot either).
 */
export const needsAccounting = (view: SlurmJobView | undefined, exit: ExitRecord | null): boolean =>
  (!exit && (!view || hasEnded(view))) || view?.state === 'CANCELLED';

/**
 * The outcome of a Slurm job: the machine's (from the exit record and the agent's own stop), unless
 * Slurm ended the job itself (its reason is the error), or the record is missing (then what Slurm
 * knows: the exit code sacct kept, or that Slurm lost the job).
 */
export function slurmOutcome(job: SlurmJobRow, outcome: JobOutcome, probe: JobProbe | null): JobOutcome {
  if (job.status === 'claimed') return outcome;
  const exit = probe?.exit ?? null;
  const end = (probe as SlurmProbe | null)?.slurm ?? null;
  const retcode = exit?.code ?? end?.exitCode ?? null;
  const signal = exit?.signal ?? (end?.signal ? `signal ${end.signal}` : null);
  // The agent stopped it (cancel, its own timeout): that decides, record or not.
  if (job.stop_reason) return job.stop_reason === 'cancel' ? { kind: 'cancel', retcode, signal } : { kind: 'fail', error: job.stop_reason, retcode, signal };
  if (end?.error) return { kind: 'fail', error: end.error, retcode, signal };
  if (exit) return outcome;
  const id = end?.slurmJobId ?? job.slurm_job_id ?? '?';
  if (end?.state) {
    const how = end.signal ? `signal ${end.signal}` : end.exitCode !== null ? `exit code ${end.exitCode}` : 'no exit code';
    return { kind: 'fail', retcode, signal, error: `${end.state}: Slurm job ${id} ended (${how}) and left no exit record in ${job.log_dir ?? 'its log folder'}` };
  }
  return { kind: 'fail', retcode: null, signal: null, error: `lost: Slurm no longer knows job ${id} and it left no exit record (the cluster forgot it, or its node was lost)` };
}
