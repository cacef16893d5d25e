// One pass over this agent's Jupyter sessions: claim the pending requests for this host, then
// drive every session this host looks after (starting, running, stopping) one step.
import { jupyterMachine } from '../../machines/jupyter-machine.js';
import type { JupyterMachineInput } from '../../machines/jupyter-rules.js';
import { JUPYTER_RESTING_STATES } from '../../machines/jupyter-states.js';
import type { SessionRow } from '../store/types.js';
import type { AgentContext } from './context.js';
import { jupyterActors } from './jupyter-actors.js';
import { provideOnce, stepRow, type Lifecycle } from './machine-runner.js';

export interface JupyterPassResult {
  claimed: number;
  stepped: number;
  running: number;
  /** Sessions still starting or stopping after the pass: the supervisor checks them again soon. */
  active: number;
}

/** Sessions for the generic step: a claimed row starts its machine in `starting`, as the database has it. */
function sessions(others: SessionRow[]): Lifecycle<SessionRow, JupyterMachineInput> {
  return {
    kind: 'jupyter',
    machine: (ctx) => provideOnce(ctx, jupyterMachine, () => jupyterMachine.provide({ actors: jupyterActors(ctx) })),
    idOf: (row) => row.session_id,
    input: (ctx, row, now) => {
      const cfg = ctx.config;
      return {
        row, now, others, max: cfg.jupyter.max,
        startTimeoutMs: cfg.jupyter.startTimeoutS * 1000, killGraceMs: cfg.killGraceS * 1000, emailOn: Boolean(cfg.email),
      };
    },
    resting: JUPYTER_RESTING_STATES,
    // A start may wait out LAB_JUPYTER_START_TIMEOUT; a stop, the kill grace and the port.
    timeoutMs: (ctx) => Math.max(ctx.config.jupyter.startTimeoutS, ctx.config.killGraceS) * 1000 + 60_000,
  };
}

/** listed: the active sessions this pass's poll answered (agent_poll: this host's, and pending ones). */
export async function runJupyterPass(ctx: AgentContext, opts: { claim: boolean }, listed: SessionRow[]): Promise<JupyterPassResult> {
  const mine = listed.filter((s) => s.run_host === ctx.host && s.status !== 'pending');
  const pending = listed.filter((s) => s.status === 'pending').length;
  const claimed = opts.claim && pending > 0 ? await ctx.store.claimJupyter({ agentId: ctx.agentId, host: ctx.host, limit: pending }) : [];
  const step = (s: SessionRow) => stepRow(ctx, sessions([...mine, ...claimed]), s);
  // Servers already up (quick checks, stops) together; starts one at a time, oldest first, so two
  // launches never pick the same free port and LAB_JUPYTER_MAX sees the earlier one.
  const starts = [...mine.filter((s) => s.status === 'starting'), ...claimed].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  const results = await Promise.all(mine.filter((s) => s.status !== 'starting').map(step));
  for (const s of starts) results.push(await step(s));
  return {
    claimed: claimed.length,
    stepped: results.length,
    running: results.filter((s) => s === 'running').length,
    active: results.filter((s) => s === 'starting' || s === 'stopping').length,
  };
}
