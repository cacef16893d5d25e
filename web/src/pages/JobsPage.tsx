// The job list: newest first, live, filtered by status, host, script and text, paged by a keyset
// cursor so 10,000 jobs stay as quick as 10.
import { signal } from '@preact/signals';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useLocation } from 'wouter-preact';
import { cursorAfter, jobsFacets, jobsPage, PAGE_SIZE, resubmit, type Cursor, type JobFilter } from '../data/api.js';
import { ErrorBox, StatusBadge, Time } from '../components/common.js';
import { argsText, basename, dirname, duration } from '../format.js';
import { t } from '../i18n.js';
import { source, useLive } from '../state.js';
import type { JobListItem, JobPage } from '../types.js';

/** Element Timing's mark on the first row: when the list was first painted (a browser trace shows it). */
const FIRST_ROW_TIMING = { elementtiming: 'first-job-row' };
const STATUSES = ['pending', 'claimed', 'running', 'finished', 'failed', 'cancelled'];
/** Kept across visits to a job and back. */
const filter = signal<JobFilter>({ statuses: [], host: null, script: null, q: '' });
const cursors = signal<Cursor[]>([]);

/**
 * The first page, asked for while the page is still starting (beside "who am I"), so opening the
 * dashboard costs one round trip less. Used once, if the filter is still the default.
 */
let early: Promise<JobPage> | null = null;
export function prefetchFirstPage(): void {
  early = jobsPage(source(), filter.value, null);
  early.catch(() => undefined);
}

/** The first page as the agent put it into index.html: the list's very first render shows it. */
let seeded: JobPage | null = null;
export function seedFirstPage(page: JobPage): void {
  seeded = page;
}

const setFilter = (f: Partial<JobFilter>) => {
  filter.value = { ...filter.value, ...f };
  cursors.value = [];
};

/** GPUs, when the row has such a column (a later schema); nothing otherwise. */
const gpusOf = (j: JobListItem): string | null => {
  const v = j.gpus ?? j.gpu_count ?? j.gpu_ids;
  return v === undefined || v === null || v === 0 ? null : Array.isArray(v) ? v.join(',') : String(v);
};

function isTyping(e: KeyboardEvent): boolean {
  const el = e.target as HTMLElement | null;
  return !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
}

