// The member's agents: which hosts, alive or not, version, last heartbeat, drained or not; below,
// every lab server's published resources.
import { useEffect, useState } from 'preact/hooks';
import { agents, hosts as hostsOf } from '../data/api.js';
import { drains as drainsOf, type HostDrain } from '../data/queue-api.js';
import { ErrorBox, Loading, Time } from '../components/common.js';
import { DrainNote, HostGpus } from '../components/HostGpus.js';
import { t } from '../i18n.js';
import { me, source, useLive } from '../state.js';
import type { AgentItem, HostItem } from '../types.js';

export function ServersPage() {
  const [rows, setRows] = useState<AgentItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [hosts, setHosts] = useState<HostItem[] | null>(null);
  const [drains, setDrains] = useState<HostDrain[]>([]);
  const load = () => Promise.all([agents(source()), hostsOf(source()), drainsOf(source())])
    .then(([r, h, d]) => { setRows(r); setHosts(h); setDrains(d); setError(null); }, setError);
  useEffect(() => {
    void load();
    // Liveness is a matter of time passing: look again now and then.
    const timer = setInterval(() => void load(), 30_000);
    return () => clearInterval(timer);
  }, []);
  useLive((e) => e.type === 'resync' && void load());
  const here = me.value;
  return (
    <div class="page">
      <h1>{t('servers.title')}</h1>
      {here?.host && <p class="muted">{t('servers.here', { host: here.host, mode: here.mode, version: here.version ?? '?' })}</p>}
      <ErrorBox error={error} onRetry={() => void load()} />
      {!rows ? <Loading /> : rows.length === 0 ? <p class="empty">{t('servers.none')}</p> : (
        <table class="servers">
          <thead><tr><th>{t('servers.host')}</th><th>{t('jobs.status')}</th><th>{t('servers.mode')}</th><th>{t('servers.version')}</th><th>{t('servers.heartbeat')}</th><th>{t('servers.started')}</th><th>pid</th></tr></thead>
          <tbody>
            {rows.map((a) => (
              <tr data-agent={a.agent_id}>
                <td data-label={t('servers.host')}><strong>{a.host}</strong> <DrainNote drains={drains.filter((d) => d.host === a.host)} /></td>
                <td data-label={t('jobs.status')}><span class={`dot ${a.alive ? 'alive' : 'gone'}`} />{a.alive ? t('servers.alive') : t('servers.gone')}</td>
                <td data-label={t('servers.mode')}>{a.mode}</td>
                <td data-label={t('servers.version')}>{a.version}</td>
                <td data-label={t('servers.heartbeat')}><Time iso={a.heartbeat_at} /></td>
                <td data-label={t('servers.started')}><Time iso={a.started_at} /></td>
                <td data-label="pid" class="mono">{a.pid}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>{t('hosts.title')}</h2>
      {hosts && <HostGpus hosts={hosts} drains={drains} />}
    </div>
  );
}
