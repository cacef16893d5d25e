// One pass over this agent's Jupyter sessions: claim the pending requests for this host, then
// drive every session this host looks after (starting, running, stopping) one step.
import { jupyterMachine, JUPYTER_RESTING_STATES } from '../../machines/jupyter-machine.js';
import type { SessionRow } from '../store/types.js';
import type { AgentContext } from './context.js';
import { jupyterActors } from './jupyter-actors.js';
import { provideOnce, stepMachine } from './machine-runner.js';

export interface JupyterPassResult {
  claimed: number;
  stepped: number;
  running: number;
  /** Sessions still starting or stopping after the pass: the supervisor checks them again soon. */
  active: number;
}

/** A row the claim just moved: its machine starts from the row as it was (pending) and hears CLAIMED. */
function beforeClaim(row: SessionRow): SessionRow {
  return { ...row, status: 'pending', agent_id: null, run_host: null };
}


async function step(ctx: AgentContext, session: SessionRow, claimed: boolean, others: SessionRow[]): Promise<string> {
  const now = Date.now();
  const events = claimed ? [{ type: 'CLAIMED', session }, { type: 'TICK', now }] : [{ type: 'TICK', now }];
  const cfg = ctx.config;
  try {
    return await stepMachine({
      machine: provideOnce(ctx, jupyterMachine, () => jupyterMachine.provide({ actors: jupyterActors(ctx) })),
      input: {
        session: claimed ? beforeClaim(session) : session, now, others, max: cfg.jupyter.max,
        startTimeoutMs: cfg.jupyter.startTimeoutS * 1000, killGraceMs: cfg.killGraceS * 1000, emailOn: Boolean(cfg.email),
      },
      events, resting: JUPYTER_RESTING_STATES, kind: 'jupyter', id: session.session_id, log: ctx.log, trace: ctx.trace,
      // A start may wait out LAB_JUPYTER_START_TIMEOUT; a stop, the kill grace and the port.
      timeoutMs: Math.max(cfg.jupyter.startTimeoutS, cfg.killGraceS) * 1000 + 60_000,
    });
  } catch (err) {
    // One session's trouble never stops the pass: the next tick tries it again.
    ctx.log.error({ session: session.session_id, err: (err as Error).message }, 'Jupyter session step failed');
    return session.status;
  }
}

export async function runJupyterPass(ctx: AgentContext, opts: { claim: boolean }): Promise<JupyterPassResult> {
  const listed = await ctx.store.listSessions({ limit: 200, activeOnly: true, host: ctx.host });
  const mine = listed.filter((s) => s.run_host === ctx.host && s.status !== 'pending');
  const pending = listed.filter((s) => s.status === 'pending').length;
  const claimed = opts.claim && pending > 0 ? await ctx.store.claimJupyter({ agentId: ctx.agentId, host: ctx.host, limit: pending }) : [];
  const others = [...mine, ...claimed];
  // Servers already up (quick checks, stops) together; starts one at a time, oldest first, so two
  // launches never pick the same free port and LAB_JUPYTER_MAX sees the earlier one.
  const starts = [...mine.filter((s) => s.status === 'starting'), ...claimed].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  const results = await Promise.all(mine.filter((s) => s.status !== 'starting').map((s) => step(ctx, s, false, others)));
  for (const s of starts) results.push(await step(ctx, s, claimed.includes(s), others));
  return {
    claimed: claimed.length,
    stepped: results.length,
    running: results.filter((s) => s === 'running').length,
    active: results.filter((s) => s === 'starting' || s === 'stopping').length,
  };
}
