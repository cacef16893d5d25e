// Executables on this host: is a path one, and which one a PATH finds.
import { accessSync, statSync, constants as fsc } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** An executable regular file (following symlinks, as exec does). */
export function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `which`: the first executable `name` on `pathVar`. */
export function whichIn(name: string, pathVar: string | undefined): string | null {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue; // relative PATH entries would depend on the job's cwd
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}
