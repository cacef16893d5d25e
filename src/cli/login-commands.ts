// `lab-agent login` / `logout`: the recommended identity in Supabase mode, the member's own session
// (row-level security applies as on the web), instead of the service key that can act as anyone.
// With only the service key, login finds the member's account by their confirmed email and, once
// they confirm, writes its id to .env as LAB_USER_ID: the agent never guesses whom it acts for.
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config } from '../services/config.js';
import { setEnvValue } from '../services/env-file.js';
import { sessionFile } from '../services/store/file-session-storage.js';
import { defineCommand, type Command, type OptionSpec, type OptionValues } from './command.js';
import { CliFailure, UsageError, type Output } from './output.js';
import { ask, askSecret, closePrompts } from './prompt.js';

const EMAIL = /^[^\s@]+@[^\s@]+$/;
const LOGIN_OPTIONS = {
  email: { type: 'string', help: 'your Supabase account', whenAbsent: 'LAB_EMAIL, else asked' },
  password: { type: 'boolean', help: 'sign in with your password (asked) instead of an emailed code', whenAbsent: 'off' },
  code: { type: 'string', help: 'the emailed code or link', whenAbsent: 'asked' },
} as const satisfies OptionSpec;
type LoginOptions = OptionValues<typeof LOGIN_OPTIONS>;

async function askEmail(config: Config, options: LoginOptions): Promise<string> {
  const email = options.email || config.email || (await ask('Email of your Supabase account: '));
  if (!EMAIL.test(email)) throw new UsageError(`"${email}" is not an email address`);
  return email;
}

/** Service-key mode: the account with this confirmed email becomes LAB_USER_ID, once the member says so. */
async function writeServiceUserId(config: Config, options: LoginOptions, out: Output): Promise<number> {
  const { findVerifiedAccount } = await import('../services/store/supabase-admin.js');
  try {
    const account = await findVerifiedAccount(config, await askEmail(config, options));
    const envFile = join(config.agentDir, '.env');
    process.stderr.write(`Your account: ${account.id} (${account.email}, confirmed ${account.confirmedAt}).\n`);
    if (config.userId === account.id) {
      out.data({ userId: account.id, email: account.email, envFile, written: false }, () => `LAB_USER_ID is already ${account.id}; nothing to change`);
      return 0;
    }
    const replacing = config.userId ? ` (replacing LAB_USER_ID=${config.userId})` : '';
    const answer = await ask(`Write LAB_USER_ID=${account.id} to ${envFile}${replacing}, so the agent acts for this account? [y/N] `);
    if (!/^y(es)?$/i.test(answer)) throw new CliFailure('nothing written; with the service key the agent starts only once LAB_USER_ID is set');
    mkdirSync(config.agentDir, { recursive: true, mode: 0o700 });
    setEnvValue(envFile, 'LAB_USER_ID', account.id);
    const data = { userId: account.id, email: account.email, envFile, written: true };
    out.data(data, (d) =>
      [
        `wrote LAB_USER_ID=${d.userId} to ${d.envFile} (mode 600)`,
        'the service key still lets whoever reads that .env act as any member: prefer SUPABASE_ANON_KEY with `lab-agent login`',
        'next: `lab-agent doctor`',
      ].join('\n'),
    );
    return 0;
  } finally {
    closePrompts();
  }
}

export const loginCommands: Command[] = [
  defineCommand({
    name: 'login',
    summary: 'sign in to Supabase (emailed code or link, or --password); with only the service key: find your account by email and set LAB_USER_ID',
    usage: 'lab-agent login [--email you@lab] [--password] [--code 123456|LINK] [--json]',
    json: true,
    options: LOGIN_OPTIONS,
    async run({ env, options, out }) {
      const config = loadConfig({ env });
      if (config.mode === 'supabase' && !config.supabase.anonKey && config.supabase.serviceKey) return writeServiceUserId(config, options, out);
      const auth = await import('../services/store/supabase-auth.js');
      const client = auth.authClient(config); // fails early outside Supabase mode
      try {
        const email = await askEmail(config, options);
        let userId: string;
        if (options.password) {
          const password = await askSecret(`Password for ${email}: `);
          if (!password) throw new UsageError('no password given');
          userId = await auth.signInWithPassword(client, email, password);
        } else {
          let code = options.code ?? '';
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
        out.data(data, (d) =>
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
  }),
  defineCommand({
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
      out.data(data, (d) =>
        !d.hadSession ? 'not signed in here; nothing to do'
        : d.serverError ? `signed out here (session file removed); the server could not be told (${d.serverError}), so that session ends when it expires`
        : 'signed out: the session is revoked and its file removed; `lab-agent login` to sign in again',
      );
      return r.serverError ? 1 : 0;
    },
  }),
];
