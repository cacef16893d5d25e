// Local mode (one database per member): the agents of one host agree on GPUs through lock files in
// a folder every member can write, root-owned and sticky (/tmp), one file per GPU and holder:
// `lab-gpu-<uuid>.<random>.lock` holding { pid, start } of the process that holds the GPU (the
// claiming agent, then the job's own process).
//
// Why no member can hold another's GPU forever or break another's hold by hand:
// - a file counts only while the process it names is alive (pid and start time, so a reused pid
//   does not) and belongs to the file's owner: a member can hold a GPU only with a live process of
//   their own, and a dead job's lock lapses by itself, nobody has to remove it;
// - the folder is sticky: only a file's owner can remove or rename it;
// - the random part of the name: nobody can create another member's file name in advance.
// Taking a GPU: create my file (O_EXCL), then look for another live holder; if there is one, remove
// mine again. Two agents racing may both back off (each tries again next tick), never both hold.
import { nodeCrypto } from '../node-crypto.js';
import { lstatSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSameProcess, processStartTime } from '../host/process-identity.js';

export interface LockHolder {
  pid: number;
  start: string;
}

interface LockFile {
  name: string;
  uuid: string;
  owner: number;
  holder: LockHolder | null;
}

const PREFIX = 'lab-gpu-';
const NAME = /^lab-gpu-(GPU-[0-9A-Za-z-]{1,80})\.([0-9a-f]{16})\.lock$/;
const myUid = () => process.getuid?.() ?? -1;

/** The agent's own process as a holder. */
export function selfHolder(): LockHolder {
  return { pid: process.pid, start: processStartTime(process.pid) ?? '' };
}

/** Why `dir` cannot hold the locks safely, or null when it can. */
export function lockDirProblem(dir: string): string | null {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return `the GPU lock folder ${dir} does not exist (LAB_GPU_LOCK_DIR)`;
  }
  if (!st.isDirectory()) return `the GPU lock folder ${dir} is not a folder (LAB_GPU_LOCK_DIR)`;
  // Not owned by root: its owner could remove every member's locks.
  if (st.uid !== 0 || (st.mode & 0o1777) !== 0o1777) {
    return `the GPU lock folder ${dir} must be owned by root, writable by everyone and sticky (mode 1777, as /tmp is)`;
  }
  return null;
}

function holderAlive(f: LockFile): boolean {
  if (!f.holder) return false;
  if (!isSameProcess(f.holder.pid, f.holder.start)) return false;
  try {
    return statSync(`/proc/${f.holder.pid}`).uid === f.owner; // only a process of the file's owner holds
  } catch {
    return false;
  }
}

function readLocks(dir: string): LockFile[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(PREFIX));
  } catch {
    return [];
  }
  const out: LockFile[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m) continue;
    try {
      const st = lstatSync(join(dir, name));
      if (!st.isFile()) continue;
      const raw = JSON.parse(readFileSync(join(dir, name), 'utf8').slice(0, 200)) as Partial<LockHolder>;
      const holder = Number.isInteger(raw.pid) && typeof raw.start === 'string' ? { pid: raw.pid!, start: raw.start } : null;
      out.push({ name, uuid: m[1]!, owner: st.uid, holder });
    } catch {
      /* gone meanwhile, or not ours to read: it holds nothing */
    }
  }
  return out;
}

function writeHolder(path: string, holder: LockHolder, flag: 'wx' | 'w'): void {
  writeFileSync(path, JSON.stringify(holder), { flag, mode: 0o644 });
}

/** The host's GPU locks as one member's agent uses them. */
export class HostGpuLocks {
  constructor(readonly dir: string) {}

  /** UUIDs held by a live process (anyone's, mine included). My own stale files are removed on the way. */
  held(): Set<string> {
    const out = new Set<string>();
    for (const f of readLocks(this.dir)) {
      if (holderAlive(f)) out.add(f.uuid);
      else if (f.owner === myUid()) this.remove(f.name);
    }
    return out;
  }

  /** Takes `uuid` for `holder`; false when another live holder has it (or got it at the same moment). */
  take(uuid: string, holder: LockHolder): boolean {
    const mine = readLocks(this.dir).find((f) => f.uuid === uuid && f.owner === myUid() && holderAlive(f));
    if (mine) {
      this.rewrite(mine.name, holder);
      return true;
    }
    const name = `${PREFIX}${uuid}.${nodeCrypto().randomBytes(8).toString('hex')}.lock`;
    writeHolder(join(this.dir, name), holder, 'wx');
    const rival = readLocks(this.dir).some((f) => f.uuid === uuid && f.name !== name && holderAlive(f));
    if (rival) this.remove(name);
    return !rival;
  }

  /** Gives up my locks on these GPUs. */
  release(uuids: Iterable<string>): void {
    const set = new Set(uuids);
    for (const f of readLocks(this.dir)) if (set.has(f.uuid) && f.owner === myUid()) this.remove(f.name);
  }

  private rewrite(name: string, holder: LockHolder): void {
    const tmp = join(this.dir, `${name}.${nodeCrypto().randomBytes(4).toString('hex')}.tmp`);
    writeHolder(tmp, holder, 'wx');
    renameSync(tmp, join(this.dir, name)); // atomic: the file never names nobody
  }

  private remove(name: string): void {
    try {
      unlinkSync(join(this.dir, name));
    } catch {
      /* gone already */
    }
  }
}
