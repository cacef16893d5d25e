// A real SMTP server (smtp-server on 127.0.0.1, a free port) that keeps what it receives, and a
// minimal MIME reader for it (mailparser is not installed): headers, encoded words, multipart,
// quoted-printable and base64. No node:test here, so benches use it too; test files import
// ./smtp.js, which closes the servers after the file.
import net from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

// ---------- a real SMTP server that keeps what it receives ----------

export interface Received {
  mailFrom: string;
  rcptTo: string[];
  raw: string;
  secure: boolean;
  user: string | undefined;
  /** Date.now() when the server answered 250 (accepted it). */
  acceptedAt: number;
}

export interface TestSmtp {
  port: number;
  received: Received[];
  close(): Promise<void>;
}

export interface SmtpHooks {
  /** Runs when a message has arrived, before the server answers 250 (the moment it is accepted). */
  beforeAccept?: (message: Received) => Promise<void>;
  /** Told about every server started, to close it later. */
  onStart?: (server: TestSmtp) => void;
}

export async function startSmtp(options: SMTPServerOptions = {}, port = 0, hooks: SmtpHooks = {}): Promise<TestSmtp> {
  const received: Received[] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    ...options,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const message: Received = {
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
          user: typeof session.user === 'string' ? session.user : undefined,
          acceptedAt: 0,
        };
        void (hooks.beforeAccept?.(message) ?? Promise.resolve()).then(() => {
          message.acceptedAt = Date.now();
          received.push(message);
          callback();
        }, (err: Error) => callback(err));
      });
    },
  });
  server.on('error', () => {}); // client resets during the failure tests are expected
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.server.address() as net.AddressInfo;
  let closed = false;
  const handle: TestSmtp = {
    port: address.port,
    received,
    close: () =>
      closed
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            closed = true;
            server.close(() => resolve());
          }),
  };
  hooks.onStart?.(handle);
  return handle;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

// ---------- a minimal MIME reader: headers, encoded words, multipart, QP/base64 ----------

export interface Part {
  headers: Map<string, string>;
  body: string;
  parts: Part[];
}

function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[QqBb]\?[^?]*\?=)\s+(?==\?)/g, '$1') // whitespace between encoded words
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, _cs: string, enc: string, data: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64').toString('utf8')
        : qpBytes(data.replace(/_/g, ' ')).toString('utf8'),
    );
}

function qpBytes(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

export function parseMime(raw: string): Part {
  const split = raw.indexOf('\r\n\r\n');
  const head = split < 0 ? raw : raw.slice(0, split);
  const rest = split < 0 ? '' : raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), decodeWords(line.slice(colon + 1).trim()));
  }
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (type.toLowerCase().startsWith('multipart/') && boundary) {
    const sections = rest.split(`--${boundary}`).slice(1);
    const parts = sections.filter((s) => !s.startsWith('--')).map((s) => parseMime(s.replace(/^\r\n/, '')));
    return { headers, body: '', parts };
  }
  const cte = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  let body: string;
  if (cte === 'base64') body = Buffer.from(rest.replace(/\s+/g, ''), 'base64').toString('utf8');
  else if (cte === 'quoted-printable') body = qpBytes(rest.replace(/=\r\n/g, '')).toString('utf8');
  else body = rest;
  return { headers, body: body.replace(/\r\n/g, '\n'), parts: [] };
}

export function findPart(p: Part, mime: string): Part | undefined {
  if ((p.headers.get('content-type') ?? '').toLowerCase().startsWith(mime)) return p;
  for (const c of p.parts) {
    const hit = findPart(c, mime);
    if (hit) return hit;
  }
  return undefined;
}


/** The text/plain body, decoded subject and Message-ID of a received message. */
export function readMail(r: Received): { subject: string; text: string; html: string; to: string[]; messageId: string } {
  const mime = parseMime(r.raw);
  return {
    messageId: mime.headers.get('message-id') ?? '',
    subject: mime.headers.get('subject') ?? '',
    text: findPart(mime, 'text/plain')?.body ?? '',
    html: findPart(mime, 'text/html')?.body ?? '',
    to: r.rcptTo,
  };
}
