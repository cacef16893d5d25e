// The host's resources as every lab member reads them (host_resources): sent with the agent's poll
// (its heartbeat, agent_poll), at most every PUBLISH_EVERY_MS, from the tick's own GPU probe.
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { AgentContext } from '../agent/context.js';
import { tickGpuView } from './agent-gpus.js';
import type { HostGpuView } from './types.js';

const PUBLISH_EVERY_MS = 30_000;
const lastPublished = new WeakMap<AgentContext, number>();
const MiB = 1024 * 1024;

/** The row host_publish takes: per GPU what people need to choose a server, nothing about whose jobs run. */
function hostResources(view: HostGpuView) {
  return {
    gpu_status: view.status,
    gpu_problem: view.problem,
    gpus: view.gpus.map((g) => ({
      index: g.index, uuid: g.uuid, model: g.model, memory_total_mib: g.memoryTotalMiB, memory_used_mib: g.memoryUsedMiB,
      utilization_pct: g.utilizationPct, temperature_c: g.temperatureC, processes: g.processes.length, unusable: g.unusable,
    })),
    cpu_count: cpus().length,
    load_1m: Math.round(loadavg()[0]! * 100) / 100,
    mem_total_mib: Math.round(totalmem() / MiB),
    mem_free_mib: Math.round(freemem() / MiB),
  };
}

/**
 * The resources to send with this pass's poll (agent_poll publishes them), when PUBLISH_EVERY_MS
 * has passed since the last; null otherwise, or when the probe failed (said in the log).
 */
export async function resourcesIfDue(ctx: AgentContext, now = Date.now()): Promise<ReturnType<typeof hostResources> | null> {
  if (now - (lastPublished.get(ctx) ?? 0) < PUBLISH_EVERY_MS) return null;
  lastPublished.set(ctx, now);
  try {
    return hostResources(await tickGpuView(ctx));
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message }, 'could not read the host\'s resources');
    return null;
  }
}

/** What the database said of resources sent with a poll, when it refused them. */
export function publishRefused(ctx: AgentContext, error: string | null | undefined): void {
  if (error) ctx.log.warn({ err: error }, 'could not publish the host\'s resources');
}
