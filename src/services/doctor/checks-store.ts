// Doctor checks of the configuration and the database (checks-identity.ts: who the agent acts for).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { ConfigError, loadConfig, maskedValues, type Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { LabStore } from '../store/lab-store.js';
import { serverRoot } from '../store/local-postgres.js';
import { dbStatus, expectedVersion, listMigrations, newerSchemaMessage } from '../store/migrate.js';
import { envFileExposure } from '../process-safety.js';
import { sessionFile } from '../store/file-session-storage.js';
import { openStore, pgConnection } from '../store/open-store.js';
import { LOGIN_AGAIN } from '../store/types.js';
import { result, tildify, withTimeout, type CheckResult } from './types.js';

export function checkConfig(env: NodeJS.ProcessEnv): { check: CheckResult; config: Config | null } {
  let config: Config;
  try {
    config = loadConfig({ env });
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
    return { check: result('config', 'configuration', 'fail', problems.join('; '), 'edit the .env (see `lab-agent config --doc` for every key)', { problems }), config: null };
  }
  const envFile = join(config.agentDir, '.env');
  let mode: number | null = null;
  try {
    mode = statSync(envFile).mode & 0o777;
  } catch {
    /* no .env: defaults and the environment */
  }
  const data = { mode: config.mode, envFile, envFileMode: mode === null ? null : mode.toString(8), values: maskedValues(config), sources: config.sources };
  const where = mode === null ? 'no .env (defaults and environment)' : `${tildify(envFile, config.home)} (mode ${mode.toString(8)})`;
  const detail = `${config.mode} mode, user ${config.user}; ${where}`;
  const exposed = envFileExposure(config);
  if (exposed) {
    // With a secret in it the agent refuses to start (process-safety.ts): a failure here too.
    return {
      check: result('config', 'configuration', exposed.secrets ? 'fail' : 'warn', `${detail}: others can read it${exposed.secrets ? ', and it holds secrets' : ''}`, `chmod 600 ${envFile}`, data),
      config,
    };
  }
  return { check: result('config', 'configuration', 'ok', detail, undefined, data), config };
}

const describeDb = (config: Config) =>
  config.mode === 'local' ? `local database (${tildify(config.dataDir, config.home)})` : config.mode === 'postgres' ? 'LAB_DATABASE_URL' : `Supabase ${config.supabase.url}`;

async function checkPgDatabase(config: Config, log: Logger): Promise<CheckResult> {
  const where = describeDb(config);
  const fixConnect = config.mode === 'local'
    ? `see ${join(serverRoot(config.dataDir), 'postgres.log')}`
    : 'check host, port, user and password in LAB_DATABASE_URL; for Supabase use the session-mode string (port 5432)';
  let client: pg.Client | null = null;
  try {
    // Local mode starts the embedded server here if it is not running, as the agent would.
    const connection = await withTimeout(pgConnection(config, log), 90_000, where);
    client = new pg.Client({ ...connection, connectionTimeoutMillis: 5000 });
    await withTimeout(client.connect(), 10_000, where);
    const status = await dbStatus(client);
    const data = { where, expected: status.expected, applied: status.applied.at(-1) ?? null, missing: status.missing };
    if (status.newer.length) return result('database', 'database', 'fail', `${where} reachable, but ${newerSchemaMessage(status)}`, 'update lab-agent', data);
    if (!status.upToDate) {
      return result('database', 'database', 'fail', `${where} reachable, but lacks migrations ${status.missing.join(', ')}`, 'run `lab-agent db migrate`', data);
    }
    return result('database', 'database', 'ok', `${where} reachable, schema ${status.expected} (up to date)`, undefined, data);
  } catch (err) {
    return result('database', 'database', 'fail', `${where}: ${(err as Error).message}`, fixConnect);
  } finally {
    await client?.end().catch(() => undefined);
  }
}

async function checkSupabaseDatabase(config: Config, store: LabStore | null, openError: Error | null): Promise<CheckResult> {
  const where = describeDb(config);
  if (!store) {
    const message = openError?.message ?? 'cannot open';
    const fix = message.includes(LOGIN_AGAIN) ? LOGIN_AGAIN : /not signed in|login/.test(message) ? 'run `lab-agent login`' : 'check SUPABASE_URL and the key, and that this host reaches it (https)';
    return result('database', 'database', 'fail', `${where}: ${message}`, fix);
  }
  try {
    const expected = expectedVersion();
    // Both histories (`lab-agent db migrate` and `supabase db push`): a skipped migration shows too.
    const applied = await withTimeout(store.schemaApplied().catch(async (err: Error) => {
      // A project from before lab_schema_applied: only the newest version can be told.
      if (!/lab_schema_applied|PGRST202/.test(err.message)) throw err;
      const v = await store.schemaVersion();
      return v ? [v] : [];
    }), 15_000, where);
    const version = applied.at(-1) ?? null;
    const missing = listMigrations().map((m) => m.version).filter((v) => v <= (version ?? '') && !applied.includes(v));
    const data = { where, expected, applied: version, missing };
    if (version === null) {
      return result('database', 'database', 'fail', `${where} answers, but no migration is recorded`, 'apply the schema: `supabase db push` (see the README)', data);
    }
    if (version < expected || missing.length) {
      const lacking = [...missing, ...listMigrations().map((m) => m.version).filter((v) => v > version)];
      return result('database', 'database', 'fail', `${where} answers, but lacks migrations ${lacking.join(', ')}`, 'apply them: `supabase db push` (or `lab-agent db migrate` with LAB_DATABASE_URL)', { ...data, missing: lacking });
    }
    return result('database', 'database', 'ok', `${where} answers, schema ${version}${version > expected ? ' (newer than this agent: update it)' : ''}`, undefined, data);
  } catch (err) {
    return result('database', 'database', 'fail', `${where}: ${(err as Error).message}`, 'check SUPABASE_URL and that the schema is applied (`supabase db push`)');
  }
}

/** The database check, and the store the identity check then uses (null when it cannot open). */
export async function checkDatabase(config: Config, log: Logger): Promise<{ check: CheckResult; store: LabStore | null; openError: Error | null }> {
  let check: CheckResult | null = null;
  if (config.mode !== 'supabase') {
    check = await checkPgDatabase(config, log);
    if (check.status === 'fail') return { check, store: null, openError: null };
  }
  let store: LabStore | null = null;
  let openError: Error | null = null;
  try {
    store = await withTimeout(openStore(config, log), 30_000, describeDb(config));
  } catch (err) {
    openError = err as Error;
  }
  if (config.mode === 'supabase') check = await checkSupabaseDatabase(config, store, openError);
  return { check: check!, store, openError };
}
