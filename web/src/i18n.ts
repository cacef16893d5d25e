// English and Japanese. The language follows the browser's list (the first of en/ja it names) until
// the member picks one, which is remembered. Times and numbers use the same locale.
import { effect, signal } from '@preact/signals';
import { ja } from './i18n-ja.js';

export type Lang = 'en' | 'ja';

const en = {
  'app.title': 'Lab jobs',
  'nav.jobs': 'Jobs', 'nav.submit': 'New job', 'nav.queue': 'Sweeps & schedules', 'nav.jupyter': 'Jupyter', 'nav.servers': 'Servers',
  'nav.skip': 'Skip to content', 'nav.language': 'Language', 'nav.theme': 'Theme',
  'theme.auto': 'Auto', 'theme.light': 'Light', 'theme.dark': 'Dark',
  'live.on': 'Live', 'live.off': 'Reconnecting…', 'signout': 'Sign out',
  'status.pending': 'pending', 'status.claimed': 'claimed', 'status.running': 'running', 'status.finished': 'finished',
  'status.failed': 'failed', 'status.cancelled': 'cancelled', 'status.starting': 'starting', 'status.stopping': 'stopping', 'status.stopped': 'stopped', 'status.notified': 'notified',
  'jobs.title': 'Your jobs', 'jobs.search': 'Search script, arguments, error or id', 'jobs.allHosts': 'All hosts', 'jobs.allScripts': 'All scripts',
  'jobs.status': 'Status', 'jobs.script': 'Script', 'jobs.args': 'Arguments', 'jobs.host': 'Host', 'jobs.gpus': 'GPUs', 'jobs.queued': 'Queued',
  'jobs.started': 'Started', 'jobs.ended': 'Ended', 'jobs.duration': 'Duration', 'jobs.exit': 'Exit',
  'jobs.empty': 'No jobs yet. Queue one with “New job”.', 'jobs.noMatch': 'No jobs match these filters.', 'jobs.clear': 'Clear filters',
  'jobs.range': '{from}–{to} of {total}', 'jobs.newer': '← Newer', 'jobs.older': 'Older →', 'jobs.keys': 'Keys: / search · j k move · Enter open · n new job',
  'jobs.resubmit': 'Resubmit', 'jobs.any': 'any',
  'job.title': 'Job', 'job.cancel': 'Cancel', 'job.cancelAsked': 'Cancel requested', 'job.resubmit': 'Resubmit', 'job.edit': 'Edit & resubmit',
  'job.facts': 'Details', 'job.id': 'Job id', 'job.argv': 'argv', 'job.interpreter': 'Interpreter', 'job.pid': 'pid', 'job.created': 'Queued',
  'job.started': 'Started', 'job.finished': 'Ended', 'job.duration': 'Duration', 'job.exitCode': 'Exit code', 'job.signal': 'Signal', 'job.error': 'Error',
  'job.timeout': 'Timeout', 'job.host': 'Host', 'job.ranOn': 'ran on {host}', 'job.logs': 'Log folder', 'job.notified': 'Emailed', 'job.noEmail': 'no email ({reason})',
  'job.output': 'Output', 'job.stdout': 'stdout', 'job.stderr': 'stderr', 'job.follow': 'Follow', 'job.earlier': 'Load earlier',
  'job.fullLog': 'Full log: {size}', 'job.tailOnly': 'Last lines kept in the database ({why}).', 'job.noOutput': '(no output yet)',
  'job.notebook': 'Notebook output', 'job.notebookNone': 'The executed notebook appears here when the run has written it.',
  'job.machine': 'Path through the job machine', 'job.timeline': 'Timeline', 'job.when': 'Time', 'job.change': 'Change', 'job.way': 'Way through the machine',
  'job.detail': 'Detail', 'job.outside': 'outside the machine: changed in the database directly', 'job.notFound': 'No such job among yours.',
  'job.back': '← All jobs', 'job.path': 'Path',
  'submit.title': 'Queue a job', 'submit.script': 'Script', 'submit.search': 'Type to search your scripts', 'submit.kernel': 'kernel {k}',
  'submit.noScripts': 'No script matches. The inventory is synced every few minutes (or run `lab-agent sync`).',
  'submit.args': 'Arguments', 'submit.argsHelp': 'Split like a shell would: quotes keep spaces, nothing is expanded.',
  'submit.preview': 'The script gets', 'submit.params': 'Notebook parameters', 'submit.paramsText': 'Edit as text',
  'submit.host': 'Host', 'submit.anyHost': 'Any of my agents', 'submit.timeout': 'Timeout (seconds, empty = none)', 'submit.gpus': 'GPUs (empty = none)', 'submit.gpuModel': 'GPU model (optional)', 'submit.badGpus': 'GPUs: a whole number, e.g. 2',
  'submit.go': 'Queue job', 'submit.from': 'Same as job {id}', 'submit.pick': 'Pick a script first.', 'submit.badTimeout': 'The timeout is a whole number of seconds.',
  'jupyter.title': 'Jupyter', 'jupyter.start': 'Start Jupyter', 'jupyter.dir': 'Folder (empty = your home)', 'jupyter.app': 'App', 'jupyter.host': 'Host',
  'jupyter.connect': 'Connect', 'jupyter.stop': 'Stop', 'jupyter.tunnel': 'It listens on the server\'s loopback address: open a tunnel from your computer first, then Connect.',
  'jupyter.copy': 'Copy', 'jupyter.copied': 'Copied', 'jupyter.active': 'Active', 'jupyter.past': 'Past sessions', 'jupyter.none': 'No Jupyter sessions yet.',
  'jupyter.waiting': 'Waiting for the agent to start it and check that it answers…', 'jupyter.port': 'port {p}',
  'servers.title': 'Your agents', 'servers.host': 'Host', 'servers.mode': 'Mode', 'servers.version': 'Version', 'servers.heartbeat': 'Last heartbeat',
  'servers.started': 'Started', 'servers.alive': 'alive', 'servers.gone': 'not running', 'servers.none': 'No agent has registered yet: install one on a lab server (install_agent.sh).',
  'servers.here': 'This page is served by {host} ({mode} mode, version {version}).',
  'hosts.title': 'Lab servers and their GPUs', 'hosts.none': 'No server has published its resources yet (each agent does with its heartbeat).',
  'hosts.model': 'Model', 'hosts.memory': 'Memory used', 'hosts.state': 'State', 'hosts.util': 'Utilisation, last hour',
  'hosts.free': '{free} of {total} GPUs free', 'hosts.noGpu': 'no GPU', 'hosts.cpu': 'load {load} on {cpus} CPUs',
  'hosts.isFree': 'free', 'hosts.leased': 'in use by a job', 'hosts.busy': 'busy (another process)', 'hosts.unusable': 'unusable',
  'hosts.mem': '{free} of {total} GiB memory free', 'hosts.unpublished': 'no resources published',
  'drain.mine': 'drained by you', 'drain.lab': 'drained for the lab', 'drain.undo': 'lab-agent resume --host {host}',
  'queue.title': 'Sweeps and schedules',
  'sweeps.title': 'Sweeps', 'sweeps.sweep': 'Sweep', 'sweeps.cells': 'Cells', 'sweeps.progress': 'Cells by state', 'sweeps.maxParallel': 'at most {n} at once',
  'sweeps.none': 'No sweeps yet.', 'sweeps.hint': 'A sweep is a grid of runs: lab-agent submit train.py --sweep lr=0.1,0.01 --sweep seed=1..3 -- --epochs 10',
  'sweep.title': 'Sweep of {script}', 'sweep.back': '← Sweeps and schedules', 'sweep.cancel': 'Cancel the sweep',
  'sweep.confirm': 'Cancel every cell of this sweep that has not ended? Running ones are stopped.', 'sweep.cellsLine': '{n} cells',
  'sweep.result': 'Result', 'sweep.waiting': 'Waiting for', 'sweep.attempt': 'attempt {n}',
  'schedules.title': 'Schedules', 'schedules.when': 'When (cron)', 'schedules.next': 'Next run', 'schedules.last': 'Last run', 'schedules.runs': 'Runs',
  'schedules.counts': '{runs} run, {skipped} skipped', 'schedules.active': 'active', 'schedules.paused': 'paused',
  'schedules.pause': 'Pause', 'schedules.resume': 'Resume', 'schedules.none': 'No schedules yet.',
  'schedules.hint': 'Add one on the lab server: lab-agent schedule add \'0 3 * * *\' eval.py -- --ckpt latest. Resuming starts from the next due time; missed ones are not made up.',
  'signin.title': 'Sign in', 'signin.email': 'Email', 'signin.send': 'Email me a code', 'signin.code': 'Code from the email', 'signin.verify': 'Sign in',
  'signin.password': 'Password', 'signin.withPassword': 'Sign in with a password instead', 'signin.withCode': 'Sign in with an emailed code instead',
  'signin.sent': 'A code is on its way to {email}.',
  'token.title': 'Open the link from `lab-agent web`', 'token.body': 'This page opens with the link that `lab-agent web` printed on the lab server (it holds a one-time secret). Run it again for a fresh link.',
  'error.generic': 'Something went wrong: {msg}', 'loading': 'Loading…', 'retry': 'Try again', 'close': 'Close',
  'ago.now': 'just now',
};

export type Key = keyof typeof en;
export type Dict = Record<Key, string>;

const dicts: Record<Lang, Dict> = { en, ja };

function browserLang(): Lang {
  for (const l of navigator.languages ?? [navigator.language]) {
    if (/^ja\b/i.test(l)) return 'ja';
    if (/^en\b/i.test(l)) return 'en';
  }
  return 'en';
}

const stored = (() => {
  try {
    return localStorage.getItem('lab.lang');
  } catch {
    return null;
  }
})();

export const lang = signal<Lang>(stored === 'en' || stored === 'ja' ? stored : browserLang());

effect(() => {
  document.documentElement.lang = lang.value;
});

export function setLang(l: Lang): void {
  lang.value = l;
  try {
    localStorage.setItem('lab.lang', l);
  } catch {
    // private mode: the choice lasts for this page only
  }
}

/** The text for a key in the current language, with {name} filled in. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const text: string = dicts[lang.value][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k: string) => String(vars[k] ?? `{${k}}`));
}
