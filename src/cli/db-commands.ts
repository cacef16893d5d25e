// `lab-agent db migrate|status`: the schema of the local database or of LAB_DATABASE_URL.
import pg from 'pg';
import { loadConfig } from '../services/config.js';
import { dbStatus, migrate } from '../services/store/migrate.js';
import { openError } from '../services/store/db-errors.js';
import { serverRoot } from '../services/store/local-postgres.js';
import { pgConnection } from '../services/store/open-store.js';
import type { Command } from './command.js';

export async function withAdmin<T>(env: NodeJS.ProcessEnv, fn: (c: pg.Client, where: string) => Promise<T>): Promise<T> {
  const config = loadConfig({ env });
  const connection = await pgConnection(config);
  const where = config.databaseUrl ? 'LAB_DATABASE_URL' : `local database (${config.dataDir})`;
  const client = new pg.Client(connection);
  try {
    await client.connect();
  } catch (err) {
    throw openError(config, serverRoot(config.dataDir), err);
  }
  try {
    return await fn(client, where);
  } finally {
    await client.end();
  }
}

/** `db start` / `db stop`: the embedded local database (services/agent/first-run.ts). */
const localDbCommand = (verb: 'start' | 'stop', summary: string): Command => ({
  name: `db ${verb}`,
  summary,
  usage: `lab-agent db ${verb}`,
  async run({ out, env }) {
    const control = await import('../services/agent/first-run.js');
    const r = await (verb === 'start' ? control.startLocalDatabase : control.stopLocalDatabase)(loadConfig({ env }));
    out.data(r, (x: typeof r) => x.message);
    return r.ok ? 0 : 1;
  },
});

export const dbCommands: Command[] = [
  localDbCommand('start', 'start the embedded local database (it keeps running after the agent stops)'),
  localDbCommand('stop', 'stop the embedded local database (the agent or a command starts it again when needed)'),
  {
    name: 'db migrate',
    summary: 'apply the schema migrations to the local database or LAB_DATABASE_URL',
    usage: 'lab-agent db migrate [--json]',
    json: true,
    async run({ out, env }) {
      const result = await withAdmin(env, async (c, where) => ({ where, ...(await migrate(c)) }));
      out.data(result, (r: typeof result) =>
        r.applied.length
          ? `applied ${r.applied.length} migration(s) to the ${r.where}: ${r.applied.join(', ')}\nschema version ${r.version}`
          : `the ${r.where} is up to date (schema version ${r.version})`,
      );
    },
  },
  {
    name: 'db status',
    summary: 'show which migrations the database has and which it lacks',
    usage: 'lab-agent db status [--json]',
    json: true,
    async run({ out, env }) {
      const status = await withAdmin(env, async (c, where) => ({ where, ...(await dbStatus(c)) }));
      out.data(status, (s: typeof status) =>
        [
          `database: ${s.where}`,
          `expected schema version: ${s.expected}`,
          `applied: ${s.applied.length ? s.applied.join(', ') : 'none'}`,
          s.upToDate ? 'up to date' : `missing: ${s.missing.join(', ')} (run \`lab-agent db migrate\`)`,
        ].join('\n'),
      );
      return status.upToDate ? 0 : 1;
    },
  },
];
