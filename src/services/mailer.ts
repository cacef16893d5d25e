// SMTP mailer over nodemailer: one short-lived connection per message, so a tick that sends one
// notification opens, sends and closes; or, for the agent, one connection kept for every message
// (`pool`), closed with close(). Defaults follow the original agent
// (SMTP_HOST=localhost, SMTP_PORT=25, plain local MTA, no auth).
//
// TLS policy:
// - `secure` (implicit TLS, port 465): certificate verified.
// - otherwise STARTTLS is used when the server offers it (opportunistic). A plain local MTA
//   often offers STARTTLS with a self-signed "snakeoil" certificate; refusing it would mean no
//   mail at all, and the alternative to unverified TLS is plaintext, so for unauthenticated mail
//   and for a loopback server the certificate is NOT verified. Should the TLS handshake itself
//   fail, the message is retried once in plaintext, as MTAs do for opportunistic TLS.
// - with user/pass to a non-loopback host the password must not cross the network in the clear
//   nor go to an impostor: STARTTLS is required and the certificate verified (both overridable).
import os from 'node:os';
import { isLoopback } from './host/address.js';
import nodemailer from 'nodemailer';
import type { SMTPTransportOptions } from 'nodemailer';
import type { Logger } from './logger.js';

export interface MailerOptions {
  /** SMTP server; default 'localhost' (SMTP_HOST). */
  host?: string;
  /** Default 25 (SMTP_PORT). */
  port?: number;
  /** Implicit TLS from the first byte; defaults to true only for port 465. */
  secure?: boolean;
  user?: string;
  pass?: string;
  /** Sender; empty or missing → `<linux user>@<hostname>` (the original's LAB_FROM_EMAIL fallback). */
  from?: string;
  logger?: Logger;
  /** Fail unless the session is encrypted (STARTTLS). Default: credentials to a non-loopback host. */
  requireTLS?: boolean;
  /** Verify the server certificate. Default: `secure`, or credentials to a non-loopback host. */
  tlsVerify?: boolean;
  /** Connection, greeting and DNS timeout in ms (default 10 s); idle socket timeout is twice this. */
  timeoutMs?: number;
  /**
   * Keep one connection open and send every message over it (a long-running agent): no TCP and
   * STARTTLS handshake per message. Then close() must be called for the process to exit.
   */
  pool?: boolean;
}

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** A fixed Message-ID (messageIdFor): a resend after a crash is then the same message, which mail systems drop. */
  messageId?: string;
}


export interface Mailer {
  send(msg: MailMessage): Promise<{ messageId: string }>;
  /** Connects (and authenticates when configured) without sending anything. */
  verify(): Promise<void>;
  close(): void;
}

