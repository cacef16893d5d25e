// Every lab server's GPUs as its agent last published them (hosts_list): free or not, memory, and a
// utilisation sparkline over the last hour. Any member sees every host, never another's jobs.
import { t } from '../i18n.js';
import { sparklinePoints } from '../sparkline.js';
import type { HostItem } from '../types.js';

function Sparkline({ samples }: { samples: [string, number | null][] }) {
  const points = sparklinePoints(samples, Date.now());
  return (
    <svg class="spark" viewBox="0 0 120 24" width="120" height="24" role="img" aria-label={t('hosts.util')}>
      <rect width="120" height="24" fill="none" stroke="currentColor" stroke-opacity="0.15" />
      {points && <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" />}
    </svg>
  );
}

export function HostGpus({ hosts }: { hosts: HostItem[] }) {
  if (hosts.length === 0) return <p class="empty">{t('hosts.none')}</p>;
  return (
    <table class="servers hosts">
      <thead><tr><th>{t('servers.host')}</th><th>GPU</th><th>{t('hosts.model')}</th><th>{t('hosts.memory')}</th><th>{t('hosts.state')}</th><th>{t('hosts.util')}</th></tr></thead>
      <tbody>
        {hosts.flatMap((h) => {
          const free = h.gpus.filter((g) => g.free).length;
          const head = (
            <tr data-host={h.host}>
              <td data-label={t('servers.host')}><strong>{h.host}</strong></td>
              <td colSpan={5} class="muted">
                {h.gpus.length ? t('hosts.free', { free: String(free), total: String(h.gpus.length) }) : (h.gpu_problem ?? t('hosts.noGpu'))}
                {' · '}{t('hosts.cpu', { load: String(h.load_1m ?? '?'), cpus: String(h.cpu_count ?? '?') })}
              </td>
            </tr>
          );
          return [head, ...h.gpus.map((g) => (
            <tr data-gpu={g.uuid} data-free={g.free ? 'yes' : 'no'}>
              <td />
              <td data-label="GPU" class="mono">{g.index}</td>
              <td data-label={t('hosts.model')}>{g.model}</td>
              <td data-label={t('hosts.memory')}>{g.memory_used_mib ?? '?'} / {g.memory_total_mib ?? '?'} MiB</td>
              <td data-label={t('hosts.state')}>{g.unusable ? t('hosts.unusable') : g.free ? t('hosts.isFree') : g.leased ? t('hosts.leased') : t('hosts.busy')}</td>
              <td data-label={t('hosts.util')}><Sparkline samples={g.history ?? []} /> {g.utilization_pct ?? '-'}%</td>
            </tr>
          ))];
        })}
      </tbody>
    </table>
  );
}
