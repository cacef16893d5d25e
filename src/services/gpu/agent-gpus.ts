// The agent's GPU work in a tick: one probe (shared by the claim and the host's published
// resources), what the claim is told is free, the host locks of local mode, and the job's
// CUDA_VISIBLE_DEVICES. The job driver and actors call these through a few one-line hooks.
import type { AgentContext } from '../agent/context.js';
import { HostGpuLocks, lockDirProblem, selfHolder, type LockHolder } from './host-locks.js';
import { probeGpus } from './probe.js';
import type { GpuDevice, HostGpuView } from './types.js';

/** One GPU as the claim function reads it (supabase/migrations/20261201000610_lab_gpu_claim.sql). */
export interface ClaimGpu {
  uuid: string;
  index: number;
  model: string;
  memory_free_mib: number | null;
  /** A compute process is on it (anyone's), or the processes could not be read, or another member's lock holds it. */
  busy: boolean;
  usable: boolean;
}

interface ClaimView {
  gpus: ClaimGpu[];
  problem: string | null;
}

const probes = new WeakMap<AgentContext, { at: number; view: Promise<HostGpuView> }>();

/** The host's GPUs as the driver shows them: one probe per tick (a view up to maxAgeMs old is reused). */
export function tickGpuView(ctx: AgentContext, maxAgeMs = 1000): Promise<HostGpuView> {
  const last = probes.get(ctx);
  if (last && Date.now() - last.at < maxAgeMs) return last.view;
  const view = probeGpus();
  probes.set(ctx, { at: Date.now(), view });
  return view;
}

const gpuSetting = (ctx: AgentContext, key: 'LAB_GPU_RESERVE_AFTER_S' | 'LAB_GPU_LEASE_STALE_S'): number =>
  Number(ctx.config.values[key]);

const usesHostLocks = (ctx: AgentContext) => ctx.config.mode === 'local';
const locksOf = (ctx: AgentContext) => new HostGpuLocks(ctx.config.values.LAB_GPU_LOCK_DIR || '/tmp');

function claimGpu(g: GpuDevice, processesKnown: boolean): ClaimGpu {
  return {
    uuid: g.uuid, index: g.index, model: g.model, memory_free_mib: g.memoryFreeMiB,
    busy: !processesKnown || g.processes.length > 0, usable: g.unusable === null,
  };
}

/** What the GPU hooks read of a claimed row: a job's or a Jupyter session's (the same columns). */
export interface GpuHolderRow {
  gpus?: number | null;
  gpu_uuids?: string[] | null;
  cuda_visible_devices?: string | null;
}

interface GpuClaim {
  /** For job_claim's p_gpus. */
  view: ClaimView;
  /** After the claim: the host locks taken for GPUs no claimed job got are given back. */
  settle(claimed: GpuHolderRow[]): void;
}

/**
 * What the claim may place jobs on. In local mode the agent first takes the host lock of each GPU
 * that looks free (so another member's agent cannot take it meanwhile); the claim gets only those.
 */
async function prepareGpuClaim(ctx: AgentContext): Promise<GpuClaim> {
  const host = await tickGpuView(ctx);
  const gpus = host.gpus.map((g) => claimGpu(g, host.processesKnown));
  if (!usesHostLocks(ctx) || !gpus.some((g) => g.usable && !g.busy)) return { view: { gpus, problem: host.problem }, settle: () => undefined };
  const dirProblem = lockDirProblem(locksOf(ctx).dir);
  if (dirProblem) return { view: { gpus: [], problem: dirProblem }, settle: () => undefined };
  const locks = locksOf(ctx);
  const held = locks.held();
  const taken: string[] = [];
  for (const g of gpus) {
    if (!g.usable || g.busy) continue;
    if (!held.has(g.uuid) && locks.take(g.uuid, selfHolder())) taken.push(g.uuid);
    else g.busy = true;
  }
  return {
    view: { gpus, problem: host.problem },
    settle: (claimed) => {
      const used = new Set(claimed.flatMap((j) => j.gpu_uuids ?? []));
      locks.release(taken.filter((u) => !used.has(u)));
    },
  };
}

/** The environment that gives a job exactly its GPUs (nothing for a job that asked for none). */
export function gpuEnv(job: GpuHolderRow): Record<string, string> {
  if (!job.gpus || !job.cuda_visible_devices) return {};
  return { CUDA_VISIBLE_DEVICES: job.cuda_visible_devices, CUDA_DEVICE_ORDER: 'PCI_BUS_ID' };
}

/**
 * Local mode, before and after a GPU job's launch: its host locks are held by this agent (taken
 * again if a tick that claimed it died meanwhile: a GPU another member got since is not taken, the
 * start fails and the job goes back to the queue), then by the job's own process.
 */
export function holdJobGpus(ctx: AgentContext, job: GpuHolderRow, holder: LockHolder = selfHolder()): void {
  if (!usesHostLocks(ctx) || !job.gpu_uuids?.length) return;
  const locks = locksOf(ctx);
  const lost = job.gpu_uuids.filter((u) => !locks.take(u, holder));
  if (lost.length) {
    locks.release(job.gpu_uuids.filter((u) => !lost.includes(u)));
    throw new Error(`GPU ${lost.join(', ')} was taken by another member's job before this one started`);
  }
}

/** Local mode, when a GPU job has ended: its host locks go (they would lapse with its process anyway). */
export function releaseJobGpus(ctx: AgentContext, job: GpuHolderRow): void {
  if (usesHostLocks(ctx) && job.gpu_uuids?.length) locksOf(ctx).release(job.gpu_uuids);
}

/** What a claim function is told of the host's GPUs (job_claim's and jupyter_claim's p_gpus and limits). */
export interface GpuClaimArgs {
  gpus: ClaimView | { placement: 'scheduler' } | null;
  gpuReserveAfterS: number;
  gpuLeaseStaleS: number;
}

/**
 * A claim (of jobs or of Jupyter sessions) told which GPUs this tick's probe saw free; the host
 * locks taken for it and not used are given back after. On a Slurm agent the cluster places GPU
 * requests (--gres): the claim leases nothing on this host. `look`: false when nothing waiting asks
 * for a GPU (no probe; the claim then sees none).
 */
export async function claimWithGpus<R extends GpuHolderRow>(ctx: AgentContext, claim: (gpus: GpuClaimArgs) => Promise<R[]>, look = true): Promise<R[]> {
  const scheduler = ctx.config.executor === 'slurm';
  const gpus: GpuClaim | null = scheduler || !look ? null : await prepareGpuClaim(ctx);
  const limits = { gpuReserveAfterS: gpuSetting(ctx, 'LAB_GPU_RESERVE_AFTER_S'), gpuLeaseStaleS: gpuSetting(ctx, 'LAB_GPU_LEASE_STALE_S') };
  let claimed: R[] = [];
  try {
    claimed = await claim({ gpus: scheduler ? { placement: 'scheduler' } : (gpus?.view ?? null), ...limits });
  } finally {
    gpus?.settle(claimed);
  }
  return claimed;
}