/** Error from the mailer: message and fields scrubbed of the password; no raw cause attached. */
export class MailerError extends Error {
  override name = 'MailerError';
  constructor(
    message: string,
    /** nodemailer's code: ESOCKET, ECONNECTION, ETIMEDOUT, EAUTH, ETLS, EENVELOPE, EMESSAGE ... */
    readonly code: string | undefined,
    /** The system or TLS code underneath, e.g. ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED. */
    readonly systemCode: string | undefined,
    /** SMTP reply code when the server answered. */
    readonly responseCode: number | undefined,
    /** True for a 5xx reply: retrying the same message will not help. */
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

const DEFAULT_SMTP_HOST = 'localhost';
const DEFAULT_SMTP_PORT = 25;
const DEFAULT_TIMEOUT_MS = 10_000;
// OpenSSL / Node TLS error codes (verification and handshake), as seen in err.originalCode
const TLS_ERROR_CODE = /^(ERR_SSL_|ERR_TLS_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH|EPROTO$)/;

/** `<linux user>@<hostname>`, the original agent's sender when LAB_FROM_EMAIL is empty. */
export function defaultFromAddress(): string {
  let user = process.env.USER || process.env.LOGNAME || '';
  try {
    user = os.userInfo().username || user;
  } catch {
    // no passwd entry (some containers): keep the environment's name
  }
  return `${user || 'lab-agent'}@${os.hostname()}`;
}

export function createMailer(opts: MailerOptions = {}): Mailer {
  const host = opts.host?.trim() || DEFAULT_SMTP_HOST;
  const port = opts.port ?? DEFAULT_SMTP_PORT;
  const secure = opts.secure ?? port === 465;
  const from = opts.from?.trim() || defaultFromAddress();
  const user = opts.user || undefined;
  const pass = opts.pass || undefined;
  const hasAuth = user !== undefined;
  const remoteAuth = hasAuth && !isLoopback(host);
  const requireTLS = !secure && (opts.requireTLS ?? remoteAuth);
  const tlsVerify = opts.tlsVerify ?? (secure || remoteAuth);
  const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const log = opts.logger;
  const where = `${host}:${port}`;

  const base: SMTPTransportOptions = {
    host,
    port,
    secure,
    requireTLS,
    // a server that answers STARTTLS with an error still gets the mail, in plaintext
    opportunisticTLS: !requireTLS,
    tls: { rejectUnauthorized: tlsVerify },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    dnsTimeout: timeout,
    socketTimeout: timeout * 2,
    ...(opts.pool ? { pool: true, maxConnections: 1 } : {}),
    // nodemailer's own logging stays off: it is chatty and we log one line per send ourselves
    logger: false,
    debug: false,
    ...(hasAuth ? { auth: { user, pass: pass ?? '' } } : {}),
  };

  const transport = nodemailer.createTransport(base);
  // built only when the opportunistic STARTTLS handshake fails
  let plainTransport: typeof transport | undefined;

  const secrets = secretForms(user, pass);
  const scrub = (s: string): string => secrets.reduce((acc, secret) => acc.split(secret).join('[redacted]'), s);

  function toMailerError(action: string, err: unknown): MailerError {
    const e = (err ?? {}) as { message?: unknown; code?: unknown; originalCode?: unknown; responseCode?: unknown; permanent?: unknown };
    const code = typeof e.code === 'string' ? e.code : undefined;
    const systemCode = typeof e.originalCode === 'string' ? e.originalCode : undefined;
    const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
    let detail = scrub(String(e.message ?? err)).trim();
    if (code === 'ETLS' && requireTLS && opts.requireTLS === undefined) detail += ' (STARTTLS is required: credentials are set for a non-loopback host)';
    return new MailerError(
      `SMTP ${action} via ${where} failed${code ? ` [${[code, systemCode].filter(Boolean).join('/')}]` : ''}: ${detail}`,
      code,
      systemCode,
      responseCode,
      e.permanent === true || (responseCode !== undefined && responseCode >= 500),
    );
  }

  // STARTTLS offered but the upgrade failed (old TLS, a certificate that fails verification):
  // retry in plaintext unless encryption is required, so never for credentials to a remote host
  // by default. The failure comes before MAIL FROM, so the message cannot be sent twice.
  // nodemailer reports a handshake failure as ESOCKET with the TLS code in originalCode.
  function canFallBack(err: unknown): boolean {
    if (secure || requireTLS) return false;
    const e = err as { code?: unknown; originalCode?: unknown } | null;
    if (e?.code === 'ETLS') return true;
    return e?.code === 'ESOCKET' && typeof e.originalCode === 'string' && TLS_ERROR_CODE.test(e.originalCode);
  }

  function plain() {
    plainTransport ??= nodemailer.createTransport({ ...base, ignoreTLS: true, opportunisticTLS: false });
    return plainTransport;
  }

  return {
    async send(msg) {
      const mail = { from, to: msg.to, subject: msg.subject, text: msg.text, html: msg.html, ...(msg.messageId ? { messageId: msg.messageId } : {}) };
      try {
        let info;
        try {
          info = await transport.sendMail(mail);
        } catch (err) {
          if (!canFallBack(err)) throw err;
          log?.warn({ smtp: where, code: (err as { originalCode?: unknown }).originalCode }, 'STARTTLS failed; sending without TLS');
          info = await plain().sendMail(mail);
        }
        log?.info({ smtp: where, to: msg.to, messageId: info.messageId }, 'mail sent');
        return { messageId: info.messageId };
      } catch (err) {
        const e = toMailerError('send', err);
        log?.warn({ smtp: where, to: msg.to, code: e.code, systemCode: e.systemCode, responseCode: e.responseCode, error: e.message }, 'mail not sent');
        throw e;
      }
    },

    async verify() {
      try {
        try {
          await transport.verify();
        } catch (err) {
          if (!canFallBack(err)) throw err;
          await plain().verify();
        }
      } catch (err) {
        throw toMailerError('verify', err);
      }
    },

    // without a pool each send has its own connection, closed when it ends; this releases the rest
    close() {
      transport.close();
      plainTransport?.close();
      plainTransport = undefined;
    },
  };
}

/** The password as it may appear on the wire or in a server echo: raw, and in SASL base64 forms. */
function secretForms(user: string | undefined, pass: string | undefined): string[] {
  if (!pass) return [];
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const forms = [pass, b64(pass), encodeURIComponent(pass)];
  if (user !== undefined) forms.push(b64(`\u0000${user}\u0000${pass}`), b64(`${user}\u0000${user}\u0000${pass}`));
  // longest first so a base64 form is not half-replaced by a shorter one it contains
  return [...new Set(forms)].filter((f) => f.length > 0).sort((a, b) => b.length - a.length);
}
