// The agent log with size-based rotation: agent.log, agent.log.1 (newest old one) … agent.log.<keep>.
// The original agent appended to one file forever from its cron line; this one stays bounded.
// Writes are synchronous: agent logs are a few lines a second at most, and a line written before
// a crash (or a SIGKILL) is on disk. pino-roll would need a worker thread and is not installed.
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface RotatingFileOptions {
  /** Rotate before a write would take the file past this many bytes. */
  maxBytes: number;
  /** Rotated files kept besides the live one. */
  keep: number;
}

/** A pino destination (anything with write(string)); writes straight to the file, no buffering. */
export class RotatingFile {
  private fd: number | null = null;
  private ino = 0;

  constructor(readonly path: string, readonly opts: RotatingFileOptions) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.open();
  }

  private open(): void {
    this.fd = openSync(this.path, 'a', 0o600);
    this.ino = fstatSync(this.fd).ino;
  }

  private closeFd(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Current size of the live file; reopens it when another process rotated it away. */
  private currentSize(): number {
    try {
      const st = statSync(this.path);
      if (st.ino === this.ino && this.fd !== null) return st.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.closeFd();
    this.open();
    return fstatSync(this.fd!).size;
  }

  private rotate(): void {
    this.closeFd();
    // Oldest first, so each rename lands on a free name; the one past `keep` goes away.
    rmSync(`${this.path}.${this.opts.keep}`, { force: true });
    for (let i = this.opts.keep - 1; i >= 1; i--) {
      try {
        renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    try {
      renameSync(this.path, `${this.path}.1`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.open();
  }

  /** Writes one chunk now (pino hands over whole lines). */
  write(msg: string | Buffer): boolean {
    const chunk = typeof msg === 'string' ? Buffer.from(msg) : msg;
    const size = this.currentSize();
    // A file holding something rotates first; one line bigger than the limit still gets written.
    if (size > 0 && size + chunk.length > this.opts.maxBytes) this.rotate();
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd!, chunk, off);
    return true;
  }

  end(): void {
    this.closeFd();
  }
}

/** LAB_LOG_MAX_MB and LAB_LOG_KEEP as rotation options (fractions of a MB allowed). */
export function rotationOptions(values: Record<string, string>): RotatingFileOptions {
  const mb = Number(values.LAB_LOG_MAX_MB || '10');
  const keep = Number(values.LAB_LOG_KEEP || '5');
  return { maxBytes: Math.max(1024, Math.round(mb * 1024 * 1024)), keep: Math.max(1, Math.floor(keep)) };
}
