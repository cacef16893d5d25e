// Jupyter: start a server (folder, app, host), watch it become healthy, Connect (with the SSH
// tunnel command when it listens on loopback only), stop it; the past sessions below.
import { useEffect, useState } from 'preact/hooks';
import { agents, sessions, startJupyter, stopJupyter } from '../data/api.js';
import { CopyButton, ErrorBox, Loading, Section, StatusBadge, Time } from '../components/common.js';
import { t } from '../i18n.js';
import { me, source, useLive } from '../state.js';
import type { SessionRow } from '../types.js';

const ACTIVE = ['pending', 'starting', 'running', 'stopping'];
const tokenless = (url: string) => url.replace(/([?&])token=[^&#]*&?/, '$1').replace(/[?&]$/, '');

/**
 * The SSH tunnel a loopback-bound server needs: as the agent recorded it with the link, or, for
 * rows written before the agent recorded tunnels, made from the link's loopback address.
 */
function tunnelFor(s: SessionRow): string | null {
  if (s.tunnel) return s.tunnel;
  if (!s.url || !s.port) return null;
  let host: string;
  try {
    host = new URL(s.url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return null;
  }
  if (!/^(127\.|localhost$|::1$)/.test(host)) return null;
  const user = me.value?.linuxUser;
  return `ssh -N -L ${s.port}:127.0.0.1:${s.port} ${user ? `${user}@` : ''}${s.run_host ?? s.host ?? me.value?.publicHost ?? 'lab-server'}`;
}

function SessionCard({ s, focus, onStop }: { s: SessionRow; focus: boolean; onStop: () => void }) {
  const tunnel = s.status === 'running' ? tunnelFor(s) : null;
  return (
    <article class={`session${focus ? ' focus' : ''}`} data-session={s.session_id} id={`s-${s.session_id}`}>
      <div class="session-head">
        <StatusBadge status={s.status} />
        <span class="mono">{s.dir ?? '~'}</span>
        <span class="muted small">{s.app ?? 'lab'} · {s.run_host ?? s.host ?? t('jobs.any')}{s.port ? ` · ${t('jupyter.port', { p: s.port })}` : ''} · <Time iso={s.created_at} /></span>
      </div>
      {(s.status === 'pending' || s.status === 'starting') && <p class="muted" aria-live="polite">{t('jupyter.waiting')}</p>}
      {s.status === 'failed' && s.error_message && <pre class="error-box">{s.error_message}</pre>}
      {s.status === 'running' && s.url && (
        <div class="connect">
          <a class="button primary" href={s.url} target="_blank" rel="noopener noreferrer" data-testid="connect">{t('jupyter.connect')}</a>
          <span class="mono small muted">{tokenless(s.url)}</span>
        </div>
      )}
      {tunnel && (
        <div class="tunnel">
          <p class="small">{t('jupyter.tunnel')}</p>
          <div class="copyline"><code data-testid="tunnel">{tunnel}</code><CopyButton text={tunnel} /></div>
        </div>
      )}
      {ACTIVE.includes(s.status) && s.status !== 'stopping' && <button type="button" class="danger small" onClick={onStop}>{t('jupyter.stop')}</button>}
    </article>
  );
}

export function JupyterPage({ id }: { id?: string }) {
  const src = source();
  const [rows, setRows] = useState<SessionRow[] | null>(null);
  const [hosts, setHosts] = useState<string[]>([]);
  const [dir, setDir] = useState('');
  const [app, setApp] = useState('');
  const [host, setHost] = useState('');
  const [error, setError] = useState<unknown>(null);
  const load = () => sessions(src).then((r) => { setRows(r); setError(null); }, setError);
  useEffect(() => {
    void load();
    void agents(src).then((a) => setHosts([...new Set(a.map((x) => x.host))]), () => undefined);
  }, []);
  useLive((e) => {
    if (e.type === 'resync') void load();
    if (e.type === 'session') {
      setRows((r) => (r && r.some((x) => x.session_id === e.row.session_id) ? r.map((x) => (x.session_id === e.row.session_id ? { ...x, ...e.row } : x)) : r));
      void load();
    }
  });
  useEffect(() => {
    if (id && rows) document.getElementById(`s-${id}`)?.scrollIntoView({ block: 'center' });
  }, [id, rows !== null]);

  const start = async (e: Event) => {
    e.preventDefault();
    try {
      const s = await startJupyter(src, dir.trim() || null, host || null, app || null);
      setRows((r) => [s, ...(r ?? [])]);
    } catch (err) {
      setError(err);
    }
  };
  const stop = (sid: string) => void stopJupyter(src, sid).then(() => load(), setError);
  const active = rows?.filter((s) => ACTIVE.includes(s.status)) ?? [];
  const past = rows?.filter((s) => !ACTIVE.includes(s.status)) ?? [];

  return (
    <div class="page">
      <h1>{t('jupyter.title')}</h1>
      <form class="inline-form" onSubmit={(e) => void start(e)}>
        <label>{t('jupyter.dir')}<input type="text" class="mono" value={dir} onInput={(e) => setDir(e.currentTarget.value)} placeholder="~/project" /></label>
        <label>{t('jupyter.app')}
          <select value={app} onChange={(e) => setApp(e.currentTarget.value)}>
            <option value="">lab</option><option value="notebook">notebook</option><option value="server">server</option>
          </select>
        </label>
        <label>{t('jupyter.host')}
          <select value={host} onChange={(e) => setHost(e.currentTarget.value)}>
            <option value="">{t('submit.anyHost')}</option>
            {hosts.map((h) => <option value={h}>{h}</option>)}
          </select>
        </label>
        <button type="submit" class="primary">{t('jupyter.start')}</button>
      </form>
      <ErrorBox error={error} onRetry={() => void load()} />
      {!rows ? <Loading /> : rows.length === 0 ? <p class="empty">{t('jupyter.none')}</p> : (
        <>
          {active.length > 0 && <Section title={t('jupyter.active')}>{active.map((s) => <SessionCard s={s} focus={s.session_id === id} onStop={() => stop(s.session_id)} />)}</Section>}
          {past.length > 0 && <Section title={t('jupyter.past')}>{past.map((s) => <SessionCard s={s} focus={s.session_id === id} onStop={() => stop(s.session_id)} />)}</Section>}
        </>
      )}
    </div>
  );
}
