// Errors from starting a Jupyter server, with a machine-readable kind for the session machine.
import { readTail } from '../host/tail.js';

export type JupyterErrorKind =
  | 'not-found' // the jupyter executable (or the root dir) does not exist / is not executable
  | 'spawn' // the OS refused to start it
  | 'exited' // it started, then exited before answering
  | 'timeout' // alive but not healthy in time
  | 'invalid'; // bad options (session id, token, port ...)

export class JupyterError extends Error {
  override readonly name = 'JupyterError';
  constructor(
    readonly kind: JupyterErrorKind,
    message: string,
    /** Last lines of the server log (token scrubbed), when there is one. */
    readonly logTail?: string,
  ) {
    super(logTail ? `${message}\n--- last lines of the Jupyter log ---\n${logTail}` : message);
  }
}

/**
 * The end of a log (runner/tail.ts: a bounded read, never the whole file) with every occurrence
 * of each secret replaced, so it can go into an error message and a database row.
 */
export async function scrubbedTail(file: string, secrets: string[], maxLines = 20): Promise<string> {
  let text = await readTail(file, { maxLines, maxBytes: 16384 });
  for (const secret of secrets) if (secret) text = text.split(secret).join('[redacted]');
  return text.trimEnd();
}
