// `lab-agent db add-member|remove-member`: one PostgreSQL login role per lab member, run by whoever
// administers the lab's database (LAB_DATABASE_URL = an admin's connection string). The member
// puts the printed connection string into their own 0600 .env; the database then knows who every
// connection is, whatever the client claims.
import { loadConfig } from '../services/config.js';
import { isUuid } from '../services/names.js';
import { defineCommand, type Command, type OptionSpec, type OptionValues } from './command.js';
import { withAdmin } from './db-commands.js';
import { UsageError } from './output.js';

/** A member with agents on several servers has one role per host. */
const MEMBER_HOST = { type: 'string', help: "the role for the member's agent on this host only", whenAbsent: 'one role for all hosts' } as const;

const MEMBER_OPTIONS = {
  host: MEMBER_HOST,
  email: { type: 'string', help: "the member's email, for their job notices", whenAbsent: 'none' },
  'user-id': { type: 'string', help: 'keep this existing member id (their rows stay theirs)', whenAbsent: 'a new id' },
} as const satisfies OptionSpec;

function memberArgs(args: string[], options: OptionValues<typeof MEMBER_OPTIONS>, env: NodeJS.ProcessEnv) {
  if (args.length !== 1) throw new UsageError('name one member: their Linux user name');
  if (!loadConfig({ env }).databaseUrl) {
    throw new UsageError('member roles are for a lab\'s own PostgreSQL: set LAB_DATABASE_URL to an administrator\'s connection string');
  }
  const userId = options['user-id'] ?? null;
  if (userId !== null && !isUuid(userId)) throw new UsageError(`--user-id ${userId} is not a UUID`);
  return { linuxUser: args[0]!, host: options.host ?? null, email: options.email ?? null, userId };
}

export const dbMemberCommands: Command[] = [
  defineCommand({
    name: 'db add-member',
    summary: 'DB admin: create (or give a new password to) a member\'s login role; prints their connection string',
    usage: 'lab-agent db add-member <linux_user> [--host H] [--email E] [--user-id UUID] [--json]',
    json: true,
    options: MEMBER_OPTIONS,
    async run({ args, options, env, out }) {
      const spec = memberArgs(args, options, env);
      const config = loadConfig({ env });
      const { addMember } = await import('../services/store/members.js');
      const added = await withAdmin(env, (c) => addMember(c, config.databaseUrl, spec));
      out.data(added, (m) =>
        [
          `${m.created ? 'created' : 'new password for'} role ${m.role}, acting for user ${m.user_id}`,
          `give ${spec.linuxUser} this line for their ~/lab_job_agent/.env (mode 600), and nothing else:`,
          `LAB_DATABASE_URL=${m.connectionString}`,
          'the password is shown only now; `db add-member` again makes a new one',
        ].join('\n'),
      );
    },
  }),
  defineCommand({
    name: 'db remove-member',
    summary: 'DB admin: drop a member\'s login role (their open connections end; their rows stay)',
    usage: 'lab-agent db remove-member <linux_user> [--host H] [--json]',
    json: true,
    options: { host: MEMBER_HOST },
    async run({ args, options, env, out }) {
      const spec = memberArgs(args, options, env);
      const { removeMember } = await import('../services/store/members.js');
      const removed = await withAdmin(env, (c) => removeMember(c, spec.linuxUser, spec.host));
      out.data(removed, (r) => `dropped role ${r.role} (user ${r.user_id}); ${r.connections_ended} open connection(s) ended; the member's jobs and sessions stay`);
    },
  }),
];
