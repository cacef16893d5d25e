// Doctor checks of whom the agent acts for and how it proved it, what its credentials let others
// do, which Linux account it runs as, and whether running Jupyter links reach their own server.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { userInfo } from 'node:os';
import type { Config } from '../config.js';
import { probeStatus } from '../jupyter/health.js';
import { listeningAddresses, receives } from '../jupyter/listening.js';
import { isRoot, rootRefusal, ROOT_WARNING } from '../process-safety.js';
import { sharedWarning } from '../store/identity.js';
import type { LabStore } from '../store/lab-store.js';
import { tokenlessUrl } from '../../machines/jupyter-rules.js';
import { result, withTimeout, type CheckResult } from './types.js';

/**
 * The verified email where an authority over accounts recorded it: Supabase Auth (session or
 * service key) or the database administrator (member roles). Local mode and a shared URL have none:
 * there anyone with access writes what they like.
 */
function emailVerifiable(config: Config, store: LabStore): boolean {
  return config.mode === 'supabase' || store.identity?.proof === 'member-role';
}

export async function checkIdentity(config: Config, store: LabStore | null, openError: Error | null): Promise<CheckResult> {
  const me = userInfo().username;
  if (!store) {
    const why = openError?.message ?? 'the database check failed';
    const fix = /LAB_USER_ID/.test(why) ? 'run `lab-agent login` (it finds your account by your verified email and writes LAB_USER_ID)' : /login/.test(why) ? 'run `lab-agent login`' : 'fix the database check first';
    return result('identity', 'identity', openError ? 'fail' : 'skip', why, openError ? fix : undefined);
  }
  try {
    const who = await withTimeout(store.whoami(), 15_000, 'the database');
    const row = who.user;
    const proof = store.identity?.detail ?? 'unknown';
    const verified = emailVerifiable(config, store) ? await withTimeout(store.verifiedEmail(), 15_000, 'the database') : null;
    const data = {
      userId: who.user_id, proof: store.identity?.proof ?? null, linuxUser: row?.linux_user ?? null, email: row?.email ?? null,
      verifiedEmail: verified, osUser: me, labUser: config.user,
    };
    const detail = `acts for ${who.user_id}${verified ? ` (${verified})` : ''}; proof: ${proof}`;
    if (config.user !== me) {
      return result('identity', 'identity', 'fail', `${detail}; LAB_USER=${config.user} but this account is ${me}`, 'remove LAB_USER from .env (it defaults to your Linux user name)', data);
    }
    if (!emailVerifiable(config, store)) return result('identity', 'identity', 'ok', `${detail}; no authority over accounts in ${config.mode} mode to check an email with`, undefined, data);
    if (!verified) {
      return result('identity', 'identity', 'warn', `${detail}; the account has no confirmed email`,
        config.mode === 'supabase' ? 'confirm the account\'s email address (the sign-up email)' : 'ask the database administrator to record it: `lab-agent db add-member <you> --email you@lab`', data);
    }
    if (!config.email) return result('identity', 'identity', 'ok', `${detail}; LAB_EMAIL is empty, nothing to compare`, undefined, data);
    if (verified.toLowerCase() !== config.email.toLowerCase()) {
      return result('identity', 'identity', 'fail', `${detail}, but LAB_EMAIL=${config.email}: the agent may be acting for someone else's account`,
        store.identity?.proof === 'user-id' ? 'check LAB_USER_ID (`lab-agent login` finds yours by your verified email)' : 'sign in with your own account, or correct LAB_EMAIL', data);
    }
    return result('identity', 'identity', 'ok', `${detail}, = LAB_EMAIL`, undefined, data);
  } catch (err) {
    return result('identity', 'identity', 'fail', (err as Error).message, 'run `lab-agent login` (Supabase) or check LAB_USER_ID');
  }
}

