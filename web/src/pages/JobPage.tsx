// One job: its facts, live output, the executed notebook (for .ipynb), its path on the job
// machine and its timeline; cancel and resubmit.
import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'wouter-preact';
import { parseJobArgs } from '../../../src/services/runner/args.js';
import { cancelJob, getJob, history, resubmit } from '../data/api.js';
import { ErrorBox, Loading, Section, StatusBadge, Time } from '../components/common.js';
import { LogView } from '../components/LogView.js';
import { MachineChart } from '../components/MachineChart.js';
import { argsText, basename, duration } from '../format.js';
import { t, type Key } from '../i18n.js';
import { isDark, source, useLive } from '../state.js';
import type { JobRow, LifecycleEvent } from '../types.js';

const ended = (s: string) => s === 'finished' || s === 'failed' || s === 'cancelled';

function argvOf(args: string | null): string {
  try {
    return JSON.stringify(parseJobArgs(args));
  } catch (err) {
    return (err as Error).message;
  }
}

function Facts({ job }: { job: JobRow }) {
  const rows: [Key, preact.ComponentChildren][] = [
    ['job.id', <span class="mono">{job.job_id}</span>],
    ['jobs.script', <span class="mono">{job.script_path}</span>],
    ['jobs.args', job.args ? <span class="mono">{argsText(job.args)}</span> : null],
    ['job.argv', job.args ? <span class="mono">{argvOf(job.args)}</span> : null],
    ['job.host', job.run_host ?? job.host ?? t('jobs.any')],
    ['job.interpreter', job.interpreter ? <span class="mono">{job.interpreter}</span> : null],
    ['job.pid', job.pid],
    ['job.created', <Time iso={job.created_at} rel={false} />],
    ['job.started', job.started_at ? <Time iso={job.started_at} rel={false} /> : null],
    ['job.finished', job.finished_at ? <Time iso={job.finished_at} rel={false} /> : null],
    ['job.duration', duration(job) || null],
    ['job.exitCode', job.retcode !== null ? <strong class={job.retcode ? 'bad' : 'good'} data-testid="exit-code">{job.retcode}</strong> : null],
    ['job.signal', job.signal],
    ['job.timeout', job.timeout_s ? `${job.timeout_s} s` : null],
    ['job.logs', job.log_dir ? <span class="mono">{job.log_dir}</span> : null],
    // the agent that ended the job recorded whether an email went, and why not
    ['job.notified', job.notified_at ? (job.no_email_reason ? t('job.noEmail', { reason: job.no_email_reason }) : <Time iso={job.notified_at} />) : null],
  ];
  return (
    <dl class="facts">
      {rows.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => <><dt>{t(k)}</dt><dd>{v}</dd></>)}
    </dl>
  );
}

export function JobPage({ id }: { id: string }) {
  const [job, setJob] = useState<JobRow | null>(null);
  const [events, setEvents] = useState<LifecycleEvent[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [stream, setStream] = useState<'stdout' | 'stderr'>('stdout');
  const [, navigate] = useLocation();
  const src = source();

  const load = async () => {
    try {
      const [j, h] = await Promise.all([getJob(src, id), history(src, id)]);
      setJob(j);
      setEvents(h);
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    setJob(null);
    void load();
  }, [id]);
  useLive((e) => {
    if (e.type === 'resync' || (e.type === 'job' && e.row.job_id === id)) void load();
  });
  // A failure shows its stderr first: that is where the reason is.
  useEffect(() => {
    if (job?.status === 'failed' && job.stderr_tail) setStream('stderr');
  }, [job?.status]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !(e.target as HTMLElement).closest('input,textarea,select')) navigate('/');
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  if (!job) return <div class="page">{error ? <><ErrorBox error={error} onRetry={() => void load()} /><a href="#/">{t('job.back')}</a></> : <Loading />}</div>;
  const act = (p: Promise<JobRow>, go = false) => p.then((j) => (go ? navigate(`/jobs/${j.job_id}`) : setJob(j)), setError);
  const notebook = job.script_path?.endsWith('.ipynb') && src.notebookUrl;

  return (
    <div class="page" data-job={job.job_id}>
      <a href="#/" class="back">{t('job.back')}</a>
      <div class="page-head">
        <h1><span class="mono">{basename(job.script_path)}</span> <StatusBadge status={job.status} /></h1>
        <div class="actions">
          {!ended(job.status) && (job.cancel_requested_at
            ? <span class="muted">{t('job.cancelAsked')}</span>
            : <button type="button" class="danger" onClick={() => void act(cancelJob(src, job.job_id))}>{t('job.cancel')}</button>)}
          <button type="button" onClick={() => void act(resubmit(src, job), true)}>{t('job.resubmit')}</button>
          <a class="button" href={`#/submit/from/${job.job_id}`}>{t('job.edit')}</a>
        </div>
      </div>
      <ErrorBox error={error} />
      {job.error && <pre class="error-box" data-testid="job-error">{job.error}</pre>}
      <div class="grid">
        <Section title={t('job.facts')}><Facts job={job} /></Section>
        <Section title={t('job.output')} actions={
          <div class="tabs" role="tablist">
            {(['stdout', 'stderr'] as const).map((s) => (
              <button type="button" role="tab" aria-selected={stream === s} class={stream === s ? 'tab active' : 'tab'} onClick={() => setStream(s)}>{t(`job.${s}`)}</button>
            ))}
          </div>
        }>
          <LogView key={`${job.job_id}-${stream}`} job={job} stream={stream} />
        </Section>
      </div>
      {notebook && (
        <Section title={t('job.notebook')}>
          {job.started_at
            ? <iframe class="notebook" title={t('job.notebook')} sandbox="" src={src.notebookUrl!(job.job_id, isDark())} key={`${job.status}-${isDark()}`} />
            : <p class="muted">{t('job.notebookNone')}</p>}
        </Section>
      )}
      <Section title={t('job.machine')}>
        <MachineChart machine="job" events={events} status={job.status} />
      </Section>
    </div>
  );
}
