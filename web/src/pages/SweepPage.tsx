// One sweep: its grid (a row per cell: parameters, state, exit code, the LAB_RESULT it printed,
// why a waiting cell waits), live; cancel what has not ended.
import { useEffect, useState } from 'preact/hooks';
import { gridAxes } from '../../../src/services/queue/sweep-grid.js';
import { cancelSweep, getSweep, type SweepCell, type SweepView } from '../data/queue-api.js';
import { ErrorBox, Loading, StatusBadge, Time } from '../components/common.js';
import { argsText, basename } from '../format.js';
import { t } from '../i18n.js';
import { source, useLiveReload } from '../state.js';
import { Counts } from './QueuePage.js';

const OPEN = ['pending', 'claimed', 'running'];
const result = (c: SweepCell) => (c.result === null || c.result === undefined ? '' : JSON.stringify(c.result));

export function SweepPage({ id }: { id: string }) {
  const [view, setView] = useState<SweepView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [cancelling, setCancelling] = useState(false);
  const load = () => getSweep(source(), id).then((v) => { setView(v); setError(null); }, setError);
  useEffect(() => void load(), [id]);
  useLiveReload(() => void load());
  if (!view) return <div class="page"><a class="back" href="#/queue">{t('sweep.back')}</a><ErrorBox error={error} />{!error && <Loading />}</div>;
  const s = view.sweep;
  const axes = gridAxes(view);
  const open = view.jobs.some((c) => OPEN.includes(c.status));
  const cancel = () => {
    if (!confirm(t('sweep.confirm'))) return;
    setCancelling(true);
    void cancelSweep(source(), id).then(setView, setError).finally(() => setCancelling(false));
  };
  return (
    <div class="page">
      <a class="back" href="#/queue">{t('sweep.back')}</a>
      <div class="page-head">
        <h1>{t('sweep.title', { script: basename(s.script_path) })} <span class="mono small muted">{s.sweep_id.slice(0, 8)}</span></h1>
        {open && <button type="button" class="danger" disabled={cancelling} onClick={cancel}>{t('sweep.cancel')}</button>}
      </div>
      <ErrorBox error={error} onRetry={() => void load()} />
      <p class="muted">
        <span class="mono">{s.script_path}{s.args ? ` ${argsText(s.args)}` : ''}</span>
        {' · '}{t('sweep.cellsLine', { n: s.cells })}{s.max_parallel ? ` · ${t('sweeps.maxParallel', { n: s.max_parallel })}` : ''}
        {' · '}<Time iso={s.created_at} />{s.finished_at ? <> {' · '}{t('jobs.ended')} <Time iso={s.finished_at} /></> : null}
      </p>
      <p><Counts counts={s.counts} /></p>
      <table class="servers grid-cells">
        <thead>
          <tr><th>#</th>{axes.map((a) => <th class="mono">{a}</th>)}<th>{t('jobs.status')}</th><th>{t('jobs.exit')}</th><th>{t('sweep.result')}</th><th>{t('sweep.waiting')}</th><th>{t('job.title')}</th></tr>
        </thead>
        <tbody>
          {view.jobs.map((c) => (
            <tr data-cell={c.sweep_index} data-job={c.job_id}>
              <td data-label="#">{c.sweep_index + 1}</td>
              {axes.map((a) => <td data-label={a} class="mono">{c.params?.[a] ?? ''}</td>)}
              <td data-label={t('jobs.status')}><StatusBadge status={c.status} />{c.attempt > 1 ? <span class="muted small"> {t('sweep.attempt', { n: c.attempt })}</span> : null}</td>
              <td data-label={t('jobs.exit')} class={c.retcode ? 'bad' : ''}>{c.retcode ?? c.signal ?? ''}</td>
              <td data-label={t('sweep.result')} class="mono">{result(c)}</td>
              <td data-label={t('sweep.waiting')} class="muted small">{c.status === 'pending' ? (c.pending_reason ?? '') : ''}</td>
              <td data-label={t('job.title')}><a href={`#/jobs/${c.job_id}`} class="mono">{c.job_id.slice(0, 8)}</a></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
