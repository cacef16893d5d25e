// The SMTP test server for test files: as smtp-server.ts, and every server started is closed
// after the file.
import { after } from 'node:test';
import type { SMTPServerOptions } from 'smtp-server';
import { startSmtp as start, type SmtpHooks, type TestSmtp } from './smtp-server.js';

export * from './smtp-server.js';

const servers: TestSmtp[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

export function startSmtp(options: SMTPServerOptions = {}, port = 0, hooks: SmtpHooks = {}): Promise<TestSmtp> {
  return start(options, port, { ...hooks, onStart: (s) => servers.push(s) });
}
