// The agent's logger: pino JSON lines (to the agent log or stderr), secrets redacted, and readable
// lines on a terminal.
import { Writable } from 'node:stream';
import { pino, multistream, type Logger, type DestinationStream, type StreamEntry } from 'pino';
import { formatTime } from './time-format.js';

export type { Logger };

/** Keys whose values never reach a log line. */
export const REDACTED_KEYS = ['token', 'password', 'pass', 'SMTP_PASS', 'SUPABASE_SERVICE_KEY', 'SUPABASE_ANON_KEY', 'access_token', 'refresh_token', 'apikey', 'authorization'];

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
export function prettyLine(json: string): string {
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

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const redact = { paths: REDACTED_KEYS.flatMap((k) => [k, `*.${k}`]), censor: '[redacted]' };
  const streams: StreamEntry[] = [{ level: level as 'info', stream: opts.destination ?? pino.destination(2) }];
  if (opts.pretty) streams.push({ level: level as 'info', stream: prettyStderr() });
  return pino({ level, redact, base: { pid: process.pid } }, streams.length === 1 ? streams[0]!.stream : multistream(streams));
}

/** A logger that drops everything: for library calls that take an optional logger. */
export const silentLogger: Logger = pino({ level: 'silent' });
