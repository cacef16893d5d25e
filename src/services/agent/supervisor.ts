// Continuous mode. A pass with a poll (agent_poll: the database's view, and the agent's heartbeat)
// runs when woken (NOTIFY / Realtime: a new row, a cancel or stop request), on the polling
// interval (LAB_POLL_INTERVAL_S, the fallback for lost wake-ups and the heartbeat's pace), when
// something becomes due by itself (a retry's not_before, a schedule: the poll says when,
// src/services/queue/next-wake.ts), and
// right after a pass that left work for a free slot. While jobs run, a local pass every 0.5 s
// steps them from the local process table without any request (the end of a job started here
// comes at once through its recorder's pipe; while Realtime is down they are polled every 10 s,
// for a cancel); a Jupyter server starting or stopping is looked at with a poll.
// SIGTERM/SIGINT: stop claiming, finish the tick, leave jobs running.
import type { WakeEvent } from '../store/types.js';
import type { AgentContext } from './context.js';
import { agentTick, syncInFlight } from './tick.js';
import { idleWaitMs } from '../queue/next-wake.js';

export interface SupervisorOptions {
  /** While something runs. */
  busyIntervalMs?: number;
}

/** While jobs run and wake-ups are known not to arrive: how often a poll looks for a cancel. */
const UNHEARD_POLL_MS = 10_000;

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
  /** The next pass must ask the database (a wake-up, work left for a free slot). */
  let pollAsked = false;
  let lastPoll = 0;
  /** The next moment something becomes due by itself (from the last poll): polled then, not an interval later. */
  let nextWakeAt: number | null = null;
  /** Jobs the last poll saw waiting for a slot: a job ending in a local pass frees one, so claim at once. */
  let pendingLeft = 0;
  let timer: NodeJS.Timeout | null = null;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  const schedule = (ms: number, poll: boolean) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void tick(poll), ms);
  };

  // After a failed tick (the database away), try again soon, then less often: a local database
  // comes back within a second or two, and the jobs' results wait for it.
  let failures = 0;

  const tick = async (poll: boolean): Promise<void> => {
    if (stopping) return;
    pollAsked ||= poll;
    if (running) {
      again = true; // coalesce wake-ups that arrive during a tick
      return;
    }
    running = true;
    let busy = false;
    let sessionsBusy = false;
    let retryMs: number | null = null;
    const startedAt = Date.now();
    // The heartbeat's pace holds while jobs run: a poll at least every interval.
    const wakeDue = nextWakeAt !== null && nextWakeAt <= startedAt && nextWakeAt > lastPoll;
    // Jobs run and wake-ups do not arrive (Realtime down): a cancel is seen by a poll, so poll sooner.
    const pollEvery = ctx.heldJobs.size > 0 && !ctx.store.wakeUpsLive ? Math.min(idleMs, UNHEARD_POLL_MS) : idleMs;
    const local = !pollAsked && failures === 0 && startedAt - lastPoll < pollEvery && !wakeDue;
    pollAsked = false;
    const heldBefore = ctx.heldJobs.size;
    try {
      const result = await agentTick(ctx, { claim: true, backgroundSync: true, local });
      if (!local) pendingLeft = result.jobs.pendingLeft;
      else if (pendingLeft > 0 && result.jobs.active < heldBefore) again = pollAsked = true; // a slot freed: fill it now
      if (!local) {
        lastPoll = startedAt;
        nextWakeAt = result.nextWakeAt;
      } else if (result.nextWakeAt !== null) {
        nextWakeAt = nextWakeAt === null ? result.nextWakeAt : Math.min(nextWakeAt, result.nextWakeAt); // a retry this step queued
      }
      busy = result.busy;
      sessionsBusy = result.sessionsBusy;
      if (result.more) again = pollAsked = true; // a slot freed up during the pass and jobs wait: fill it now
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
      schedule(0, false);
    } else if (retryMs !== null) {
      schedule(retryMs, true);
    } else if (busy) {
      schedule(busyMs, sessionsBusy);
    } else {
      schedule(idleWaitMs(nextWakeAt, lastPoll, idleMs, Date.now()), true);
    }
  };

  // A job started here reports its end through its recorder's pipe: conclude it now, not at the next poll.
  ctx.jobEnded = () => void tick(false);
  const unlisten = await ctx.store.listen((e) => {
    if (isWorkWake(e)) void tick(true);
  });

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
  void tick(true);
  await done;
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  await syncInFlight(ctx);
  await unlisten();
  await ctx.store.heartbeatAgent({ agentId: ctx.agentId, stopped: true }).catch(() => undefined);
}
