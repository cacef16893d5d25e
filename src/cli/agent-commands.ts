// `lab-agent tick` (cron) and `lab-agent supervise` (continuous): the agent itself.
import { defineCommand, type Command } from './command.js';
import { CliFailure } from './output.js';

/** `lab-agent tick`; also the whole command table of the cron entry point (src/tick-entry.ts). */
export const tickCommand: Command = defineCommand({
  name: 'tick',
  summary: 'one pass: recover, drive every job one step, send due email, then exit (for cron)',
  usage: 'lab-agent tick [--trace] [--json]',
  json: true,
  options: { trace: { type: 'boolean', help: 'log every machine step (state, event) to the agent log', whenAbsent: 'off' } },
  async run({ env, options, out }) {
    const { startAgentProcess } = await import('../services/agent/agent-process.js');
    const { agentTick } = await import('../services/agent/tick.js');
    const started = await startAgentProcess(env, 'tick', { trace: Boolean(options.trace) });
    if ('busy' in started) {
      // An overlapping cron run: one line, then leave at once.
      process.stderr.write(`lab-agent tick: another agent (pid ${started.holder ?? '?'}) is running for this user on this host; this tick exits\n`);
      out.data({ skipped: true, holder: started.holder }, () => '');
      return 0;
    }
    const { ctx, release } = started;
    try {
      // Short jobs that end within the tick free their slot: fill it now rather than a minute later.
      let result = await agentTick(ctx, { claim: true });
      for (let round = 1; result.more && round < 5; round++) result = await agentTick(ctx, { claim: true });
      // No closing heartbeat: a cron agent's liveness is its last poll (agents_list).
      out.data(result, (r) => `claimed ${r.jobs.claimed}, stepped ${r.jobs.stepped}, running ${r.jobs.active}, waiting ${r.jobs.pendingLeft}`);
    } catch (err) {
      // Under cron, stderr goes nowhere anyone reads: the agent log gets the failure with its stack.
      ctx.log.error({ err }, 'the tick failed');
      throw err;
    } finally {
      await ctx.close();
      await ctx.store.close();
      release();
    }
  },
});

const superviseCommand: Command = defineCommand({
  name: 'supervise',
  summary: 'run continuously: wake on new requests, poll as the fallback (npm start)',
  usage: 'lab-agent supervise [--trace]',
  options: { trace: { type: 'boolean', help: 'log every machine step (state, event) to the agent log', whenAbsent: 'off' } },
  async run({ env, options }) {
    const { startAgentProcess } = await import('../services/agent/agent-process.js');
    const { supervise } = await import('../services/agent/supervisor.js');
    const started = await startAgentProcess(env, 'supervise', { trace: Boolean(options.trace) });
    if ('busy' in started) {
      throw new CliFailure(`another lab-agent (pid ${started.holder ?? '?'}) is already running for this user on this host; stop it first (or let it be: one is enough)`);
    }
    const { ctx, release } = started;
    const { startLines, stopLine } = await import('../services/agent/first-run.js');
    process.stderr.write(startLines(ctx, env.PATH).join('\n') + '\n');
    try {
      await supervise(ctx);
      process.stderr.write(`${await stopLine(ctx)}\n`);
    } finally {
      await ctx.close();
      await ctx.store.close();
      release();
    }
  },
});

export const agentCommands: Command[] = [tickCommand, superviseCommand];
