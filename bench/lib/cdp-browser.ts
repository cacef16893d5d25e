// Debian's Chromium driven over the DevTools protocol directly (no Playwright in the measured
// path), to open a link the way a member does: a new tab straight at the address, in a fresh
// profile each time (its own browser context: empty cache, no cookies), nothing injected into it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CHROMIUM } from '../../test/helpers/web-env.js';

/**
 * The flags every test browser gets (test/helpers/web-env.ts), and the ones Playwright adds so that
 * a headless window is never treated as hidden (else its frames wait, seconds at a time).
 */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-backgrounding-occluded-windows', '--disable-renderer-backgrounding', '--disable-background-timer-throttling', '--no-first-run', '--no-default-browser-check'];

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

export class CdpBrowser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private constructor(private readonly child: ChildProcess, private readonly ws: WebSocket, private readonly profile: string) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
      const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id!);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result ?? {});
    });
  }

  static async launch(): Promise<CdpBrowser> {
    const profile = mkdtempSync(join(tmpdir(), 'lab-bench-chromium-'));
    const child = spawn(CHROMIUM, ['--headless', '--remote-debugging-port=0', `--user-data-dir=${profile}`, ...FLAGS, 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const endpoint = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`Chromium did not start: ${text}`)), 60_000);
      child.stderr!.on('data', (d) => {
        text += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`Chromium exited (${code}): ${text}`)));
    });
    const ws = new WebSocket(endpoint, { perMessageDeflate: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new CdpBrowser(child, ws, profile);
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  /**
   * Opens `url` in a new tab of a new, empty profile and evaluates `expression` (a promise) in the
   * page it lands on (once its address starts with `origin`); then throws the profile away.
   */
  async coldOpen<T>(url: string, origin: string, expression: string, timeoutMs = 60_000): Promise<T> {
    const { browserContextId } = await this.send('Target.createBrowserContext', { disposeOnDetach: true });
    try {
      const { targetId } = await this.send('Target.createTarget', { url, browserContextId, newWindow: true });
      const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string };
      const until = Date.now() + timeoutMs;
      // Until the navigation has committed, the tab still shows its first empty document.
      const guarded = `location.href.startsWith(${JSON.stringify(origin)}) ? (${expression}) : null`;
      for (;;) {
        const r = await this.send('Runtime.evaluate', { expression: guarded, awaitPromise: true, returnByValue: true }, sessionId)
          .catch(() => null) as { result?: { value?: T | null } } | null;
        const value = r?.result?.value;
        if (value !== undefined && value !== null) return value;
        if (Date.now() > until) throw new Error(`${url} did not open within ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 20));
      }
    } finally {
      await this.send('Target.disposeBrowserContext', { browserContextId }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.ws.close();
    this.child.kill('SIGTERM');
    await new Promise((resolve) => (this.child.exitCode !== null ? resolve(null) : this.child.once('exit', resolve)));
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

/**
 * A promise (as page script) for when the element marked elementtiming="<id>" was first painted
 * (Element Timing), with the navigation's own timings beside it; all in ms from navigation start.
 */
export function paintedExpression(id: string): string {
  return `new Promise((resolve) => {
    const done = (e) => {
      const n = performance.getEntriesByType('navigation')[0];
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      resolve({ painted: e.renderTime || e.loadTime, inDom: e.loadTime, redirectEnd: n.redirectEnd, responseEnd: n.responseEnd,
        domContentLoaded: n.domContentLoadedEventEnd, firstContentfulPaint: fcp ? fcp.startTime : null });
    };
    new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.identifier === ${JSON.stringify(id)}) done(e); })
      .observe({ type: 'element', buffered: true });
  })`;
}
