import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line. */
export const REDACTED_KEYS = ['token', 'password', 'SMTP_PASS', 'SUPABASE_SERVICE_KEY', 'SUPABASE_ANON_KEY', 'access_token', 'refresh_token', 'apikey', 'authorization'];

export interface LoggerOptions {
  level?: string;
  /** Where JSON lines go; defaults to stderr (stdout is kept for command output). */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const redact = { paths: REDACTED_KEYS.flatMap((k) => [k, `*.${k}`]), censor: '[redacted]' };
  return pino({ level: opts.level ?? 'info', redact, base: { pid: process.pid } }, opts.destination ?? pino.destination(2));
}

/** A logger that drops everything: for library calls that take an optional logger. */
export const silentLogger: Logger = pino({ level: 'silent' });
