// One email and its record as one step: the store writes notified_at, the send runs, and the
// write is committed the moment the SMTP server has accepted the message (rpcCommittedAfter).
// A failed send (retried later) is told apart from the database's own failure (which fails the step).
// (No import of the mailer itself here: nodemailer is loaded only when there is mail to send.)
import type { MailMessage, Mailer } from '../mailer.js';

/**
 * The Message-ID of the one email about a job or a Jupyter session: derived from its id, so every
 * try sends the same message and a duplicate is recognisable (and dropped by mail clients).
 */
export function messageIdFor(kind: 'job' | 'jupyter' | 'sweep', id: string): string {
  return `<${kind}-${id}@lab-job-agent>`;
}

export type SendOutcome<T> = { sent: true; row: T } | { sent: false; error: Error };

export async function sendRecorded<T>(
  mailer: Mailer,
  message: MailMessage,
  record: (send: () => Promise<void>) => Promise<T>,
  afterSend: () => void = () => undefined,
): Promise<SendOutcome<T>> {
  let sendError: Error | null = null;
  try {
    const row = await record(async () => {
      try {
        await mailer.send(message);
      } catch (err) {
        sendError = err as Error;
        throw err;
      }
      afterSend();
    });
    return { sent: true, row };
  } catch (err) {
    if (sendError === null || err !== sendError) throw err;
    return { sent: false, error: sendError };
  }
}
