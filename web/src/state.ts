// The page's shared state: the data source, who is signed in, the live channel, the theme.
import { effect, signal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import type { DataSource, Identity, LiveEvent } from './data/source.js';

let current: DataSource | null = null;
export const setSource = (s: DataSource): void => {
  current = s;
};
/** The data source chosen at boot (agent API or Supabase). */
export const source = (): DataSource => {
  if (!current) throw new Error('no data source yet');
  return current;
};

export const me = signal<Identity | null>(null);
export const booted = signal(false);
export const live = signal(false);

const listeners = new Set<(e: LiveEvent) => void>();
export const emitLive = (e: LiveEvent): void => {
  for (const l of listeners) l(e);
};

/** Calls `fn` for each live change while the component is mounted (always the latest `fn`). */
export function useLive(fn: (e: LiveEvent) => void): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    const l = (e: LiveEvent) => ref.current(e);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
}

/** Calls `load` a moment after job changes (a burst of them: once) and at once on a resync. */
export function useLiveReload(load: () => void, delayMs = 200): void {
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);
  useLive((e) => {
    if (e.type === 'session') return;
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(load, e.type === 'resync' ? 0 : delayMs);
  });
}

export type Theme = 'auto' | 'light' | 'dark';
const storedTheme = (() => {
  try {
    return localStorage.getItem('lab.theme');
  } catch {
    return null;
  }
})();
export const theme = signal<Theme>(storedTheme === 'light' || storedTheme === 'dark' ? storedTheme : 'auto');
const media = matchMedia('(prefers-color-scheme: dark)');
const systemDark = signal(media.matches);
media.addEventListener('change', (e) => (systemDark.value = e.matches));
export const isDark = (): boolean => theme.value === 'dark' || (theme.value === 'auto' && systemDark.value);

effect(() => {
  document.documentElement.dataset.theme = isDark() ? 'dark' : 'light';
});

export function setTheme(t: Theme): void {
  theme.value = t;
  try {
    localStorage.setItem('lab.theme', t);
  } catch {
    // private mode
  }
}
