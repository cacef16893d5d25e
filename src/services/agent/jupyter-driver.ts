// One pass over this agent's Jupyter sessions: claim the pending requests for this host, then
// drive every session this host looks after (starting, running, stopping) one step. The machine
// (jupyter-step.ts) is loaded only when there is a session to step.
import { claimWithGpus } from '../gpu/agent-gpus.js';
import type { AgentContext } from './context.js';
import type { SessionRow } from '../store/types.js';

export interface JupyterPassResult {
  claimed: number;
  stepped: number;
  running: number;
  /** Sessions still starting or stopping after the pass: the supervisor checks them again soon. */
  active: number;
}

/** listed: the active sessions this pass's poll answered (agent_poll: this host's, and pending ones). */
export async function runJupyterPass(ctx: AgentContext, opts: { claim: boolean }, listed: SessionRow[]): Promise<JupyterPassResult> {
  const mine = listed.filter((s) => s.run_host === ctx.host && s.status !== 'pending');
  const pending = listed.filter((s) => s.status === 'pending');
  // The host's GPUs are looked at only when a waiting session asks for one.
  const wantsGpus = pending.some((s) => (s.gpus ?? 0) > 0);
  const claimed = opts.claim && pending.length > 0
    ? await claimWithGpus(ctx, (gpus) => ctx.store.claimJupyter({ agentId: ctx.agentId, host: ctx.host, limit: pending.length, executor: ctx.config.executor, ...gpus }), wantsGpus)
    : [];
  const results = mine.length + claimed.length > 0 ? await (await import('./jupyter-step.js')).stepSessions(ctx, mine, claimed) : [];
  return {
    claimed: claimed.length,
    stepped: results.length,
    running: results.filter((s) => s === 'running').length,
    active: results.filter((s) => s === 'starting' || s === 'stopping').length,
  };
}
