// The job log folder (LAB_LOG_DIR), checked before each start. A folder that is a file, cannot be
// made, or has no room cannot be fixed by trying again: the job fails once with what to do, in
// the member's words, rather than being released and retried three times as an agent fault.
import { mkdir, stat, statfs } from 'node:fs/promises';
import { tildify } from '../doctor/types.js';
import { JobInputError } from './errors.js';
import { formatBytes } from './exec-limits.js';

/** Room a job needs to start: its folder, command and pid records, the exit record's reserve, first logs. */
const MIN_FREE_BYTES = 1 << 20;

/** The refusal for a full disk, also used when a write while starting fails with ENOSPC. */
export function noSpaceError(folder: string, home: string, free: number | null): JobInputError {
  const shown = tildify(folder, home);
  const room = free === null ? '' : ` (${formatBytes(free)} free; a job needs at least ${formatBytes(MIN_FREE_BYTES)})`;
  return new JobInputError(`no space left on ${shown}${room}: the job was not started; free some space there (old runs' logs are in ${shown}) and submit it again`);
}

export const isNoSpace = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === 'ENOSPC';

export async function checkLogFolder(folder: string, home: string): Promise<void> {
  const shown = tildify(folder, home);
  const info = await stat(folder).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    if (err.code === 'ENOTDIR') throw new JobInputError(`${shown} cannot be a folder: a part of its path is a file; set LAB_LOG_DIR to a folder`);
    throw new JobInputError(`${shown} cannot be used for job logs: ${err.code ?? err.message}`);
  });
  if (info && !info.isDirectory()) {
    throw new JobInputError(`${shown} is a file, not a folder: the job logs go there; move the file away, or set LAB_LOG_DIR to a folder`);
  }
  if (!info) {
    await mkdir(folder, { recursive: true, mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (isNoSpace(err)) throw noSpaceError(folder, home, null);
      const why = err.code === 'EACCES' ? 'permission denied' : err.code === 'EROFS' ? 'the file system is read-only' : err.code === 'ENOTDIR' ? 'a part of its path is a file' : (err.code ?? err.message);
      throw new JobInputError(`the log folder ${shown} cannot be created: ${why}; create it yourself or set LAB_LOG_DIR to a folder you can write`);
    });
  }
  const fs = await statfs(folder).catch(() => null);
  if (!fs) return; // statfs unsupported: the start itself will tell
  const free = fs.bavail * fs.bsize;
  if (free < MIN_FREE_BYTES) throw noSpaceError(folder, home, free);
}
