// A row's path over its lifecycle machine, and its timeline: the visualizer's own pieces. The
// statechart was drawn from the machine at build time (vite.config.ts); the row's events are laid
// onto it by traceHistory, the same code `lab-agent viz --job` runs, and the states and
// transitions it took are marked here by their ids (state-<id>, edge-<n>).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { MachineGraph } from '../../../src/services/viz/machine-graph.js';
import { traceHistory, type RowHistory } from '../../../src/services/viz/history.js';
import { formatDetail, formatPath } from '../../../src/services/viz/timeline.js';
import { absTime } from '../format.js';
import { t } from '../i18n.js';
import type { LifecycleEvent } from '../types.js';
import { StatusBadge } from './common.js';

type Machines = Record<'job' | 'jupyter', { graph: MachineGraph; svg: string }>;
let machines: Promise<Machines> | null = null;
const loadMachines = () => (machines ??= import('virtual:lab-machines').then((m) => m.default));

function mark(svg: SVGSVGElement, h: RowHistory): void {
  const byId = (id: string) => svg.querySelector(`[id="${CSS.escape(id)}"]`);
  svg.querySelectorAll('.visited, .current, .taken').forEach((el) => el.classList.remove('visited', 'current', 'taken'));
  svg.classList.add('traced');
  for (const s of h.visited) byId(`state-${s}`)?.classList.add('visited');
  if (h.current) byId(`state-${h.current}`)?.classList.add('current');
  for (const [edge, steps] of h.taken) {
    const el = byId(`edge-${edge}`);
    if (!el) continue;
    el.classList.add('taken');
    el.setAttribute('data-steps', steps.join(','));
  }
}

export function MachineChart({ machine, events, status }: { machine: 'job' | 'jupyter'; events: LifecycleEvent[]; status: string }) {
  const [drawn, setDrawn] = useState<{ graph: MachineGraph; svg: string } | null>(null);
  const [history, setHistory] = useState<RowHistory | null>(null);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => void loadMachines().then((m) => setDrawn(m[machine])), [machine]);
  useEffect(() => {
    if (drawn) setHistory(traceHistory(drawn.graph, events));
  }, [drawn, events]);
  useEffect(() => {
    const svg = box.current?.querySelector('svg');
    if (svg && history) mark(svg, history);
  }, [drawn, history]);

  return (
    <div class="machine">
      {history && <p class="path mono" data-testid="machine-path">{history.path.join(' → ') || '—'}</p>}
      {/* Drawn at build time from the machine definition: trusted markup, no data from any row. */}
      <div ref={box} class="chart" role="img" aria-label={t('job.machine')} dangerouslySetInnerHTML={drawn ? { __html: drawn.svg } : undefined} />
      {history && (
        <div class="table-wrap">
          <table class="timeline">
            <caption class="sr-only">{t('job.timeline')}</caption>
            <thead><tr><th>#</th><th>{t('job.when')}</th><th>{t('job.change')}</th><th>{t('job.way')}</th><th>{t('job.detail')}</th></tr></thead>
            <tbody>
              {history.steps.map((s) => (
                <tr class={s.external || s.problem ? 'external' : ''}>
                  <td>{s.n}</td>
                  <td><time dateTime={s.at}>{absTime(s.at)}</time></td>
                  <td>{s.fromStatus && s.kind !== 'created' ? <><StatusBadge status={s.fromStatus} /> → </> : '→ '}<StatusBadge status={s.toStatus} />{s.kind === 'request' ? ` (${s.action ?? 'request'})` : ''}</td>
                  <td class="mono small">{s.external && !s.problem ? t('job.outside') : formatPath(s)}</td>
                  <td class="small">{formatDetail(s.detail)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <span class="sr-only">{status}</span>
    </div>
  );
}