/** What the agent's credential lets whoever holds it do. */
export function checkCredentials(config: Config, store: LabStore | null): CheckResult {
  const title = 'credentials';
  if (config.mode === 'local') return result('credentials', title, 'ok', 'local database: a 0700 socket folder, reachable by this Linux account alone');
  if (config.mode === 'supabase') {
    if (!config.supabase.serviceKey) return result('credentials', title, 'ok', 'anon key with your own signed-in session (row-level security applies)');
    const fix = config.supabase.anonKey
      ? 'remove SUPABASE_SERVICE_KEY from .env: with SUPABASE_ANON_KEY and `lab-agent login` it is not needed'
      : 'ask for the project\'s anon key, set SUPABASE_ANON_KEY, run `lab-agent login`, then remove SUPABASE_SERVICE_KEY';
    return result('credentials', title, 'warn', 'SUPABASE_SERVICE_KEY is set: it bypasses row-level security, so anyone who reads this .env can act as any lab member', fix);
  }
  if (!store?.identity) return result('credentials', title, 'skip', 'needs a working database connection');
  if (store.identity.proof === 'member-role') return result('credentials', title, 'ok', `LAB_DATABASE_URL logs in as your own ${store.identity.detail}: the database keeps members apart`);
  return result('credentials', title, 'warn', sharedWarning(config),
    'ask the database administrator for your own role: `lab-agent db add-member <your Linux user>` prints your connection string for .env');
}

export function checkAccount(config: Config): CheckResult {
  if (!isRoot()) return result('account', 'Linux account', 'ok', `runs as ${userInfo().username}, not root`);
  if (config.allowRoot) return result('account', 'Linux account', 'warn', ROOT_WARNING, 'run the agent under the lab member\'s own account where you can');
  return result('account', 'Linux account', 'fail', rootRefusal('the agent'), 'install and run the agent as the lab member (install_agent.sh under their account)');
}

/**
 * Every running Jupyter server of this member on this host: its link names an address the server
 * itself listens on (checked in /proc before the token goes anywhere), and answers with the token.
 */
export async function checkJupyterLinks(config: Config, store: LabStore | null): Promise<CheckResult> {
  const title = 'Jupyter links';
  if (!store) return result('jupyter-link', title, 'skip', 'needs a working database connection');
  const running = (await withTimeout(store.listSessions({ limit: 50, activeOnly: true, host: config.host }), 15_000, 'the database'))
    .filter((s) => s.status === 'running' && s.run_host === config.host && s.url && s.token && s.pid);
  if (!running.length) return result('jupyter-link', title, 'skip', 'no Jupyter server of yours is running on this host');
  const problems: string[] = [];
  for (const s of running) {
    const u = new URL(s.url!);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port || 80);
    const addresses = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
    const listening = listeningAddresses(s.pid!, port);
    const stray = addresses.filter((a) => !listening.some((l) => receives(l, a)));
    const shown = `${s.session_id.slice(0, 8)} ${tokenlessUrl(s.url)}`;
    if (!addresses.length || stray.length) {
      problems.push(`${shown}: ${host} is ${addresses.join(', ') || 'not resolvable'}, but its server (pid ${s.pid}) listens on ${listening.join(', ') || 'nothing'} at port ${port}; the token was not sent`);
      continue;
    }
    // A generous timeout: doctor is not in a hurry, and a busy server answers late, not wrongly.
    const status = await probeStatus({ host: addresses[0], port, token: s.token!, requestTimeoutMs: 15_000 });
    if (status !== 200) problems.push(`${shown}: answered ${status ?? 'nothing'} with its token`);
  }
  const data = { sessions: running.map((s) => s.session_id), problems };
  if (problems.length) {
    return result('jupyter-link', title, 'fail', problems.join('; '),
      'stop it (`lab-agent jupyter stop <id>`) and start a new one; links follow JUPYTER_IP (127.0.0.1 with the ssh tunnel, or 0.0.0.0 with LAB_PUBLIC_HOST)', data);
  }
  return result('jupyter-link', title, 'ok', `${running.length} running server(s): each link reaches its own server and answers with its token`, undefined, data);
}
