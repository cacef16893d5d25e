// Files the page reads from this server: a job's full logs (paged, from any byte), its executed
// notebook, a script's parameters cell. Paths come from rows the member can write, so each is
// resolved and must lie inside the folder it belongs to (the job's log folder, the home).
import { open, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';

export class FileRefused extends Error {
  constructor(message: string, readonly status = 404) {
    super(message);
  }
}

/** The real path of `path`, which must lie under `root`; null when it does not exist. */
export async function containedPath(path: string, root: string): Promise<string | null> {
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return null;
  }
  const realRoot = await realpath(root).catch(() => root);
  if (!real.startsWith(realRoot + sep)) throw new FileRefused(`${path} is outside ${root}`, 403);
  return real;
}

export interface LogChunk {
  /** Byte offsets of the text in the file: [from, to). */
  from: number;
  to: number;
  size: number;
  text: string;
}

/** Most bytes one request reads. */
const MAX_CHUNK = 256 * 1024;

const isContinuation = (b: number) => (b & 0xc0) === 0x80;

/** Length of `buf` without a UTF-8 sequence cut off at its end. */
function completeLength(buf: Buffer): number {
  let i = buf.length - 1;
  let back = 0;
  while (i >= 0 && back < 3 && isContinuation(buf[i]!)) {
    i--;
    back++;
  }
  if (i < 0) return buf.length;
  const lead = buf[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return buf.length - i >= need ? buf.length : i;
}

/**
 * Reads [from, from + max) of a log, or with `tail` its last `tail` bytes; chunk edges move so
 * that no UTF-8 character is cut (so paging through a file never shows a broken character).
 */
export async function readLogChunk(path: string, opts: { from?: number; max?: number; tail?: number }): Promise<LogChunk> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const max = Math.min(Math.max(1, opts.max ?? opts.tail ?? MAX_CHUNK), MAX_CHUNK);
    let from = opts.tail !== undefined ? Math.max(0, size - max) : Math.min(Math.max(0, opts.from ?? 0), size);
    const buf = Buffer.alloc(Math.min(max, size - from));
    const { bytesRead } = await fh.read(buf, 0, buf.length, from);
    let body = buf.subarray(0, bytesRead);
    // Starting inside a character: skip to the next one.
    let skip = 0;
    while (skip < body.length && skip < 3 && from > 0 && isContinuation(body[skip]!)) skip++;
    body = body.subarray(skip);
    from += skip;
    const keep = from + body.length < size ? completeLength(body) : body.length;
    return { from, to: from + keep, size, text: body.subarray(0, keep).toString('utf8') };
  } finally {
    await fh.close();
  }
}

/** A job's file by name inside its own log folder ({logDir}/{job_id}), or null when it is not here. */
export async function jobFile(logDir: string, jobId: string, name: string): Promise<string | null> {
  return containedPath(join(logDir, jobId, name), join(logDir, jobId));
}

/** Reads a whole file of at most `limit` bytes (notebooks); refuses a bigger one with a message. */
export async function readSmallFile(path: string, limit: number, what: string): Promise<string> {
  const s = await stat(path);
  if (s.size > limit) throw new FileRefused(`${what} is ${Math.round(s.size / 1048576)} MiB, more than the ${Math.round(limit / 1048576)} MiB the page shows; open it with Jupyter`, 413);
  const fh = await open(path, 'r');
  try {
    return (await fh.readFile()).toString('utf8');
  } finally {
    await fh.close();
  }
}
