// Continuous mode: ticks when woken (NOTIFY / Realtime, or a job it started ending), every 0.5 s
// while jobs run (so the end of an adopted job is reported within a second), when something falls
// due by itself (a retry's not_before, a schedule's next due time: src/services/queue/next-wake.ts),
// and on the polling interval otherwise, which always runs as the fallback for lost wake-ups.
// SIGTERM/SIGINT: stop claiming, finish the tick, leave jobs running.
import type { WakeEvent } from '../store/types.js';
import type { AgentContext } from './context.js';
import { agentTick, syncInFlight, type TickResult } from './tick.js';
import { idleWaitMs } from '../queue/next-wake.js';

export interface SupervisorOptions {
  /** While something runs. */
  busyIntervalMs?: number;
  heartbeatMs?: number;
}

/** Which wake-ups mean work: a new row, a cancel or stop request, a resume or schedule change, or a catch-up after reconnecting. */
function isWorkWake(e: WakeEvent): boolean {
  return e.subject === 'resync' || e.action === 'created' || e.action === 'request' || e.action === 'wake';
}

export async function supervise(ctx: AgentContext, opts: SupervisorOptions = {}): Promise<void> {
  const busyMs = opts.busyIntervalMs ?? 500;
  const idleMs = ctx.config.pollIntervalS * 1000;
  let stopping = false;
  let running = false;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  const schedule = (ms: number) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void tick(), ms);
  };

  // After a failed tick (the database away), try again soon, then less often: a local database
  // comes back within a second or two, and the jobs' results wait for it.
  let failures = 0;

  const tick = async (): Promise<void> => {
    if (stopping) return;
    if (running) {
      again = true; // coalesce wake-ups that arrive during a tick
      return;
    }
    running = true;
    let busy = false;
    let retryMs: number | null = null;
    let wake: TickResult['wake'] | undefined;
    try {
      const result = await agentTick(ctx, { claim: true, backgroundSync: true });
      busy = result.busy;
      wake = result.wake;
      again ||= result.more; // a slot freed up during the pass and jobs wait: fill it now
      failures = 0;
    } catch (err) {
      retryMs = Math.min(idleMs, busyMs * 2 ** Math.min(failures++, 10));
      ctx.log.error({ err: (err as Error).message, retryMs }, 'tick failed; will try again');
    } finally {
      running = false;
    }
    if (stopping) return resolveDone();
    if (again) {
      again = false;
      schedule(0);
    } else {
      schedule(retryMs ?? (busy ? busyMs : idleWaitMs(wake, idleMs, busyMs, Date.now())));
    }
  };

  // A job started here reports its end through its recorder's pipe: conclude it now, not at the next poll.
  ctx.jobEnded = () => void tick();
  const unlisten = await ctx.store.listen((e) => {
    if (isWorkWake(e)) void tick();
  });
  const heartbeat = setInterval(() => {
    ctx.store.heartbeatAgent({ agentId: ctx.agentId }).catch((err) => ctx.log.warn({ err: (err as Error).message }, 'agent heartbeat failed'));
  }, opts.heartbeatMs ?? 30_000);

  const stop = (signal: string) => {
    if (stopping) return;
    ctx.log.info({ signal }, 'stopping: no new jobs are claimed; running jobs keep running');
    stopping = true;
    if (timer) clearTimeout(timer);
    if (!running) resolveDone();
  };
  // Registered once for this run and released when it ends (no handler left behind for a later run in the same process).
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);

  ctx.log.info({ agent: ctx.agentId, host: ctx.host, mode: ctx.config.mode }, 'supervisor started');
  void tick();
  await done;
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  clearInterval(heartbeat);
  await syncInFlight(ctx);
  await unlisten();
  await ctx.store.heartbeatAgent({ agentId: ctx.agentId, stopped: true }).catch(() => undefined);
}
