// A file the member named that cannot be read or written (`viz -o /root/x.svg`): one line with the
// path and the reason in words, not Node's `Error: EACCES …` and its stack.

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a folder',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the disk',
  EDQUOT: 'your disk quota is used up',
  EEXIST: 'it already exists',
  ENAMETOOLONG: 'the name is too long',
};

/** "cannot write /x/y.svg: permission denied (EACCES)", or null when `err` is not about one path. */
export function fileProblem(err: unknown): string | null {
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e.path !== 'string' || !e.code || !(e.code in REASONS)) return null;
  const verb = e.syscall === 'open' || e.syscall === 'write' ? 'cannot open' : e.syscall ? `cannot ${e.syscall}` : 'cannot use';
  return `${verb} ${e.path}: ${REASONS[e.code]} (${e.code})`;
}
