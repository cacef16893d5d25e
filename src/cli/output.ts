// How commands talk to the user: text or --json on stdout, errors on stderr, exit codes 0/1/2.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure the user should read as is (no stack): exit 1. */
export class CliFailure extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliFailure';
  }
}

export interface Output {
  json: boolean;
  /** Prints data: as JSON with --json, else through the text renderer. */
  data<T>(value: T, text: (value: T) => string): void;
  line(text: string): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    data(value, text) {
      process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text(value)}\n`);
    },
    line(text) {
      if (!json) process.stdout.write(`${text}\n`);
    },
  };
}

/** A plain table: columns padded to the widest cell. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length))).join('  '))
    .join('\n');
}

/** One line of at most `max` characters: a longer text, or one of several lines, ends in "…". */
export function shorten(text: string, max: number): string {
  const lines = text.trim().split('\n');
  const first = [...lines[0]!.trimEnd()];
  if (first.length <= max && lines.length === 1) return first.join('');
  return `${first.slice(0, max - 1).join('').trimEnd()}…`;
}

/** A --limit style option: a positive whole number, or the default when absent. */
export function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} takes a positive whole number`);
  return n;
}

/** A byte count as people read it: 512 B, 3.4 KB, 12 MB (also on the dashboard). */
export function size(n: number | null): string {
  if (n === null) return '-';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}
