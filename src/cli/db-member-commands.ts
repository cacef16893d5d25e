// `lab-agent db add-member|remove-member`: one PostgreSQL login role per lab member, run by whoever
// administers the lab's database (LAB_DATABASE_URL = an admin's connection string). The member
// puts the printed connection string into their own 0600 .env; the database then knows who every
// connection is, whatever the client claims.
import { loadConfig } from '../services/config.js';
import { isUuid } from '../services/names.js';
import { addMember, removeMember } from '../services/store/members.js';
import type { Command } from './command.js';
import { withAdmin } from './db-commands.js';
import { UsageError } from './output.js';

function memberArgs(args: string[], options: Record<string, unknown>, env: NodeJS.ProcessEnv) {
  if (args.length !== 1) throw new UsageError('name one member: their Linux user name');
  if (!loadConfig({ env }).databaseUrl) {
    throw new UsageError('member roles are for a lab\'s own PostgreSQL: set LAB_DATABASE_URL to an administrator\'s connection string');
  }
  const userId = options['user-id'] as string | undefined;
  if (userId !== undefined && !isUuid(userId)) throw new UsageError(`--user-id ${userId} is not a UUID`);
  return { linuxUser: args[0]!, host: (options.host as string | undefined) ?? null, email: (options.email as string | undefined) ?? null, userId: userId ?? null };
}

export const dbMemberCommands: Command[] = [
  {
    name: 'db add-member',
    summary: 'DB admin: create (or give a new password to) a member\'s login role; prints their connection string',
    usage: 'lab-agent db add-member <linux_user> [--host H] [--email E] [--user-id UUID] [--json]',
    json: true,
    options: { host: { type: 'string' }, email: { type: 'string' }, 'user-id': { type: 'string' } },
    async run({ args, options, env, out }) {
      const spec = memberArgs(args, options, env);
      const config = loadConfig({ env });
      const added = await withAdmin(env, (c) => addMember(c, config.databaseUrl, spec));
      out.data(added, (m: typeof added) =>
        [
          `${m.created ? 'created' : 'new password for'} role ${m.role}, acting for user ${m.user_id}`,
          `give ${spec.linuxUser} this line for their ~/lab_job_agent/.env (mode 600), and nothing else:`,
          `LAB_DATABASE_URL=${m.connectionString}`,
          'the password is shown only now; `db add-member` again makes a new one',
        ].join('\n'),
      );
    },
  },
  {
    name: 'db remove-member',
    summary: 'DB admin: drop a member\'s login role (their open connections end; their rows stay)',
    usage: 'lab-agent db remove-member <linux_user> [--host H] [--json]',
    json: true,
    options: { host: { type: 'string' } },
    async run({ args, options, env, out }) {
      const spec = memberArgs(args, options, env);
      const removed = await withAdmin(env, (c) => removeMember(c, spec.linuxUser, spec.host));
      out.data(removed, (r: typeof removed) => `dropped role ${r.role} (user ${r.user_id}); ${r.connections_ended} open connection(s) ended; the member's jobs and sessions stay`);
    },
  },
];
