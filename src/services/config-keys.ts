// Every configuration key: its default, meaning and check. The README's table and
// `lab-agent config` both come from this list, so they cannot drift apart.

type KeyKind = 'string' | 'int' | 'number' | 'bool' | 'url' | 'uuid' | 'ip' | 'email' | 'enum' | 'path';

export interface KeySpec {
  key: string;
  kind: KeyKind;
  /** Default as written in .env; a function for defaults that depend on the user or host. */
  default?: string | ((ctx: DefaultContext) => string);
  description: string;
  secret?: boolean;
  min?: number;
  max?: number;
  values?: readonly string[];
  /** Keys of the original Python agent, kept with their defaults. */
  original?: boolean;
}

export interface DefaultContext {
  home: string;
  user: string;
  hostname: string;
}

export const CONFIG_KEYS: readonly KeySpec[] = [
  { key: 'LAB_USER', kind: 'string', default: (c) => c.user, original: true, description: 'Linux user name the agent acts for' },
  { key: 'LAB_EMAIL', kind: 'email', default: '', original: true, description: 'Where run results are emailed; empty = no email' },
  { key: 'LAB_USER_ID', kind: 'uuid', default: '', original: true, description: 'The member the agent acts for (Supabase Auth user id); needed with the service key or a shared Supabase URL; empty = from the signed-in session, the member role, or the id kept in LAB_DATA_DIR' },
  { key: 'SUPABASE_URL', kind: 'url', default: '', original: true, description: 'Supabase project URL; set = Supabase mode' },
  { key: 'SUPABASE_SERVICE_KEY', kind: 'string', default: '', secret: true, original: true, description: 'Service key (original mode; bypasses RLS, prefer `lab-agent login`)' },
  { key: 'SUPABASE_ANON_KEY', kind: 'string', default: '', secret: true, description: 'Publishable (anon) key, for the signed-in user-session mode' },
  { key: 'LAB_DATABASE_URL', kind: 'url', default: '', secret: true, description: 'PostgreSQL URL (Postgres mode) when SUPABASE_URL is empty; empty = embedded local database' },
  { key: 'SMTP_HOST', kind: 'string', default: 'localhost', original: true, description: 'SMTP server for notification email' },
  { key: 'SMTP_PORT', kind: 'int', default: '25', min: 1, max: 65535, original: true, description: 'SMTP port' },
  { key: 'SMTP_USER', kind: 'string', default: '', description: 'SMTP user name, when the server needs AUTH' },
  { key: 'SMTP_PASS', kind: 'string', default: '', secret: true, description: 'SMTP password' },
  { key: 'SMTP_SECURE', kind: 'bool', default: 'false', description: 'true = TLS from the start (port 465); false = plain or STARTTLS' },
  { key: 'LAB_FROM_EMAIL', kind: 'email', default: '', original: true, description: 'Sender address; empty = <LAB_USER>@<host>' },
  { key: 'JUPYTER_BASE_PORT', kind: 'int', default: '8800', min: 1024, max: 65535, original: true, description: 'Jupyter port = this + uid % 100, or the next free one' },
  { key: 'JUPYTER_IP', kind: 'ip', default: '0.0.0.0', original: true, description: 'Address Jupyter listens on (0.0.0.0 = every network, token only)' },
  { key: 'JUPYTER_LEGACY', kind: 'bool', default: '', original: true, description: 'Override: true = run the Notebook as the classic NotebookApp, false = on Jupyter Server; empty = as installed (Notebook 6 or 7)' },
  { key: 'SYNC_INTERVAL_MIN', kind: 'int', default: '10', min: 1, max: 10080, original: true, description: 'Minutes between script inventory syncs' },
  { key: 'LAB_AGENT_DIR', kind: 'path', default: (c) => `${c.home}/lab_job_agent`, description: 'Agent folder: code, .env and agent.log' },
  { key: 'LAB_DATA_DIR', kind: 'path', default: (c) => `${c.home}/.local/share/lab-job-agent`, description: 'Local state: embedded database, session, locks' },
  { key: 'LAB_LOG_DIR', kind: 'path', default: (c) => `${c.home}/lab_job_logs`, description: 'Job logs: <dir>/<job_id>/stdout.log, stderr.log; a retry\'s in <dir>/<job_id>/attempt-<n>/' },
  { key: 'LAB_LOG_LEVEL', kind: 'enum', default: 'info', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], description: 'Agent log level' },
  { key: 'LAB_LOG_MAX_MB', kind: 'number', default: '10', min: 0.001, max: 10000, description: 'Size in MB at which agent.log is rotated (fractions allowed)' },
  { key: 'LAB_LOG_KEEP', kind: 'int', default: '5', min: 1, max: 100, description: 'Rotated agent logs kept (agent.log.1 … agent.log.N)' },
  { key: 'LAB_HOST', kind: 'string', default: (c) => c.hostname, description: 'This server\'s name, matched against a job\'s target host' },
  { key: 'LAB_PYTHON', kind: 'path', default: '', description: 'Python for every .py job; empty = the script\'s venv, else python3 on your login PATH' },
  { key: 'LAB_JUPYTER', kind: 'path', default: '', description: 'jupyter executable; empty = the notebook\'s venv, else your login PATH' },
  { key: 'LAB_MAX_PARALLEL', kind: 'int', default: '1', min: 1, max: 256, description: 'Jobs run at once by this agent' },
  { key: 'LAB_JOB_START_TRIES', kind: 'int', default: '3', min: 1, max: 100, description: 'Claims of one job whose start fails for the agent\'s own reasons (not the request\'s) before it is failed' },
  { key: 'LAB_JOB_RETRIES', kind: 'int', default: '0', min: 0, max: 100, description: 'Times a failed run (non-zero exit, lost) is run again, for jobs that did not say (`submit --retries`); never a cancel or bad input' },
  { key: 'LAB_GPU_RESERVE_AFTER_S', kind: 'int', default: '600', min: 0, max: 604800, description: 'Seconds a GPU job waits on a host before it reserves it: then no other GPU job starts there until it has started (no starvation)' },
  { key: 'LAB_GPU_LEASE_STALE_S', kind: 'int', default: '600', min: 300, max: 604800, description: 'Seconds without a sign of life from a job\'s agent after which its GPU lease is taken back, if no process is on the GPU' },
  { key: 'LAB_GPU_LOCK_DIR', kind: 'path', default: '/tmp', description: 'Local mode: where every member\'s agent keeps its per-GPU lock files; a root-owned sticky folder every member can write (/tmp)' },
  { key: 'LAB_JOB_TIMEOUT', kind: 'int', default: '0', min: 0, description: 'Default job timeout in seconds; 0 = none' },
  { key: 'LAB_KILL_GRACE_S', kind: 'int', default: '10', min: 0, max: 3600, description: 'Seconds between SIGTERM and SIGKILL when stopping a job or server' },
  { key: 'LAB_POLL_INTERVAL_S', kind: 'int', default: '90', min: 1, max: 3600, description: 'Supervisor polling interval (the fallback behind NOTIFY/Realtime, and its heartbeat)' },
  { key: 'LAB_PUBLIC_HOST', kind: 'string', default: (c) => c.hostname, description: 'This server\'s name for people: in Jupyter links when JUPYTER_IP is 0.0.0.0, in the SSH tunnel command when it is 127.0.0.1' },
  { key: 'LAB_JUPYTER_APP', kind: 'enum', default: '', values: ['', 'lab', 'notebook', 'server'], description: 'Jupyter app: lab, notebook or server; empty = lab (notebook when JUPYTER_LEGACY)' },
  { key: 'LAB_JUPYTER_PORT_RANGE', kind: 'int', default: '100', min: 1, max: 10000, description: 'Number of ports tried, the preferred one included (JUPYTER_BASE_PORT + uid % 100, then each next port)' },
  { key: 'LAB_JUPYTER_START_TIMEOUT', kind: 'int', default: '60', min: 1, max: 3600, description: 'Seconds for a Jupyter server to answer before it is failed' },
  { key: 'LAB_JUPYTER_MAX', kind: 'int', default: '1', min: 1, max: 100, description: 'Running Jupyter servers per user' },
  { key: 'LAB_JUPYTER_IDLE_MIN', kind: 'int', default: '720', min: 0, description: 'Idle minutes before Jupyter shuts itself down; 0 = never' },
  { key: 'LAB_SYNC_EXCLUDE', kind: 'string', default: '', description: 'Extra folders/globs left out of the script scan, comma-separated' },
  { key: 'LAB_ALLOW_ROOT', kind: 'bool', default: 'false', description: 'true = run as root anyway (single-user containers): jobs and Jupyter then run as root; warned. The agent refuses root otherwise' },
  { key: 'LAB_DASHBOARD_URL', kind: 'url', default: '', description: 'Where your dashboard lives (`lab-agent web` behind a tunnel, or the static page); set = emails and CLI output link to a job\'s page' },
  { key: 'LAB_EXECUTOR', kind: 'enum', default: 'local', values: ['local', 'slurm'], description: 'Where jobs run: local = on this server; slurm = handed to a Slurm cluster with sbatch (this server is a login node); LAB_MAX_PARALLEL is then the jobs kept in Slurm at once' },
  { key: 'LAB_SLURM_PARTITION', kind: 'string', default: '', description: 'Slurm partition for jobs (sbatch --partition); empty = the cluster\'s default; a job may ask for another' },
  { key: 'LAB_SLURM_ACCOUNT', kind: 'string', default: '', description: 'Slurm account charged (sbatch --account); empty = your default account' },
  { key: 'LAB_SLURM_QOS', kind: 'string', default: '', description: 'Slurm QOS (sbatch --qos); empty = the default' },
  { key: 'LAB_SLURM_EXTRA_ARGS', kind: 'string', default: '', description: 'More sbatch options, shell-quoted (e.g. --constraint=a100 --exclusive); those the agent sets itself (--output, --chdir, --job-name …) are refused' },
  { key: 'LAB_SLURM_GPU_OPTION', kind: 'enum', default: 'gres', values: ['gres', 'gpus'], description: 'How a job\'s GPU count is asked for: gres = --gres=gpu:N (every Slurm), gpus = --gpus=N (select/cons_tres)' },
  { key: 'LAB_SLURM_POLL_S', kind: 'int', default: '10', min: 0, max: 3600, description: 'Least seconds between two squeue calls of one agent (supervise passes in between reuse the last answer); a cron tick asks once' },
  { key: 'LAB_SYNC_MAX_FILES', kind: 'int', default: '50000', min: 1, description: 'Most files one script scan records' },
];

export function defaultValue(spec: KeySpec, ctx: DefaultContext): string {
  return typeof spec.default === 'function' ? spec.default(ctx) : (spec.default ?? '');
}
