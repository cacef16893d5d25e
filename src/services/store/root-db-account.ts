// The embedded database of a root agent (LAB_ALLOW_ROOT). PostgreSQL refuses to run as root, so
// the server runs as a system account of its own: nologin, no home, used for nothing else. Never a
// shared account such as `postgres`: whoever can act as the server's account can connect to it,
// and a connection to this database queues work that runs as root. Its folder is 0700 and owned by
// that account, so only the account (which nobody logs in as) and root get through to the socket.
import { childProcess } from '../host/child-process.js';
import { chmodSync, chownSync, existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const ROOT_DB_ACCOUNT = 'lab-agent-db';

export interface Account {
  uid: number;
  gid: number;
}

function lookup(name: string): Account | null {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) return null;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** The account, created on first use. */
export function rootDbAccount(): Account {
  const found = lookup(ROOT_DB_ACCOUNT);
  if (found) return found;
  const shell = existsSync('/usr/sbin/nologin') ? '/usr/sbin/nologin' : '/bin/false';
  try {
    childProcess().execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', shell,
      '--comment', 'lab-job-agent local database of a root agent', ROOT_DB_ACCOUNT], { stdio: 'pipe' });
  } catch (err) {
    // Another process may have made it in the meantime.
    const raced = lookup(ROOT_DB_ACCOUNT);
    if (raced) return raced;
    throw new Error(`as root the local database needs its own system account, and creating it failed (${(err as Error).message.split('\n')[0]}): ` +
      `useradd --system --user-group --no-create-home --shell ${shell} ${ROOT_DB_ACCOUNT}`);
  }
  return lookup(ROOT_DB_ACCOUNT)!;
}

function chownTree(path: string, to: Account): void {
  const st = lstatSync(path);
  if (st.uid !== to.uid || st.gid !== to.gid) chownSync(path, to.uid, to.gid);
  if (st.isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), to);
}

/**
 * Folders for a root agent's server: `root` 0700 owned by the account, every folder above it
 * passable (the account must reach its data). A cluster left by an earlier version (run as
 * `postgres`) is stopped by its owner's stop command and handed over to the account.
 */
export async function prepareRootServerFolders(root: string, to: Account, stopAs: (owner: Account) => Promise<void>): Promise<void> {
  const data = join(root, 'data');
  if (existsSync(join(data, 'PG_VERSION'))) {
    const st = statSync(data);
    if (st.uid !== to.uid) {
      if (existsSync(join(data, 'postmaster.pid'))) await stopAs({ uid: st.uid, gid: st.gid });
      chownTree(root, to);
    }
  }
  chownSync(root, to.uid, to.gid);
  chmodSync(root, 0o700);
}

/**
 * Folders just made above `root` (from `first`, what mkdirSync reported creating) let others
 * through, so the account reaches its own folder: only those, never an existing 0700 home.
 */
export function passCreatedAncestors(first: string | undefined, root: string): void {
  if (!first) return;
  for (let d = dirname(root); d.length >= first.length && d !== dirname(d); d = dirname(d)) chmodSync(d, 0o711);
}
