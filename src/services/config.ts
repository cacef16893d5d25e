// Configuration: the agent folder's .env, overridden by the environment, checked key by key.
import { readFileSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { isUuid } from './names.js';
import { CONFIG_KEYS, defaultValue, type DefaultContext, type KeySpec } from './config-keys.js';

type Mode = 'supabase' | 'postgres' | 'local';

export interface Config {
  mode: Mode;
  home: string;
  user: string;
  email: string;
  userId: string | null;
  supabase: { url: string; serviceKey: string; anonKey: string };
  databaseUrl: string;
  smtp: { host: string; port: number; user: string; pass: string; secure: boolean; from: string };
  jupyter: {
    basePort: number; ip: string; /** JUPYTER_LEGACY; null = found from what is installed (jupyter/installed.ts). */
    legacy: boolean | null; app: 'lab' | 'notebook' | 'server'; portRange: number;
    startTimeoutS: number; max: number; idleMin: number; publicHost: string; executable: string;
  };
  syncIntervalMin: number;
  syncExclude: string[];
  syncMaxFiles: number;
  agentDir: string;
  dataDir: string;
  logDir: string;
  logLevel: string;
  host: string;
  python: string;
  maxParallel: number;
  /** LAB_JOB_START_TRIES: a job whose start failed this many times (the agent's trouble) is failed. */
  startTries: number;
  /** LAB_JOB_RETRIES: retries of a failed run, for jobs that did not say. */
  jobRetries: number;
  jobTimeoutS: number;
  killGraceS: number;
  pollIntervalS: number;
  /** LAB_EXECUTOR: where jobs run. */
  executor: 'local' | 'slurm';
  /** LAB_SLURM_*: the Slurm executor's settings. */
  slurm: { partition: string; account: string; qos: string; extraArgs: string; gpuOption: 'gres' | 'gpus'; pollS: number };
  /** LAB_ALLOW_ROOT: run as root (warned); otherwise every command that runs anything refuses root. */
  allowRoot: boolean;
  /** Every key's effective value, for `lab-agent config` (print through maskedValues). */
  values: Record<string, string>;
  /** Where each value came from. */
  sources: Record<string, 'env' | '.env' | 'default'>;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`configuration has ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Skip reading the .env file (tests). */
  noDotenv?: boolean;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** One message per problem, naming the key and the fix; null when the value is fine. */
function checkValue(spec: KeySpec, value: string): string | null {
  if (value === '') return null;
  switch (spec.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(value)) return `${spec.key}=${shown(spec, value)} is not a whole number: write digits only, e.g. ${spec.key}=${defaultOf(spec)}`;
      const n = Number(value);
      if (spec.min !== undefined && n < spec.min) return `${spec.key}=${value} is below ${spec.min}: use a value from ${spec.min}${spec.max !== undefined ? ` to ${spec.max}` : ' up'}`;
      if (spec.max !== undefined && n > spec.max) return `${spec.key}=${value} is above ${spec.max}: use a value from ${spec.min ?? 0} to ${spec.max}`;
      return null;
    }
    case 'number': {
      // Like int, but fractions allowed (LAB_LOG_MAX_MB=0.5).
      if (!/^\d+(\.\d+)?$/.test(value)) return `${spec.key}=${value} is not a number: write e.g. ${spec.key}=${defaultOf(spec)}`;
      const n = Number(value);
      if (spec.min !== undefined && n < spec.min) return `${spec.key}=${value} is below ${spec.min}: use a value from ${spec.min}${spec.max !== undefined ? ` to ${spec.max}` : ' up'}`;
      if (spec.max !== undefined && n > spec.max) return `${spec.key}=${value} is above ${spec.max}: use a value from ${spec.min ?? 0} to ${spec.max}`;
      return null;
    }
    case 'bool':
      return /^(true|false|1|0|yes|no)$/i.test(value) ? null : `${spec.key}=${value} is not true or false: write ${spec.key}=true or ${spec.key}=false`;
    case 'url':
      try {
        const u = new URL(value);
        const ok = spec.key === 'LAB_DATABASE_URL' ? /^postgres(ql)?:$/.test(u.protocol) : /^https?:$/.test(u.protocol);
        return ok ? null : `${spec.key} has the wrong scheme "${u.protocol}": use ${spec.key === 'LAB_DATABASE_URL' ? 'postgres://user:pass@host:5432/db' : 'https://<project>.supabase.co'}`;
      } catch {
        return `${spec.key} is not a URL: use ${spec.key === 'LAB_DATABASE_URL' ? 'postgres://user:pass@host:5432/db' : 'https://<project>.supabase.co'}`;
      }
    case 'uuid':
      return isUuid(value) ? null : `${spec.key}=${value} is not a UUID: copy the user id from Supabase Auth (Authentication > Users), or leave it empty`;
    case 'ip':
      return isIP(value) ? null : `${spec.key}=${value} is not an IP address: use 127.0.0.1 (this machine only) or 0.0.0.0 (every network)`;
    case 'email':
      return EMAIL.test(value) ? null : `${spec.key}=${value} is not an email address: write it as name@example.ac.jp, or leave it empty`;
    case 'enum':
      return spec.values?.includes(value) ? null : `${spec.key}=${value} is not one of ${spec.values?.filter(Boolean).join(', ')}`;
    case 'path':
      return value.startsWith('/') || value.startsWith('~') ? null : `${spec.key}=${value} is not an absolute path: write it from /, e.g. ${spec.key}=/home/you/...`;
    default:
      return null;
  }
}

function defaultOf(spec: KeySpec): string {
  return typeof spec.default === 'string' && spec.default !== '' ? spec.default : '1';
}

function shown(spec: KeySpec, value: string): string {
  return spec.secret ? maskSecret(value) : value;
}

function maskSecret(value: string): string {
  if (!value) return '';
  return value.length <= 8 ? '****' : `${value.slice(0, 4)}…(${value.length} chars)`;
}

function expandHome(value: string, home: string): string {
  return value === '~' ? home : value.startsWith('~/') ? join(home, value.slice(2)) : value;
}

function readDotenv(agentDir: string): Record<string, string> {
  try {
    return parseDotenv(readFileSync(join(agentDir, '.env')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError([`${join(agentDir, '.env')} cannot be read: ${(err as Error).message}`]);
  }
}

const truthy = (v: string) => /^(true|1|yes)$/i.test(v);

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const home = env.HOME || homedir();
  const ctx: DefaultContext = { home, user: env.LAB_USER || env.USER || userInfo().username, hostname: hostname() };
  const agentDir = expandHome(env.LAB_AGENT_DIR || join(home, 'lab_job_agent'), home);
  const fileValues = opts.noDotenv ? {} : readDotenv(agentDir);
  const values: Record<string, string> = {};
  const sources: Config['sources'] = {};
  const problems: string[] = [];
  for (const spec of CONFIG_KEYS) {
    const fromEnv = env[spec.key];
    const fromFile = fileValues[spec.key];
    const raw = fromEnv !== undefined && fromEnv !== '' ? fromEnv : fromFile !== undefined && fromFile !== '' ? fromFile : undefined;
    sources[spec.key] = raw === undefined ? 'default' : fromEnv !== undefined && fromEnv !== '' ? 'env' : '.env';
    const value = (raw ?? defaultValue(spec, ctx)).trim();
    values[spec.key] = spec.kind === 'path' ? expandHome(value, home) : value;
    const problem = checkValue(spec, value);
    if (problem) problems.push(problem);
  }
  const v = (k: string) => values[k] ?? '';
  const int = (k: string) => Number(v(k));
  if (v('SUPABASE_URL') && !v('SUPABASE_SERVICE_KEY') && !v('SUPABASE_ANON_KEY')) {
    problems.push('SUPABASE_URL is set but no key is: set SUPABASE_ANON_KEY and run `lab-agent login` (recommended), or SUPABASE_SERVICE_KEY');
  }
  if (!v('SUPABASE_URL') && (v('SUPABASE_SERVICE_KEY') || v('SUPABASE_ANON_KEY'))) {
    problems.push('a Supabase key is set but SUPABASE_URL is empty: set SUPABASE_URL=https://<project>.supabase.co');
  }
  if (problems.length) throw new ConfigError(problems);

  const mode: Mode = v('SUPABASE_URL') ? 'supabase' : v('LAB_DATABASE_URL') ? 'postgres' : 'local';
  const legacy = v('JUPYTER_LEGACY') === '' ? null : truthy(v('JUPYTER_LEGACY'));
  return {
    mode,
    home,
    user: v('LAB_USER'),
    email: v('LAB_EMAIL'),
    userId: v('LAB_USER_ID') || null,
    supabase: { url: v('SUPABASE_URL'), serviceKey: v('SUPABASE_SERVICE_KEY'), anonKey: v('SUPABASE_ANON_KEY') },
    databaseUrl: v('LAB_DATABASE_URL'),
    smtp: {
      host: v('SMTP_HOST'), port: int('SMTP_PORT'), user: v('SMTP_USER'), pass: v('SMTP_PASS'),
      secure: truthy(v('SMTP_SECURE')), from: v('LAB_FROM_EMAIL') || `${v('LAB_USER')}@${ctx.hostname}`,
    },
    jupyter: {
      basePort: int('JUPYTER_BASE_PORT'), ip: v('JUPYTER_IP'), legacy,
      app: (v('LAB_JUPYTER_APP') || (legacy ? 'notebook' : 'lab')) as Config['jupyter']['app'],
      portRange: int('LAB_JUPYTER_PORT_RANGE'), startTimeoutS: int('LAB_JUPYTER_START_TIMEOUT'),
      max: int('LAB_JUPYTER_MAX'), idleMin: int('LAB_JUPYTER_IDLE_MIN'), publicHost: v('LAB_PUBLIC_HOST'),
      executable: v('LAB_JUPYTER'),
    },
    syncIntervalMin: int('SYNC_INTERVAL_MIN'),
    syncExclude: v('LAB_SYNC_EXCLUDE').split(',').map((s) => s.trim()).filter(Boolean),
    syncMaxFiles: int('LAB_SYNC_MAX_FILES'),
    agentDir,
    dataDir: v('LAB_DATA_DIR'),
    logDir: v('LAB_LOG_DIR'),
    logLevel: v('LAB_LOG_LEVEL'),
    host: v('LAB_HOST'),
    python: v('LAB_PYTHON'),
    maxParallel: int('LAB_MAX_PARALLEL'),
    startTries: int('LAB_JOB_START_TRIES'),
    jobRetries: int('LAB_JOB_RETRIES'),
    jobTimeoutS: int('LAB_JOB_TIMEOUT'),
    killGraceS: int('LAB_KILL_GRACE_S'),
    pollIntervalS: int('LAB_POLL_INTERVAL_S'),
    executor: v('LAB_EXECUTOR') as Config['executor'],
    slurm: {
      partition: v('LAB_SLURM_PARTITION'), account: v('LAB_SLURM_ACCOUNT'), qos: v('LAB_SLURM_QOS'),
      extraArgs: v('LAB_SLURM_EXTRA_ARGS'), gpuOption: v('LAB_SLURM_GPU_OPTION') as Config['slurm']['gpuOption'], pollS: int('LAB_SLURM_POLL_S'),
    },
    allowRoot: truthy(v('LAB_ALLOW_ROOT')),
    values,
    sources,
  };
}

/** A database URL with its password replaced by ****, fit to print. */
export function maskDatabaseUrl(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = '****';
    return u.toString();
  } catch {
    return maskSecret(value);
  }
}

/** Effective values with secrets masked (and credentials inside LAB_DATABASE_URL hidden). */
export function maskedValues(config: Config): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of CONFIG_KEYS) {
    const value = config.values[spec.key] ?? '';
    if (spec.key === 'LAB_DATABASE_URL' && value) {
      out[spec.key] = maskDatabaseUrl(value);
    } else {
      out[spec.key] = spec.secret ? maskSecret(value) : value;
    }
  }
  return out;
}
