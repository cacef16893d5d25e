// A job's output. Served by the agent: the full log from the lab server, its end first, earlier
// parts on demand, followed while the job runs. Otherwise (the static build, or a job that ran on
// another host): the tails the agent keeps in the row.
import { useEffect, useRef, useState } from 'preact/hooks';
import { bytes } from '../format.js';
import { t } from '../i18n.js';
import { source } from '../state.js';
import type { JobRow, LogChunk } from '../types.js';

const CHUNK = 64 * 1024;
const ended = (s: string) => s === 'finished' || s === 'failed' || s === 'cancelled';

interface Shown {
  text: string;
  from: number;
  to: number;
  size: number;
}

export function LogView({ job, stream }: { job: JobRow; stream: 'stdout' | 'stderr' }) {
  const src = source();
  const [shown, setShown] = useState<Shown | null>(null);
  const [unavailable, setUnavailable] = useState<string | null>(src.log ? null : 'static');
  const [follow, setFollow] = useState(!ended(job.status));
  const box = useRef<HTMLPreElement>(null);
  const state = useRef<Shown | null>(null);
  state.current = shown;

  // The end of the log, then whatever is appended, while following.
  useEffect(() => {
    if (!src.log) return;
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const step = async () => {
      try {
        const cur = state.current;
        const chunk: LogChunk = cur ? await src.log!(job.job_id, stream, { from: cur.to }) : await src.log!(job.job_id, stream, { tail: CHUNK });
        if (stop) return;
        if (!chunk.available) setUnavailable(chunk.reason ?? 'unavailable');
        else {
          setUnavailable(null);
          setShown(cur && chunk.from === cur.to ? { ...cur, text: cur.text + chunk.text, to: chunk.to, size: chunk.size } : chunk);
          if (chunk.to < chunk.size) return void step(); // more already written: read on at once
        }
      } catch {
        // a failed read is tried again on the next turn
      }
      if (!stop && follow && !ended(job.status)) timer = setTimeout(() => void step(), 1000);
    };
    void step();
    return () => {
      stop = true;
      if (timer) clearTimeout(timer);
    };
  }, [job.job_id, stream, follow, ended(job.status)]);

  // Following keeps the newest line in view.
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown, follow]);

  const earlier = async () => {
    const cur = state.current;
    if (!cur || !src.log || cur.from === 0) return;
    const from = Math.max(0, cur.from - CHUNK);
    const chunk = await src.log(job.job_id, stream, { from, max: cur.from - from });
    if (chunk.available) setShown({ ...cur, text: chunk.text + cur.text, from: chunk.from });
  };

  if (unavailable !== null) {
    const tail = stream === 'stdout' ? job.stdout_tail : job.stderr_tail;
    return (
      <div class="log">
        <p class="muted small">{t('job.tailOnly', { why: unavailable === 'static' ? 'Supabase' : unavailable })}</p>
        <pre class={`log-text ${stream}`} data-stream={stream} tabIndex={0}>{tail || t('job.noOutput')}</pre>
      </div>
    );
  }
  return (
    <div class="log">
      <div class="log-bar">
        {shown && shown.from > 0 && <button type="button" class="small" onClick={() => void earlier()}>{t('job.earlier')}</button>}
        <span class="muted small">{shown ? t('job.fullLog', { size: bytes(shown.size) }) : t('loading')}</span>
        <label class="small"><input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> {t('job.follow')}</label>
      </div>
      <pre ref={box} class={`log-text ${stream}`} data-stream={stream} tabIndex={0}>{shown?.text || t('job.noOutput')}</pre>
    </div>
  );
}
