// `lab-agent login` / `logout`: the recommended identity in Supabase mode, the member's own session
// (row-level security applies as on the web), instead of the service key that can act as anyone.
import { statSync } from 'node:fs';
import { loadConfig } from '../services/config.js';
import { sessionFile } from '../services/store/open-store.js';
import type { Command } from './command.js';
import { UsageError } from './output.js';
import { ask, askSecret, closePrompts } from './prompt.js';

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export const loginCommands: Command[] = [
  {
    name: 'login',
    summary: 'sign in to Supabase (emailed code, or --password); the agent then acts as you',
    usage: 'lab-agent login [--email you@lab] [--password] [--code 123456|LINK] [--json]',
    json: true,
    options: { email: { type: 'string' }, password: { type: 'boolean' }, code: { type: 'string' } },
    async run({ env, options, out }) {
      const auth = await import('../services/store/supabase-auth.js');
      const config = loadConfig({ env });
      const client = auth.authClient(config); // fails early outside Supabase mode
      try {
        const email = String(options.email ?? '') || config.email || (await ask('Email of your Supabase account: '));
        if (!EMAIL.test(email)) throw new UsageError(`"${email}" is not an email address`);
        let userId: string;
        if (options.password) {
          const password = await askSecret(`Password for ${email}: `);
          if (!password) throw new UsageError('no password given');
          userId = await auth.signInWithPassword(client, email, password);
        } else {
          let code = typeof options.code === 'string' ? options.code : '';
          if (!code) {
            // --code skips this: the code from an earlier `login` run (two steps in a script).
            await auth.sendCode(client, email);
            process.stderr.write(`A sign-in code was sent to ${email}.\n`);
            code = await ask('Code from the email (or paste its link): ');
          }
          // A project whose email template lacks {{ .Token }} sends only a link: it works too.
          if (/^\s*https?:\/\//.test(code)) userId = await auth.verifyPasted(client, email, code);
          else if (!/^\d{6,10}$/.test(code.replace(/\s/g, ''))) throw new UsageError(`"${code}" is not a code from the email (6 to 10 digits) nor its link`);
          else userId = await auth.verifyCode(client, email, code.replace(/\s/g, ''));
        }
        const row = await auth.recordUser(config, client, userId, email);
        const file = sessionFile(config);
        const mode = (statSync(file).mode & 0o777).toString(8);
        const data = { userId, email, linuxUser: row.linux_user, sessionFile: file, sessionFileMode: mode };
        out.data(data, (d: typeof data) =>
          [
            `signed in as ${d.email} (user ${d.userId}); users row: linux_user ${d.linuxUser}`,
            `session kept in ${d.sessionFile} (mode ${d.sessionFileMode}); the agent refreshes it and uses it from its next run`,
            'next: `lab-agent doctor`',
          ].join('\n'),
        );
      } finally {
        closePrompts();
      }
    },
  },
  {
    name: 'logout',
    summary: 'end this machine\'s Supabase session (the agent stops acting for you until the next login)',
    usage: 'lab-agent logout [--json]',
    json: true,
    async run({ env, out }) {
      const auth = await import('../services/store/supabase-auth.js');
      const config = loadConfig({ env });
      const client = auth.authClient(config);
      const r = await auth.signOut(config, client);
      const data = { ...r, sessionFile: sessionFile(config) };
      out.data(data, (d: typeof data) =>
        !d.hadSession ? 'not signed in here; nothing to do'
        : d.serverError ? `signed out here (session file removed); the server could not be told (${d.serverError}), so that session ends when it expires`
        : 'signed out: the session is revoked and its file removed; `lab-agent login` to sign in again',
      );
      return r.serverError ? 1 : 0;
    },
  },
];
