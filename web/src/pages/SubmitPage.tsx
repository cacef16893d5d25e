// Queue a job: a script from the inventory, its arguments (with the exact argv the script will
// get, split by the runner's own code), or a notebook's parameters as a form; host and timeout.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { useLocation } from 'wouter-preact';
import { parseJobArgs } from '../../../src/services/runner/args.js';
import { agents, getJob, getScript, submitJob } from '../data/api.js';
import { ErrorBox } from '../components/common.js';
import { ScriptPicker } from '../components/ScriptPicker.js';
import { shellWord, shortId } from '../format.js';
import { t } from '../i18n.js';
import { source } from '../state.js';
import type { NotebookParam, ScriptRow } from '../types.js';

function paramsText(params: NotebookParam[], values: Record<string, string>): string {
  return params
    .filter((p) => values[p.name] !== undefined && values[p.name] !== p.value)
    .map((p) => `--${p.name} ${shellWord(values[p.name]!)}`)
    .join(' ');
}

export function SubmitPage({ fromJob }: { fromJob?: string }) {
  const src = source();
  const [script, setScript] = useState<ScriptRow | null>(null);
  const [scriptPath, setScriptPath] = useState<string | null>(null);
  const [args, setArgs] = useState('');
  const [host, setHost] = useState('');
  const [timeout, setTimeoutS] = useState('');
  const [gpus, setGpus] = useState('');
  const [gpuModel, setGpuModel] = useState('');
  const [hosts, setHosts] = useState<string[]>([]);
  const [params, setParams] = useState<NotebookParam[]>([]);
  const [values, setValues] = useState<Record<string, string>>({});
  const [asText, setAsText] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [, navigate] = useLocation();

  useEffect(() => void agents(src).then((a) => setHosts([...new Set(a.map((x) => x.host))]), () => undefined), []);
  // "Edit & resubmit": the old job's script, arguments, host and timeout.
  useEffect(() => {
    if (!fromJob) return;
    void getJob(src, fromJob).then(async (j) => {
      setArgs(j.args ?? '');
      setHost(j.host ?? '');
      setTimeoutS(j.timeout_s ? String(j.timeout_s) : '');
      setGpus(j.gpus ? String(j.gpus) : '');
      setGpuModel(j.gpu_model ?? '');
      setAsText(true);
      const s = j.script_id !== null ? await getScript(src, j.script_id) : null;
      if (s) setScript(s);
      else setScriptPath(j.script_path);
    }, setError);
  }, [fromJob]);
  // A notebook with a `parameters` cell gets a form (when the page is served by the agent).
  useEffect(() => {
    setParams([]);
    if (!script || script.type !== 'ipynb' || !src.notebookParams) return;
    void src.notebookParams(script.script_id).then((p) => {
      setParams(p);
      setValues(Object.fromEntries(p.map((x) => [x.name, x.value])));
    }, () => undefined);
  }, [script?.script_id]);

  const form = params.length > 0 && !asText;
  const text = form ? paramsText(params, values) : args;
  const preview = useMemo(() => {
    try {
      return { argv: parseJobArgs(text) };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }, [text]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!script && !scriptPath) return setError(new Error(t('submit.pick')));
    if (timeout && !/^\d+$/.test(timeout.trim())) return setError(new Error(t('submit.badTimeout')));
    if (gpus && !/^\d+$/.test(gpus.trim())) return setError(new Error(t('submit.badGpus')));
    setBusy(true);
    try {
      const job = await submitJob(src, {
        scriptId: script?.script_id ?? null, scriptPath: script ? null : scriptPath, args: text.trim() || null,
        host: host || null, timeoutS: timeout.trim() ? Number(timeout) : null,
        gpus: gpus.trim() ? Number(gpus) : 0, gpuModel: gpus.trim() && gpuModel.trim() ? gpuModel.trim() : null,
      });
      navigate(`/jobs/${job.job_id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page narrow">
      <h1>{t('submit.title')}</h1>
      {fromJob && <p class="muted">{t('submit.from', { id: shortId(fromJob) })}</p>}
      <form class="form" onSubmit={(e) => void submit(e)}>
        <label for="script">{t('submit.script')}</label>
        {scriptPath && !script ? <p class="mono">{scriptPath}</p> : <ScriptPicker value={script} onPick={(s) => { setScript(s); setScriptPath(null); }} />}

        {params.length > 0 && (
          <fieldset class="params">
            <legend>{t('submit.params')} <label class="small"><input type="checkbox" checked={asText} onChange={(e) => { setAsText(e.currentTarget.checked); if (e.currentTarget.checked) setArgs(paramsText(params, values)); }} /> {t('submit.paramsText')}</label></legend>
            {form && params.map((p) => (
              <div class="param">
                <label for={`p-${p.name}`} class="mono">{p.name}</label>
                {p.kind === 'bool'
                  ? <input id={`p-${p.name}`} type="checkbox" checked={values[p.name] === 'true'} onChange={(e) => setValues({ ...values, [p.name]: e.currentTarget.checked ? 'true' : 'false' })} />
                  : <input id={`p-${p.name}`} type={p.kind === 'int' || p.kind === 'float' ? 'number' : 'text'} step={p.kind === 'float' ? 'any' : undefined}
                      value={values[p.name] ?? ''} onInput={(e) => setValues({ ...values, [p.name]: e.currentTarget.value })} />}
                <span class="muted small">{p.comment ?? p.source}</span>
              </div>
            ))}
          </fieldset>
        )}

        {!form && (
          <>
            <label for="args">{t('submit.args')}</label>
            <input id="args" class="mono" type="text" autoComplete="off" spellcheck={false} value={args} onInput={(e) => setArgs(e.currentTarget.value)} placeholder='--n 3 "a b"' />
            <p class="muted small">{t('submit.argsHelp')}</p>
          </>
        )}
        <div class="preview" aria-live="polite">
          <span class="muted small">{t('submit.preview')}</span>
          {preview.argv
            ? <ol class="argv" data-testid="argv">{preview.argv.map((a) => <li><code>{a}</code></li>)}</ol>
            : <p class="bad small">{preview.error}</p>}
        </div>

        <div class="row">
          <div>
            <label for="host">{t('submit.host')}</label>
            <select id="host" value={host} onChange={(e) => setHost(e.currentTarget.value)}>
              <option value="">{t('submit.anyHost')}</option>
              {[...new Set([...hosts, ...(host ? [host] : [])])].map((h) => <option value={h}>{h}</option>)}
            </select>
          </div>
          <div>
            <label for="timeout">{t('submit.timeout')}</label>
            <input id="timeout" type="text" inputMode="numeric" value={timeout} onInput={(e) => setTimeoutS(e.currentTarget.value)} />
          </div>
          <div>
            <label for="gpus">{t('submit.gpus')}</label>
            <input id="gpus" type="text" inputMode="numeric" value={gpus} onInput={(e) => setGpus(e.currentTarget.value)} />
          </div>
          <div>
            <label for="gpu-model">{t('submit.gpuModel')}</label>
            <input id="gpu-model" type="text" placeholder="A100*" value={gpuModel} onInput={(e) => setGpuModel(e.currentTarget.value)} />
          </div>
        </div>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy || !!preview.error}>{t('submit.go')}</button>
      </form>
    </div>
  );
}
