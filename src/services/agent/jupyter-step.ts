// The Jupyter sessions' steps through their machine: loaded by the Jupyter driver
// (jupyter-driver.ts) only when a session needs one, so that an idle tick never loads XState.
import { jupyterMachine } from '../../machines/jupyter-machine.js';
import type { JupyterMachineInput } from '../../machines/jupyter-rules.js';
import { JUPYTER_RESTING_STATES } from '../../machines/jupyter-states.js';
import type { SessionRow } from '../store/types.js';
import type { AgentContext } from './context.js';
import { jupyterActors } from './jupyter-actors.js';
import { provideOnce, stepRow, type Lifecycle } from './machine-runner.js';
import { newSlurmPass } from '../slurm/slurm-job-actors.js';
import { slurmJupyterMachine } from '../slurm/slurm-jupyter-actors.js';

/** Sessions for the generic step: a claimed row starts its machine in `starting`, as the database has it. */
function sessions(others: SessionRow[]): Lifecycle<SessionRow, JupyterMachineInput> {
  return {
    kind: 'jupyter',
    // The same machine with the actors of the executor the claim recorded on the row.
    machine: (ctx, row) =>
      row.executor === 'slurm' ? slurmJupyterMachine(ctx) : provideOnce(ctx, jupyterMachine, () => jupyterMachine.provide({ actors: jupyterActors(ctx) })),
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

/** Steps this host's sessions (`mine`) and the ones just claimed; where each rests afterwards. */
export async function stepSessions(ctx: AgentContext, mine: SessionRow[], claimed: SessionRow[]): Promise<string[]> {
  newSlurmPass(ctx); // the Slurm sessions' steps share one squeue answer (with the jobs' when it is fresh)
  const step = (s: SessionRow) => stepRow(ctx, sessions([...mine, ...claimed]), s);
  // Servers already up (quick checks, stops) together; starts one at a time, oldest first, so two
  // launches never pick the same free port and LAB_JUPYTER_MAX sees the earlier one.
  const starts = [...mine.filter((s) => s.status === 'starting'), ...claimed].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  const results = await Promise.all(mine.filter((s) => s.status !== 'starting').map(step));
  for (const s of starts) results.push(await step(s));
  return results;
}
