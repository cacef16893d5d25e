// Small pieces used across pages.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { t, type Key } from '../i18n.js';
import { absTime, relTime } from '../format.js';

/** A status in the lifecycle's colours (the same for jobs and Jupyter sessions). */
export function StatusBadge({ status }: { status: string }) {
  const key = `status.${status}` as Key;
  return <span class={`badge st-${status}`} data-status={status}>{t(key) === key ? status : t(key)}</span>;
}

export function Time({ iso, rel = true }: { iso: string | null | undefined; rel?: boolean }) {
  if (!iso) return <span class="muted">—</span>;
  return <time dateTime={iso} title={absTime(iso)}>{rel ? relTime(iso) : absTime(iso)}</time>;
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  return (
    <div class="error-box" role="alert">
      {t('error.generic', { msg: (error as Error).message ?? String(error) })}
      {onRetry && <button type="button" class="link" onClick={onRetry}>{t('retry')}</button>}
    </div>
  );
}

export function CopyButton({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  return (
    <button type="button" class="small" onClick={() => {
      void navigator.clipboard?.writeText(text).then(() => {
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      });
    }}>{done ? t('jupyter.copied') : t('jupyter.copy')}</button>
  );
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card">
      <header class="card-head"><h2>{title}</h2>{actions}</header>
      {children}
    </section>
  );
}

export const Loading = () => <p class="muted" aria-live="polite">{t('loading')}</p>;
