// Live updates for open pages, as Server-Sent Events. Fed by the store's wake-ups (LISTEN/NOTIFY,
// or Realtime when the agent talks to Supabase): each change is read once and sent to every page.
// Behind them, while a page is open, a poll of dashboard_changes catches what a wake-up missed
// (a dropped connection, tails written by a heartbeat, which wakes nobody).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { LabStore } from '../store/lab-store.js';
import type { WakeEvent } from '../store/types.js';

export type LiveEvent =
  | { type: 'job'; row: Record<string, unknown>; partial?: boolean }
  | { type: 'session'; row: Record<string, unknown> }
  | { type: 'resync' };

export interface LiveHubOptions {
  /** The fallback poll while a page is open. */
  pollMs?: number;
  /** A comment line now and then keeps proxies and tunnels from closing an idle stream. */
  pingMs?: number;
}

export class LiveHub {
  private readonly clients = new Set<ServerResponse>();
  private unlisten: (() => Promise<void>) | null = null;
  private poll: NodeJS.Timeout | null = null;
  private ping: NodeJS.Timeout | null = null;
  private since: string | null = null;

  constructor(private readonly store: LabStore, private readonly log: Logger, private readonly opts: LiveHubOptions = {}) {}

  async start(): Promise<void> {
    this.since = (await this.store.transport.rpc<{ now: string }>('dashboard_changes', { p_since: new Date().toISOString() })).now;
    this.unlisten = await this.store.listen((e) => void this.onWake(e));
  }

  private async onWake(e: WakeEvent): Promise<void> {
    if (this.clients.size === 0) return;
    try {
      if (e.subject === 'resync' || !e.id) return this.send({ type: 'resync' });
      if (e.subject === 'job') this.send({ type: 'job', row: { ...(await this.store.getJob(e.id)) } });
      else this.send({ type: 'session', row: { ...(await this.store.getSession(e.id)) } });
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'live update: row not read');
    }
  }

  private async catchUp(): Promise<void> {
    try {
      const c = await this.store.transport.rpc<{ now: string; jobs: Record<string, unknown>[]; sessions: Record<string, unknown>[] }>(
        'dashboard_changes', { p_since: this.since },
      );
      this.since = c.now;
      for (const row of c.jobs) this.send({ type: 'job', row, partial: true });
      for (const row of c.sessions) this.send({ type: 'session', row });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'live update poll failed');
    }
  }

  send(event: LiveEvent): void {
    const frame = `data: ${JSON.stringify(event)}\n\n`;
    for (const res of this.clients) res.write(frame);
  }

  /** Keeps the response open as an event stream until the page goes. */
  add(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    req.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.timers(false);
    });
    this.timers(true);
  }

  /** Timers run only while a page listens: an idle server does nothing. */
  private timers(on: boolean): void {
    if (on && !this.poll) {
      this.poll = setInterval(() => void this.catchUp(), this.opts.pollMs ?? 10_000);
      this.ping = setInterval(() => {
        for (const res of this.clients) res.write(': ping\n\n');
      }, this.opts.pingMs ?? 25_000);
    } else if (!on && this.poll) {
      clearInterval(this.poll);
      clearInterval(this.ping!);
      this.poll = this.ping = null;
    }
  }

  get listeners(): number {
    return this.clients.size;
  }

  async stop(): Promise<void> {
    this.timers(false);
    for (const res of this.clients) res.end();
    this.clients.clear();
    await this.unlisten?.();
  }
}
