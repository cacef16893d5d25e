// Every lab server's GPUs as its agent last published them (hosts_list): free or not, memory, and a
// utilisation sparkline over the last hour; and whether the host is drained, by the member or for
// the whole lab (host_drains_list). Any member sees every host, never another's jobs.
import type { HostDrain } from '../data/queue-api.js';
import { Time } from './common.js';
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

/** The drains on a host, the lab's first: what the member sees about who stopped it and how to undo it. */
export function DrainNote({ drains }: { drains: HostDrain[] }) {
  if (drains.length === 0) return null;
  return (
    <span class="drains">
      {drains.map((d) => (
        <span class="drain" data-drained={d.lab_wide ? 'lab' : 'mine'}>
          <span class="badge st-drained">{d.lab_wide ? t('drain.lab') : t('drain.mine')}</span>
          {d.note ? <span class="small"> {d.note}</span> : null}
          <span class="muted small"> · <Time iso={d.drained_at} />{d.lab_wide ? '' : ` · ${t('drain.undo', { host: d.host })}`}</span>
        </span>
      ))}
    </span>
  );
}

/** A stand-in row for a drained host that has published no resources. */
const unpublished = (host: string): HostItem => ({
  host, updated_at: '', seconds_since_update: 0, gpu_status: null, gpu_problem: null, cpu_count: null, load_1m: null, mem_total_mib: null, mem_free_mib: null, gpus: [],
});

const gib = (mib: number | null | undefined) => (mib === null || mib === undefined ? '?' : (mib / 1024).toFixed(mib < 10_240 ? 1 : 0));

export function HostGpus({ hosts: published, drains = [] }: { hosts: HostItem[]; drains?: HostDrain[] }) {
  const known = new Set(published.map((h) => h.host));
  const hosts = [...published, ...[...new Set(drains.map((d) => d.host))].filter((h) => !known.has(h)).map(unpublished)];
  if (hosts.length === 0) return <p class="empty">{t('hosts.none')}</p>;
  return (
    <table class="servers hosts">
      <thead><tr><th>{t('servers.host')}</th><th>GPU</th><th>{t('hosts.model')}</th><th>{t('hosts.memory')}</th><th>{t('hosts.state')}</th><th>{t('hosts.util')}</th></tr></thead>
      <tbody>
        {hosts.flatMap((h) => {
          const free = h.gpus.filter((g) => g.free).length;
          const drained = drains.filter((d) => d.host === h.host).sort((a, b) => Number(b.lab_wide ?? false) - Number(a.lab_wide ?? false));
          const head = (
            <tr data-host={h.host} data-drained={drained.length ? 'yes' : 'no'}>
              <td data-label={t('servers.host')}><strong>{h.host}</strong></td>
              <td colSpan={5} class="muted">
                {!known.has(h.host) ? t('hosts.unpublished') : <>
                  {h.gpus.length ? t('hosts.free', { free: String(free), total: String(h.gpus.length) }) : (h.gpu_problem ?? t('hosts.noGpu'))}
                  {' · '}{t('hosts.cpu', { load: String(h.load_1m ?? '?'), cpus: String(h.cpu_count ?? '?') })}
                  {h.mem_total_mib ? <>{' · '}{t('hosts.mem', { free: gib(h.mem_free_mib), total: gib(h.mem_total_mib) })}</> : null}
                </>}
                {' '}<DrainNote drains={drained} />
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
