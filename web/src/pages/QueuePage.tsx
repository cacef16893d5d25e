// The queue (issue 17): the member's sweeps, each with its cells' states at a glance (open one for
// its grid), and their schedules (pause, resume). Live: a job's change reloads both, since a
// sweep's counts and a schedule's last run follow from its jobs.
import { useEffect, useState } from 'preact/hooks';
import { pauseSchedule, resumeSchedule, schedules as schedulesOf, sweeps as sweepsOf, type ScheduleRow, type SweepRow } from '../data/queue-api.js';
import { ErrorBox, Loading, StatusBadge, Time } from '../components/common.js';
import { argsText, basename } from '../format.js';
import { t } from '../i18n.js';
import { source, useLiveReload } from '../state.js';

/** Each state's count, in the lifecycle's order, as small badges. */
export function Counts({ counts }: { counts: SweepRow['counts'] }) {
  const order = ['running', 'claimed', 'pending', 'finished', 'failed', 'cancelled'] as const;
  return (
    <span class="counts">
      {order.filter((s) => counts[s]).map((s) => <span data-count={s}><StatusBadge status={s} /> {counts[s]}</span>)}
    </span>
  );
}

function SweepsTable({ rows }: { rows: SweepRow[] }) {
  if (rows.length === 0) return <p class="empty">{t('sweeps.none')}</p>;
  return (
    <table class="servers sweeps">
      <thead><tr><th>{t('sweeps.sweep')}</th><th>{t('jobs.queued')}</th><th>{t('sweeps.cells')}</th><th>{t('sweeps.progress')}</th><th>{t('jobs.ended')}</th></tr></thead>
      <tbody>
        {rows.map((s) => (
          <tr data-sweep={s.sweep_id}>
            <td data-label={t('sweeps.sweep')}><a href={`#/sweeps/${s.sweep_id}`}>{basename(s.script_path)}</a> <span class="mono small muted">{s.sweep_id.slice(0, 8)}</span></td>
            <td data-label={t('jobs.queued')}><Time iso={s.created_at} /></td>
            <td data-label={t('sweeps.cells')}>{s.cells}{s.max_parallel ? <span class="muted small"> · {t('sweeps.maxParallel', { n: s.max_parallel })}</span> : null}</td>
            <td data-label={t('sweeps.progress')}><Counts counts={s.counts} /></td>
            <td data-label={t('jobs.ended')}><Time iso={s.finished_at} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SchedulesTable({ rows, busy, act }: { rows: ScheduleRow[]; busy: string | null; act: (s: ScheduleRow) => void }) {
  if (rows.length === 0) return <p class="empty">{t('schedules.none')}</p>;
  return (
    <table class="servers schedules">
      <thead><tr><th>{t('schedules.when')}</th><th>{t('jobs.script')}</th><th>{t('schedules.next')}</th><th>{t('schedules.last')}</th><th>{t('schedules.runs')}</th><th>{t('jobs.status')}</th><th /></tr></thead>
      <tbody>
        {rows.map((s) => (
          <tr data-schedule={s.schedule_id} data-paused={s.paused_at ? 'yes' : 'no'}>
            <td data-label={t('schedules.when')}><code>{s.cron}</code> <span class="muted small">{s.time_zone}</span></td>
            <td data-label={t('jobs.script')} class="script"><span title={s.script_path}>{basename(s.script_path)}</span> <span class="mono small muted">{argsText(s.args)}</span></td>
            <td data-label={t('schedules.next')}>{s.paused_at ? <span class="muted">—</span> : <Time iso={s.next_due_at} />}</td>
            <td data-label={t('schedules.last')}>
              {s.last_job_id ? <a href={`#/jobs/${s.last_job_id}`}>{s.last_job_status ? <StatusBadge status={s.last_job_status} /> : s.last_job_id.slice(0, 8)}</a> : null} <Time iso={s.last_fired_at} />
            </td>
            <td data-label={t('schedules.runs')}>{t('schedules.counts', { runs: s.runs, skipped: s.skipped })}</td>
            <td data-label={t('jobs.status')}><span class={`badge ${s.paused_at ? 'st-paused' : 'st-active'}`}>{s.paused_at ? t('schedules.paused') : t('schedules.active')}</span></td>
            <td>
              <button type="button" class="small" disabled={busy === s.schedule_id} onClick={() => act(s)}>
                {s.paused_at ? t('schedules.resume') : t('schedules.pause')}
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function QueuePage() {
  const [sweeps, setSweeps] = useState<SweepRow[] | null>(null);
  const [schedules, setSchedules] = useState<ScheduleRow[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const load = () => Promise.all([sweepsOf(source()), schedulesOf(source())])
    .then(([a, b]) => { setSweeps(a); setSchedules(b); setError(null); }, setError);
  useEffect(() => void load(), []);
  useLiveReload(() => void load());
  const toggle = (s: ScheduleRow) => {
    setBusy(s.schedule_id);
    // resumeSchedule reads the cron line: a bad one (written elsewhere) is an error shown here.
    void (async () => (s.paused_at ? resumeSchedule(source(), s) : pauseSchedule(source(), s.schedule_id)))()
      .then(() => load(), setError).finally(() => setBusy(null));
  };
  return (
    <div class="page">
      <h1>{t('queue.title')}</h1>
      <ErrorBox error={error} onRetry={() => void load()} />
      <h2>{t('sweeps.title')}</h2>
      {sweeps ? <SweepsTable rows={sweeps} /> : <Loading />}
      <p class="hint">{t('sweeps.hint')}</p>
      <h2>{t('schedules.title')}</h2>
      {schedules ? <SchedulesTable rows={schedules} busy={busy} act={toggle} /> : <Loading />}
      <p class="hint">{t('schedules.hint')}</p>
    </div>
  );
}
