import { open } from 'node:fs/promises';

export interface TailOptions {
  /** At most this many lines (default 50). */
  maxLines?: number;
  /** At most this many bytes of the file (default 8192). */
  maxBytes?: number;
}

/**
 * The end of a log file: its last `maxLines` lines or last `maxBytes` bytes, whichever is
 * shorter. Reads only the last `maxBytes` bytes with one positioned read, so the file's size
 * does not matter. A missing file gives ''. A UTF-8 character cut at either end is dropped
 * rather than shown as U+FFFD, and NUL characters are removed (PostgreSQL text cannot hold them).
 */
export async function readTail(path: string, opts: TailOptions = {}): Promise<string> {
  const maxLines = opts.maxLines ?? 50;
  const maxBytes = opts.maxBytes ?? 8192;
  if (maxLines <= 0 || maxBytes <= 0) return '';
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    let got = 0;
    // a read may return short (e.g. the file is being truncated); stop at EOF
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    let bytes: Buffer = buf.subarray(0, got);
    if (start > 0) bytes = dropLeadingContinuation(bytes);
    bytes = dropTrailingPartial(bytes);
    return lastLines(bytes.toString('utf8'), maxLines).replace(/\0/g, '');
  } finally {
    await fh.close();
  }
}

/** Skips the continuation bytes (10xxxxxx) of a character whose first bytes lie before the cut. */
function dropLeadingContinuation(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length && i < 3 && (b[i]! & 0xc0) === 0x80) i++;
  return b.subarray(i);
}

/** Drops an incomplete character at the end (a writer caught mid-character). */
function dropTrailingPartial(b: Buffer): Buffer {
  // find the start of the last character within the last 4 bytes
  for (let back = 1; back <= Math.min(4, b.length); back++) {
    const byte = b[b.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation: keep looking for the lead byte
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? b.subarray(0, b.length - back) : b;
  }
  return b;
}

function lastLines(text: string, maxLines: number): string {
  // a final newline ends the last line; it does not start an empty one
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  let pos = body.length;
  for (let n = 0; n < maxLines; n++) {
    if (pos === 0) return text;
    const nl = body.lastIndexOf('\n', pos - 1);
    if (nl < 0) return text;
    pos = nl;
  }
  return text.slice(pos + 1);
}