export function JobsPage() {
  // Taken once: a later visit to the list asks again.
  const [page, setPage] = useState<JobPage | null>(() => {
    const first = seeded;
    seeded = null;
    return first;
  });
  const fromSeed = useRef(page !== null);
  const [error, setError] = useState<unknown>(null);
  const [facets, setFacets] = useState<{ hosts: string[]; scripts: string[] }>({ hosts: [], scripts: [] });
  const [selected, setSelected] = useState(0);
  const [q, setQ] = useState(filter.value.q);
  const [, navigate] = useLocation();
  const search = useRef<HTMLInputElement>(null);
  const refetch = useRef<ReturnType<typeof setTimeout> | null>(null);
  const f = filter.value;
  const stack = cursors.value;

  const load = async () => {
    try {
      const first = early;
      early = null;
      setPage(await (first ?? jobsPage(source(), filter.value, cursors.value.at(-1) ?? null)));
      setError(null);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    if (fromSeed.current) fromSeed.current = false;
    else void load();
  }, [f, stack]);
  useEffect(() => void jobsFacets(source()).then(setFacets, () => undefined), []);
  // Typing searches after a short pause.
  useEffect(() => {
    if (q === filter.value.q) return;
    const timer = setTimeout(() => setFilter({ q }), 250);
    return () => clearTimeout(timer);
  }, [q]);

  useLive((e) => {
    if (e.type === 'session') return;
    if (e.type === 'job') {
      // The row changes at once; the page (counts, order, new rows) follows a moment later.
      setPage((p) => (p && p.jobs.some((j) => j.job_id === e.row.job_id)
        ? { ...p, jobs: p.jobs.map((j) => (j.job_id === e.row.job_id ? { ...j, ...e.row } : j)) }
        : p));
    }
    if (refetch.current) clearTimeout(refetch.current);
    refetch.current = setTimeout(() => void load(), e.type === 'resync' ? 0 : 150);
  });

  const jobs = page?.jobs ?? [];
  const showGpus = useMemo(() => jobs.some((j) => gpusOf(j) !== null), [jobs]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === '/' && !isTyping(e)) {
        e.preventDefault();
        search.current?.focus();
      } else if (isTyping(e)) {
        if (e.key === 'Escape') (e.target as HTMLElement).blur();
      } else if (e.key === 'j' || e.key === 'ArrowDown') {
        setSelected((s) => Math.min(s + 1, jobs.length - 1));
      } else if (e.key === 'k' || e.key === 'ArrowUp') {
        setSelected((s) => Math.max(s - 1, 0));
      } else if (e.key === 'Enter' && jobs[selected]) {
        navigate(`/jobs/${jobs[selected]!.job_id}`);
      } else if (e.key === 'n') {
        navigate('/submit');
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [jobs, selected]);
  useEffect(() => {
    document.querySelector<HTMLElement>(`tr[data-index="${selected}"]`)?.scrollIntoView({ block: 'nearest' });
  }, [selected]);

  const start = stack.length * PAGE_SIZE;
  const filtered = f.statuses.length > 0 || f.host || f.script || f.q;
  const toggle = (s: string) => setFilter({ statuses: f.statuses.includes(s) ? f.statuses.filter((x) => x !== s) : [...f.statuses, s] });

  return (
    <div class="page">
      <div class="page-head">
        <h1>{t('jobs.title')}</h1>
        <a class="button primary" href="#/submit">{t('nav.submit')}</a>
      </div>
      <div class="filters" role="search">
        <input ref={search} type="search" class="grow" placeholder={t('jobs.search')} aria-label={t('jobs.search')} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <select aria-label={t('jobs.host')} value={f.host ?? ''} onChange={(e) => setFilter({ host: e.currentTarget.value || null })}>
          <option value="">{t('jobs.allHosts')}</option>
          {facets.hosts.map((h) => <option value={h}>{h}</option>)}
        </select>
        <select aria-label={t('jobs.script')} value={f.script ?? ''} onChange={(e) => setFilter({ script: e.currentTarget.value || null })}>
          <option value="">{t('jobs.allScripts')}</option>
          {facets.scripts.map((s) => <option value={s}>{basename(s)} — {dirname(s)}</option>)}
        </select>
      </div>
      <div class="chips" role="group" aria-label={t('jobs.status')}>
        {STATUSES.map((s) => (
          <button type="button" class={`chip st-${s}`} aria-pressed={f.statuses.includes(s)} onClick={() => toggle(s)}>
            <StatusBadge status={s} /> <span class="count">{page?.counts[s] ?? 0}</span>
          </button>
        ))}
        {filtered && <button type="button" class="link" onClick={() => { setQ(''); setFilter({ statuses: [], host: null, script: null, q: '' }); }}>{t('jobs.clear')}</button>}
      </div>
      <ErrorBox error={error} onRetry={() => void load()} />
      {page && jobs.length === 0 && <p class="empty">{filtered ? t('jobs.noMatch') : t('jobs.empty')}</p>}
      {jobs.length > 0 && (
        <table class="jobs">
          <thead>
            <tr>
              <th>{t('jobs.status')}</th><th>{t('jobs.script')}</th><th>{t('jobs.args')}</th><th>{t('jobs.host')}</th>
              {showGpus && <th>{t('jobs.gpus')}</th>}
              <th>{t('jobs.queued')}</th><th>{t('jobs.started')}</th><th>{t('jobs.ended')}</th><th>{t('jobs.duration')}</th><th>{t('jobs.exit')}</th><th />
            </tr>
          </thead>
          <tbody>
            {jobs.map((j, i) => (
              <tr key={j.job_id} data-index={i} data-job={j.job_id} class={i === selected ? 'selected' : ''} onClick={(e) => {
                if (!(e.target as HTMLElement).closest('a,button')) navigate(`/jobs/${j.job_id}`);
              }}>
                <td data-label={t('jobs.status')}><StatusBadge status={j.status} /></td>
                <td data-label={t('jobs.script')} class="script"><a href={`#/jobs/${j.job_id}`} title={j.script_path ?? ''} {...(i === 0 ? FIRST_ROW_TIMING : {})}>{basename(j.script_path) || j.job_id.slice(0, 8)}</a><span class="dir">{dirname(j.script_path)}</span></td>
                <td data-label={t('jobs.args')} class="mono args" title={argsText(j.args)}>{argsText(j.args)}</td>
                <td data-label={t('jobs.host')}>{j.run_host ?? j.host ?? <span class="muted">{t('jobs.any')}</span>}</td>
                {showGpus && <td data-label={t('jobs.gpus')}>{gpusOf(j) ?? ''}</td>}
                <td data-label={t('jobs.queued')}><Time iso={j.created_at} /></td>
                <td data-label={t('jobs.started')}><Time iso={j.started_at} /></td>
                <td data-label={t('jobs.ended')}><Time iso={j.finished_at} /></td>
                <td data-label={t('jobs.duration')}>{duration(j)}</td>
                <td data-label={t('jobs.exit')} class={j.retcode ? 'bad' : ''}>{j.retcode ?? ''}</td>
                <td><button type="button" class="small" title={t('jobs.resubmit')} onClick={() => void resubmit(source(), j).then((n) => navigate(`/jobs/${n.job_id}`), setError)}>↻<span class="sr-only">{t('jobs.resubmit')}</span></button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page && page.total > 0 && (
        <nav class="pager" aria-label="pages">
          <button type="button" disabled={stack.length === 0} onClick={() => (cursors.value = stack.slice(0, -1))}>{t('jobs.newer')}</button>
          <span>{t('jobs.range', { from: start + 1, to: start + jobs.length, total: page.total })}</span>
          <button type="button" disabled={!page.has_more} onClick={() => (cursors.value = [...stack, cursorAfter(jobs.at(-1)!)])}>{t('jobs.older')}</button>
        </nav>
      )}
      <p class="hint">{t('jobs.keys')}</p>
    </div>
  );
}
