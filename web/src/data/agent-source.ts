// The agent's own API (`lab-agent web`): same-origin requests with the session cookie, live
// changes as Server-Sent Events, and the files only the lab server has.
import type { LogChunk, NotebookParam } from '../types.js';
import { ApiError, type DataSource, type Identity } from './source.js';

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin', cache: 'no-store', ...init });
  const body = (await res.json().catch(() => ({}))) as { error?: string; code?: string | null };
  if (!res.ok) throw new ApiError(body.error ?? `${res.status} ${res.statusText}`, res.status, body.code ?? null);
  return body as T;
}

/** What /api/me (and the page's boot data) says about where the page is served from. */
export interface Me {
  userId: string;
  linuxUser: string;
  mode: string;
  host: string;
  version: string;
  jupyterIp: string;
  publicHost: string;
}

export const identityOf = (me: Me): Identity => ({
  userId: me.userId, label: me.linuxUser, mode: me.mode, host: me.host, version: me.version, linuxUser: me.linuxUser, jupyterIp: me.jupyterIp, publicHost: me.publicHost,
});

export function agentSource(): DataSource {
  return {
    kind: 'agent',
    caps: { fullLogs: true, notebook: true, notebookParams: true },
    rpc: (fn, args = {}) =>
      request(`api/rpc/${fn}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(args) }),
    async identity(): Promise<Identity | null> {
      try {
        return identityOf(await request<Me>('api/me'));
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return null;
        throw err;
      }
    },
    subscribe(on, connected) {
      const events = new EventSource('api/events');
      let opened = false;
      events.onmessage = (m) => on(JSON.parse(m.data as string));
      // After a reconnect the page catches up: changes in between were not sent.
      events.onopen = () => {
        connected(true);
        if (opened) on({ type: 'resync' });
        opened = true;
      };
      events.onerror = () => connected(false);
      return () => events.close();
    },
    log: (jobId, stream, at) => {
      const q = new URLSearchParams({ stream });
      for (const [k, v] of Object.entries(at)) if (v !== undefined) q.set(k, String(v));
      return request<LogChunk>(`api/jobs/${jobId}/log?${q}`);
    },
    notebookUrl: (jobId, dark) => `api/jobs/${jobId}/notebook${dark ? '?theme=dark' : ''}`,
    notebookParams: async (scriptId) => (await request<{ params: NotebookParam[] }>(`api/scripts/${scriptId}/params`)).params,
  };
}
