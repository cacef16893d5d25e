// The columns a row run by Slurm carries (supabase/migrations/20261201000700_lab_slurm.sql).
import type { JobRow } from '../store/types.js';

interface SlurmColumns {
  /** Which executor runs it: null (the agent's own host) or 'slurm', set before sbatch. */
  executor: 'local' | 'slurm' | null;
  slurm_job_id: string | null;
  /** What Slurm last said: PENDING, RUNNING … (SUBMITTING before sbatch answered). */
  slurm_state: string | null;
  /** Why Slurm keeps it waiting (Resources, Priority …), or why it ended. */
  slurm_reason: string | null;
  /** The compute node it runs on. */
  slurm_node: string | null;
}

/** What a member may ask a job for; each overrides the agent's LAB_SLURM_* setting. */
interface SlurmRequestColumns {
  slurm_partition: string | null;
  cpus: number | null;
  mem_mb: number | null;
  time_limit_min: number | null;
  gpus: number | null;
}

export type SlurmJobRow = JobRow & Partial<SlurmColumns & SlurmRequestColumns>;
