// `lab-agent db migrate|status`: the schema of the local database or of LAB_DATABASE_URL.
import type pg from 'pg';
import { loadConfig } from '../services/config.js';
import { openError } from '../services/store/db-errors.js';
import { defineCommand, type Command } from './command.js';

export async function withAdmin<T>(env: NodeJS.ProcessEnv, fn: (c: pg.Client, where: string) => Promise<T>): Promise<T> {
  const config = loadConfig({ env });
  // Loaded here, not at the top: the other commands' start-up never pays for pg.
  const [{ default: pg }, { pgConnection }, { serverRoot }] = await Promise.all([
    import('pg'), import('../services/store/open-store.js'), import('../services/store/local-postgres.js'),
  ]);
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
const localDbCommand = (verb: 'start' | 'stop', summary: string): Command => defineCommand({
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
  defineCommand({
    name: 'db migrate',
    summary: 'apply the schema migrations to the local database or LAB_DATABASE_URL',
    usage: 'lab-agent db migrate [--json]',
    json: true,
    async run({ out, env }) {
      const { migrate } = await import('../services/store/migrate.js');
      const result = await withAdmin(env, async (c, where) => ({ where, ...(await migrate(c)) }));
      out.data(result, (r) =>
        r.applied.length
          ? `applied ${r.applied.length} migration(s) to the ${r.where}: ${r.applied.join(', ')}\nschema version ${r.version}`
          : `the ${r.where} is up to date (schema version ${r.version})`,
      );
    },
  }),
  defineCommand({
    name: 'db status',
    summary: 'show which migrations the database has and which it lacks (changes nothing)',
    usage: 'lab-agent db status [--json]',
    json: true,
    async run({ out, env }) {
      const { dbStatus, newerSchemaMessage } = await import('../services/store/migrate.js');
      const status = await withAdmin(env, async (c, where) => ({ where, ...(await dbStatus(c)) }));
      out.data(status, (s) =>
        [
          `database: ${s.where}`,
          `expected schema version: ${s.expected}`,
          `applied: ${s.applied.length ? s.applied.join(', ') : 'none'}`,
          s.newer.length ? newerSchemaMessage(s) : s.upToDate ? 'up to date' : `missing: ${s.missing.join(', ')} (run \`lab-agent db migrate\`)`,
        ].join('\n'),
      );
      return status.upToDate ? 0 : 1;
    },
  }),
];
