// One pass over this agent's Jupyter sessions: claim the pending requests for this host, then
// drive every session this host looks after (starting, running, stopping) one step. The machine
// (jupyter-step.ts) is loaded only when there is a session to step.
import type { AgentContext } from './context.js';

export interface JupyterPassResult {
  claimed: number;
  stepped: number;
  running: number;
  /** Sessions still starting or stopping after the pass: the supervisor checks them again soon. */
  active: number;
}

export async function runJupyterPass(ctx: AgentContext, opts: { claim: boolean }): Promise<JupyterPassResult> {
  const listed = await ctx.store.listSessions({ limit: 200, activeOnly: true, host: ctx.host });
  const mine = listed.filter((s) => s.run_host === ctx.host && s.status !== 'pending');
  const pending = listed.filter((s) => s.status === 'pending').length;
  const claimed = opts.claim && pending > 0 ? await ctx.store.claimJupyter({ agentId: ctx.agentId, host: ctx.host, limit: pending }) : [];
  const results = mine.length + claimed.length > 0 ? await (await import('./jupyter-step.js')).stepSessions(ctx, mine, claimed) : [];
  return {
    claimed: claimed.length,
    stepped: results.length,
    running: results.filter((s) => s === 'running').length,
    active: results.filter((s) => s === 'starting' || s === 'stopping').length,
  };
}
