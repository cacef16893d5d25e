// The agent's inventory pass: sync the script inventory when SYNC_INTERVAL_MIN has passed. Runs
// after the job pass in every tick; it never throws, since a failed scan must not stop the agent.
import type { AgentContext } from '../agent/context.js';
import { readSyncState, syncDue } from './sync-state.js';
import type { SyncResult } from './sync.js';

/** Runs a sync when one is due; null when none ran (not due, another sync running, or failed). */
export async function runSyncPass(ctx: AgentContext): Promise<SyncResult | null> {
  const { config, log } = ctx;
  try {
    // Cheap check first: a cron tick that is not due does not even load the scanner.
    if (!syncDue(readSyncState(config.dataDir, config.host), config.syncIntervalMin).due) return null;
    const { syncInventory } = await import('./sync.js');
    // lockWaitMs 0: when a `lab-agent sync` is running, leave it to that one.
    // The cached rows of this database and member spare the read when nothing changed (rows-cache.ts).
    const cacheKey = `${ctx.store.kind}:${ctx.store.userId}`;
    const result = await syncInventory({ store: ctx.store, config, log, cacheKey }, { lockWaitMs: 0 });
    return result.skipped ? null : result;
  } catch (err) {
    log.error({ err: (err as Error).message }, 'script inventory sync failed; it is tried again on a later tick');
    return null;
  }
}
