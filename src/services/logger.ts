// The agent's logger: pino JSON lines (to the agent log or stderr), secrets redacted, and readable
// lines on a terminal. pino itself is loaded on the first line a logger writes at its level: an
// idle cron tick writes none, and loading pino was a fifth of its CPU (BENCHMARKS.md, issue 12).
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import type { Logger as PinoLogger, DestinationStream, StreamEntry } from 'pino';
import { formatTime } from './time-format.js';

type LogFn = { (obj: object, msg?: string, ...args: unknown[]): void; (msg: string, ...args: unknown[]): void };

/** What the agent's code logs through (a subset of pino's logger, which writes the lines). */
export interface Logger {
  readonly level: string;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

/** Keys whose values never reach a log line. */
const REDACTED_KEYS = ['token', 'password', 'pass', 'SMTP_PASS', 'SUPABASE_SERVICE_KEY', 'SUPABASE_ANON_KEY', 'access_token', 'refresh_token', 'apikey', 'authorization'];

export interface LoggerOptions {
  level?: string;
  /** JSON lines go here (the agent log); defaults to stderr. */
  destination?: DestinationStream;
  /** Also print readable lines on stderr (when it is a terminal). */
  pretty?: boolean;
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

/** One JSON log line as a person reads it: "12:03:04 INFO job started job=… pid=…" (the clock in the member's zone). */
function prettyLine(json: string): string {
  try {
    const o = JSON.parse(json) as Record<string, unknown>;
    const time = formatTime(new Date(Number(o.time)), undefined, 'cell').slice(11); // the time of day; the terminal is the member's
    const extra = Object.entries(o)
      .filter(([k]) => !SKIP.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${time} ${LEVELS[Number(o.level)] ?? o.level} ${o.msg ?? ''}${extra ? ` ${extra}` : ''}\n`;
  } catch {
    return json;
  }
}

function prettyStderr(): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) process.stderr.write(prettyLine(line));
      done();
    },
  });
}

const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
type Method = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

// In the bundle (scripts/bundle.mjs) esbuild turns this literal require('pino') into pino's
// bundled code, run only when called; unbundled (tsc's dist/, tsx) createRequire loads it.
const loadPino = (): typeof import('pino') => (typeof require === 'function' ? require('pino') : createRequire(import.meta.url)('pino'));

/** A logger that makes its pino logger on the first line at or above its level. */
class LazyLogger implements Logger {
  private made: PinoLogger | null = null;
  private readonly threshold: number;
  // Own properties, not prototype methods: a spread copy ({ ...log, error }) keeps them, as with pino.
  readonly trace: LogFn = (...args: unknown[]) => this.write('trace', args);
  readonly debug: LogFn = (...args: unknown[]) => this.write('debug', args);
  readonly info: LogFn = (...args: unknown[]) => this.write('info', args);
  readonly warn: LogFn = (...args: unknown[]) => this.write('warn', args);
  readonly error: LogFn = (...args: unknown[]) => this.write('error', args);
  readonly fatal: LogFn = (...args: unknown[]) => this.write('fatal', args);

  constructor(readonly level: string, private readonly make: () => PinoLogger) {
    this.threshold = LEVEL_VALUES[level] ?? 0;
  }

  pino(): PinoLogger {
    return (this.made ??= this.make());
  }

  private write(method: Method, args: unknown[]): void {
    if (LEVEL_VALUES[method]! < this.threshold) return;
    const log = this.pino();
    (log[method] as (...a: unknown[]) => void).apply(log, args);
  }

  child(bindings: Record<string, unknown>): Logger {
    return new LazyLogger(this.level, () => this.pino().child(bindings));
  }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const logger = new LazyLogger(level, () => {
    const { pino, multistream } = loadPino();
    const redact = { paths: REDACTED_KEYS.flatMap((k) => [k, `*.${k}`]), censor: '[redacted]' };
    const streams: StreamEntry[] = [{ level: level as 'info', stream: opts.destination ?? pino.destination(2) }];
    if (opts.pretty) streams.push({ level: level as 'info', stream: prettyStderr() });
    return pino({ level, redact, base: { pid: process.pid } }, streams.length === 1 ? streams[0]!.stream : multistream(streams));
  });
  if (!(level in LEVEL_VALUES)) logger.pino(); // pino's own error for a level it does not know, at once
  return logger;
}

/** A logger that drops everything: for library calls that take an optional logger. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
