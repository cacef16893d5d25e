// sacct: what Slurm's accounting remembers of jobs that squeue has forgotten (after MinJobAge, or
// a controller restart), and who cancelled a job. Asked only when a job's exit record is missing;
// a cluster without accounting (slurmdbd) answers "accounting storage is disabled", once.
import type { SlurmClient } from './slurm-cli.js';
import { SlurmCommandError } from './slurm-cli.js';

export interface SacctRecord {
  id: string;
  /** CANCELLED, TIMEOUT, FAILED … (without sacct's "by <uid>"). */
  state: string;
  /** Who cancelled it, as sacct names them (a uid). */
  by: string | null;
  /** The batch script's exit status, when it exited. */
  exitCode: number | null;
  /** The signal number that ended it, 0 for none. */
  signal: number | null;
  nodes: string | null;
  endedAt: string | null;
  reason: string | null;
}

const FIELDS = 'JobID,State,ExitCode,NodeList,End,Reason';

function sacctArgs(ids: string[]): string[] {
  return ['--noheader', '--parsable2', '--allocations', `--jobs=${ids.join(',')}`, `--format=${FIELDS}`];
}

const value = (v: string | undefined): string | null => (!v || v === 'None' || v === 'Unknown' || v === 'None assigned' ? null : v);

export function parseSacct(text: string): Map<string, SacctRecord> {
  const out = new Map<string, SacctRecord>();
  for (const line of text.split('\n')) {
    const [id, stateText, exit, nodes, end, reason] = line.split('|');
    if (!id || !stateText) continue;
    const [state, by] = stateText.split(/ by /);
    const [code, sig] = (exit ?? '').split(':').map((n) => (/^\d+$/.test(n) ? Number(n) : null));
    const endMs = Date.parse(end ?? '');
    out.set(id, {
      id, state: state!.trim(), by: by?.trim() || null, exitCode: code ?? null, signal: sig ?? null,
      nodes: value(nodes), endedAt: Number.isNaN(endMs) ? null : new Date(endMs).toISOString(), reason: value(reason),
    });
  }
  return out;
}

/** Accounting's records of these jobs; null when the cluster keeps no accounting. */
export class SlurmAccounting {
  private enabled: boolean | null = null;

  constructor(private readonly client: SlurmClient) {}

  /** Known after the first call: false once sacct said accounting is off. */
  get available(): boolean | null {
    return this.enabled;
  }

  async records(ids: string[]): Promise<Map<string, SacctRecord> | null> {
    if (this.enabled === false || ids.length === 0) return this.enabled === false ? null : new Map();
    try {
      const out = parseSacct(await this.client.run('sacct', sacctArgs(ids)));
      this.enabled = true;
      return out;
    } catch (err) {
      if (err instanceof SlurmCommandError && /accounting storage is disabled/i.test(err.said)) {
        this.enabled = false;
        return null;
      }
      throw err;
    }
  }
}
