// A pass's one request to the database (agent_poll): "anything for me?". It is also the agent's
// heartbeat (a supervisor promises one every LAB_POLL_INTERVAL_S), keeps the member's users row,
// and carries the host's resources when they are due; the answer is the pass's work, Jupyter
// sessions included. On a hosted project every request is metered: see BENCHMARKS.md.
import { publishRefused, resourcesIfDue } from '../gpu/publish.js';
import type { AgentPoll } from '../store/types.js';
import type { AgentContext } from './context.js';

export async function pollWork(ctx: AgentContext): Promise<AgentPoll> {
  const { config } = ctx;
  const resources = await resourcesIfDue(ctx);
  const work = await ctx.store.pollAgent({
    agentId: ctx.agentId, host: ctx.host, version: ctx.version, mode: ctx.mode, pid: process.pid,
    heartbeatEveryS: ctx.mode === 'supervise' ? config.pollIntervalS : null,
    user: { linuxUser: config.user, email: config.email || null }, resources,
  });
  publishRefused(ctx, work.publish_error);
  return work;
}
