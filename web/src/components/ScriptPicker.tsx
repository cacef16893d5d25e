// Picks a script from the inventory, searching as you type (arrow keys and Enter work).
import { useEffect, useState } from 'preact/hooks';
import { searchScripts } from '../data/api.js';
import { basename, dirname } from '../format.js';
import { t } from '../i18n.js';
import { source } from '../state.js';
import type { ScriptRow } from '../types.js';

export function ScriptPicker({ value, onPick }: { value: ScriptRow | null; onPick: (s: ScriptRow) => void }) {
  const [q, setQ] = useState('');
  const [hits, setHits] = useState<ScriptRow[] | null>(null);
  const [active, setActive] = useState(0);
  const [open, setOpen] = useState(false);

  useEffect(() => {
    if (!open) return;
    let stale = false;
    const timer = setTimeout(() => {
      void searchScripts(source(), q).then((r) => {
        if (!stale) {
          setHits(r);
          setActive(0);
        }
      });
    }, 120);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [q, open]);

  const pick = (s: ScriptRow) => {
    onPick(s);
    setOpen(false);
    setQ('');
  };
  const onKey = (e: KeyboardEvent) => {
    if (!hits?.length) return;
    if (e.key === 'ArrowDown') setActive((a) => Math.min(a + 1, hits.length - 1));
    else if (e.key === 'ArrowUp') setActive((a) => Math.max(a - 1, 0));
    else if (e.key === 'Enter') pick(hits[active]!);
    else if (e.key === 'Escape') setOpen(false);
    else return;
    e.preventDefault();
  };

  return (
    <div class="picker">
      {value && !open ? (
        <div class="picked">
          <span class={`type type-${value.type}`}>{value.type}</span>
          <span class="mono" data-testid="picked-script">{value.path}</span>
          {value.kernel && <span class="muted small">{t('submit.kernel', { k: value.kernel })}</span>}
          <button type="button" class="small" aria-label={t('submit.search')} title={t('submit.search')} onClick={() => setOpen(true)}>✎</button>
        </div>
      ) : (
        <>
          <input id="script" type="search" role="combobox" aria-expanded={open} aria-controls="script-list" aria-autocomplete="list" autoComplete="off"
            placeholder={t('submit.search')} value={q} onFocus={() => setOpen(true)} onInput={(e) => { setQ(e.currentTarget.value); setOpen(true); }} onKeyDown={onKey} />
          {open && hits && (
            <ul id="script-list" role="listbox" class="listbox">
              {hits.length === 0 && <li class="muted">{t('submit.noScripts')}</li>}
              {hits.map((s, i) => (
                <li role="option" aria-selected={i === active} class={i === active ? 'active' : ''} onMouseDown={(e) => { e.preventDefault(); pick(s); }}>
                  <span class={`type type-${s.type}`}>{s.type}</span>
                  <strong>{basename(s.path)}</strong> <span class="muted">{dirname(s.path)}</span>
                  {s.kernel && <span class="kernel">{t('submit.kernel', { k: s.kernel })}</span>}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </div>
  );
}
