// Script inventory, which parts of home may hang. A folder read or a stat on a network or FUSE
// file system whose server is gone blocks in the kernel, and a synchronous call there would
// freeze the whole agent; on a local disk it cannot hang, and the synchronous calls cost a third
// of the asynchronous ones (BENCHMARKS.md, `sync --dry-run`). So the scan reads
// /proc/self/mountinfo and walks the local part of home synchronously, the rest asynchronously
// under its time budget and hang guard.
import { readFileSync, realpath } from 'node:fs';
import { join, relative } from 'node:path';

/** File systems that live on this machine's own memory or disks: a read there cannot wait on a
 * server. Any other type is treated as one that may hang: nfs, nfs4, cifs, smb3, smbfs, afs,
 * 9p, ceph, glusterfs, lustre, gpfs, beegfs, davfs (a server on the network), fuse, fuseblk and
 * every fuse.* (sshfs, rclone, s3fs, gvfsd-fuse: a user-space daemon that may stall or die),
 * autofs (a read of its mount point mounts a network share on demand), and any type this list
 * does not know yet, so a new network file system is safe by default. */
const LOCAL_FS_TYPES: ReadonlySet<string> = new Set([
  'ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'zfs', 'f2fs', 'bcachefs', 'jfs', 'reiserfs', 'nilfs2',
  'tmpfs', 'ramfs', 'overlay', 'squashfs', 'erofs', 'iso9660', 'udf',
  'vfat', 'msdos', 'exfat', 'ntfs3', 'hfsplus',
]);

interface Mount {
  /** Where it is mounted, as the kernel names it (symlinks resolved). */
  mountPoint: string;
  fsType: string;
}

/** How to walk one home. */
export interface ScanPlan {
  /** Home itself is (or may be) on a file system that can hang: all of it is read asynchronously. */
  homeMayHang: boolean;
  /** Otherwise: the topmost hang-prone mounts inside home (absolute, under home as the scan names
   * it), each read asynchronously with all it contains. */
  asyncRoots: string[];
}

/** proc(5): a mount point's space, tab, newline and backslash are written as \040, \011, \012, \134. */
const unescapeOctal = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mounts of /proc/self/mountinfo text; null when a line is not understood (then nothing is
 * known, and everything is read asynchronously). Field 5 is the mount point; the file-system type
 * follows the optional fields' ' - ' separator. */
export function parseMountinfo(text: string): Mount[] | null {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || sep + 1 >= fields.length) return null;
    const mountPoint = unescapeOctal(fields[4]!);
    // Not valid UTF-8: it cannot be compared with the path the walk sees.
    if (!mountPoint.startsWith('/') || mountPoint.includes('\uFFFD')) return null;
    mounts.push({ mountPoint, fsType: fields[sep + 1]! });
  }
  return mounts.length ? mounts : null;
}

const isLocal = (fsType: string): boolean => LOCAL_FS_TYPES.has(fsType);
const within = (path: string, dir: string): boolean => dir === '/' ? path.startsWith('/') : path.startsWith(`${dir}/`);

/**
 * Which folders of `home` to read asynchronously. `realHome` is home with its symlinks resolved
 * (mount points are real paths); null, or mounts null: not known, so all of home.
 * A later mount on the same point hides the earlier one, so the last entry for a point counts.
 */
export function planScan(home: string, realHome: string | null, mounts: readonly Mount[] | null): ScanPlan {
  const all: ScanPlan = { homeMayHang: true, asyncRoots: [] };
  if (!mounts || !realHome) return all;
  const byPoint = new Map<string, string>();
  for (const m of mounts) byPoint.set(m.mountPoint, m.fsType);
  let homeFs: string | undefined;
  let homeFsPoint = '';
  for (const [point, fsType] of byPoint) {
    if ((point === realHome || within(realHome, point)) && point.length >= homeFsPoint.length) {
      homeFs = fsType;
      homeFsPoint = point;
    }
  }
  if (homeFs === undefined || !isLocal(homeFs)) return all;
  const hangProne = [...byPoint].filter(([point, fsType]) => !isLocal(fsType) && within(point, realHome)).map(([point]) => point).sort();
  // Topmost only: what is mounted inside a hang-prone mount is read with it. (Sorted, a mount's
  // parents come before it.)
  const topmost: string[] = [];
  for (const point of hangProne) if (!topmost.some((t) => within(point, t))) topmost.push(point);
  return { homeMayHang: false, asyncRoots: topmost.map((point) => join(home, relative(realHome, point))) };
}

/** The plan for this process's view of `home`. The mount table is read synchronously: the
 * kernel writes it from memory and never asks a file system. Resolving home's symlinks is a stat
 * that may hang, so it runs off the main thread and gives up after `timeoutMs` (then: all async). */
export function planScanHere(home: string, opts: { mountinfo?: string | null; timeoutMs: number }): Promise<ScanPlan> {
  let text = opts.mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      text = null;
    }
  }
  const mounts = text === null ? null : parseMountinfo(text);
  if (!mounts) return Promise.resolve(planScan(home, null, null));
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(planScan(home, null, null)), opts.timeoutMs);
    timer.unref();
    realpath.native(home, (err, real) => {
      clearTimeout(timer);
      resolve(planScan(home, err ? null : real, mounts));
    });
  });
}
