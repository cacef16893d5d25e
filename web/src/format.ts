// Times, durations and sizes in the page's language.
import { duration as jobDuration } from '../../src/cli/job-format.js';
import { parseJobArgs } from '../../src/services/runner/args.js';
import { lang } from './i18n.js';
import type { JobRow } from './types.js';

const locale = () => (lang.value === 'ja' ? 'ja-JP' : 'en-GB');

// Intl formatters are costly to make (a list of 50 jobs has 300 times): one per language.
const formatters = new Map<string, { abs: Intl.DateTimeFormat; rel: Intl.RelativeTimeFormat }>();
function fmt() {
  let f = formatters.get(locale());
  if (!f) {
    f = {
      abs: new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'medium' }),
      rel: new Intl.RelativeTimeFormat(locale(), { numeric: 'auto', style: 'short' }),
    };
    formatters.set(locale(), f);
  }
  return f;
}

export function absTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : fmt().abs.format(d);
}

export function relTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.round((Date.parse(iso) - now) / 1000);
  const rtf = fmt().rel;
  const a = Math.abs(s);
  if (a < 45) return rtf.format(s, 'second');
  if (a < 2700) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 64800) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}

/** Run time of a job: the CLI's own rule (started → ended, or → now while running). */
export const duration = (j: Pick<JobRow, 'started_at' | 'finished_at'>, now = Date.now()): string =>
  jobDuration(j as JobRow, now) === '-' ? '' : jobDuration(j as JobRow, now);

/** A size as the CLI's `scripts` shows it. */
export { size as bytes } from '../../src/cli/output.js';

export const basename = (p: string | null | undefined): string => (p ? p.slice(p.lastIndexOf('/') + 1) : '');
export const dirname = (p: string | null | undefined): string => (p && p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
export const shortId = (id: string): string => id.slice(0, 8);

/** One shell word, quoted only when it must be (the runner splits it back exactly). */
export const shellWord = (s: string): string => (/^[A-Za-z0-9_.,:/=+@%-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** A job's args as a person types them: a JSON argv list (the CLI's form) shown as shell words. */
export function argsText(args: string | null | undefined): string {
  if (!args) return '';
  if (!args.trim().startsWith('[')) return args;
  try {
    return parseJobArgs(args).map(shellWord).join(' ');
  } catch {
    return args;
  }
}
