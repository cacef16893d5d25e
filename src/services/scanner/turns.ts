// The scan lets the event loop turn now and then, so that work waiting on a socket goes on while
// it runs (the sync's store opening and row read). What those turns took is that other work's
// time, not the scan's: it is counted apart (ScanResult.turnsMs). The scan's other awaits (the
// mount table's read, the asynchronous walk of a network mount) stay counted as the scan's: other
// work may run in them too, which can only make the scan's own figure larger, never smaller.
import { setImmediate as nextTurn } from 'node:timers/promises';

export interface Turns {
  /** Milliseconds spent in the turns given so far. */
  givenMs: number;
}

/** One turn of the event loop, its length added to `turns`. */
export async function giveTurn(turns: Turns | undefined): Promise<void> {
  const start = performance.now();
  await nextTurn();
  if (turns) turns.givenMs += performance.now() - start;
}
