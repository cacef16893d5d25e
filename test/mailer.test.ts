// The mailer against a real SMTP server (smtp-server on 127.0.0.1, random free port). What the
// server received is parsed by the minimal MIME reader in helpers/smtp.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SMTPServerOptions } from 'smtp-server';
import { findPart, freePort, parseMime, startSmtp } from './helpers/smtp.js';
import { createMailer, defaultFromAddress, MailerError } from '../src/services/mailer.js';
import { isLoopback as isLoopbackHost } from '../src/services/host/address.js';
import { renderJobEmail, type JobForEmail } from '../src/services/job-email.js';
import { createLogger } from '../src/services/logger.js';

// ---------- fixtures ----------

const job: JobForEmail = {
  job_id: '7d8e2c1a-0000-4000-8000-000000000001',
  script_path: '/home/taro/実験/学習.py',
  args: '--epochs 3 --name "テスト & <b>"',
  status: 'failed',
  retcode: 1,
  error: 'process exited with code 1',
  interpreter: '/home/taro/.venv/bin/python',
  created_at: '2025-03-01T09:59:00Z',
  started_at: '2025-03-01T10:00:00Z',
  finished_at: '2025-03-01T10:02:03Z',
  stdout_path: '/home/taro/lab_job_logs/7d8e/stdout.log',
  stderr_path: '/home/taro/lab_job_logs/7d8e/stderr.log',
  stdout_tail: 'epoch 1 損失 0.5\nepoch 2 損失 0.3\n',
  stderr_tail: 'Traceback: <script>alert("x")</script> & more\nValueError: 値が不正です\n',
  host: 'gpu1',
};

// ---------- tests ----------

test('a job email reaches a plain local MTA: envelope, headers, both bodies, escaping, Japanese', async () => {
  const smtp = await startSmtp({ disabledCommands: ['STARTTLS', 'AUTH'] });
  const mailer = createMailer({ host: '127.0.0.1', port: smtp.port, from: 'lab-agent@gpu1.example' });
  const email = renderJobEmail(job, { host: 'gpu1', timeZone: 'Asia/Tokyo' });
  const { messageId } = await mailer.send({ to: 'taro@example.com', ...email });
  mailer.close();
  assert.match(messageId, /^<.+@.+>$/);

  assert.equal(smtp.received.length, 1);
  const got = smtp.received[0]!;
  assert.equal(got.mailFrom, 'lab-agent@gpu1.example');
  assert.deepEqual(got.rcptTo, ['taro@example.com']);
  assert.equal(got.secure, false);

  const mail = parseMime(got.raw);
  assert.equal(mail.headers.get('from'), 'lab-agent@gpu1.example');
  assert.equal(mail.headers.get('to'), 'taro@example.com');
  assert.equal(mail.headers.get('subject'), '❌ 学習.py failed (exit 1, 2m 03s) on gpu1');
  assert.equal(mail.headers.get('message-id'), messageId);

  const text = findPart(mail, 'text/plain')?.body ?? '';
  assert.match(text, /Script:\s+\/home\/taro\/実験\/学習\.py/);
  assert.match(text, /Arguments:\s+--epochs 3 --name "テスト & <b>"/);
  assert.match(text, /Started:\s+2025-03-01 19:00:00 \+09:00 \(Asia\/Tokyo\)/);
  assert.match(text, /Duration:\s+2m 03s/);
  assert.ok(text.includes('ValueError: 値が不正です'));
  assert.ok(text.includes('epoch 2 損失 0.3'));
  assert.ok(text.includes('<script>alert("x")</script> & more'), 'the text body is not escaped');

  const html = findPart(mail, 'text/html')?.body ?? '';
  assert.ok(!html.includes('<script>'), 'no live <script> in the HTML body');
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more'));
  assert.ok(html.includes('テスト &amp; &lt;b&gt;'));
  assert.ok(html.includes('値が不正です'));
  assert.ok(html.includes('/home/taro/lab_job_logs/7d8e/stderr.log'));
  assert.match(html, /<pre>epoch 1 損失 0\.5\nepoch 2 損失 0\.3<\/pre>/);
});

test('STARTTLS offered with a self-signed certificate: opportunistic TLS upgrades and delivers', async () => {
  const smtp = await startSmtp(); // smtp-server offers STARTTLS with its bundled self-signed cert
  const mailer = createMailer({ host: '127.0.0.1', port: smtp.port, from: 'a@b.example' });
  await mailer.verify();
  await mailer.send({ to: 'x@example.com', subject: 's', text: 't', html: '<p>t</p>' });
  assert.equal(smtp.received.length, 1);
  assert.equal(smtp.received[0]!.secure, true);
});

test('a failed STARTTLS handshake falls back to plaintext when TLS is not required', async () => {
  const smtp = await startSmtp();
  // verifying the self-signed certificate makes the handshake fail
  const mailer = createMailer({ host: '127.0.0.1', port: smtp.port, from: 'a@b.example', tlsVerify: true });
  await mailer.send({ to: 'x@example.com', subject: 's', text: 't', html: '<p>t</p>' });
  assert.equal(smtp.received.length, 1);
  assert.equal(smtp.received[0]!.secure, false);
});

test('from defaults to <linux user>@<hostname>', async () => {
  const smtp = await startSmtp({ disabledCommands: ['STARTTLS'] });
  const mailer = createMailer({ host: '127.0.0.1', port: smtp.port, from: '' });
  await mailer.send({ to: 'x@example.com', subject: 's', text: 't', html: '<p>t</p>' });
  assert.match(defaultFromAddress(), /^[^@\s]+@[^@\s]+$/);
  assert.equal(smtp.received[0]!.mailFrom, defaultFromAddress());
});

const USER = 'taro';
const PASS = 'S3cr3t-p@ss!';
const authServer = (extra: SMTPServerOptions = {}) =>
  startSmtp({
    authOptional: false,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === USER && auth.password === PASS) callback(null, { user: USER });
      else callback(new Error('Invalid username or password'));
    },
    ...extra,
  });

test('AUTH with user and password is accepted by a server that requires it', async () => {
  const smtp = await authServer({ disabledCommands: ['STARTTLS'] });
  const mailer = createMailer({ host: '127.0.0.1', port: smtp.port, user: USER, pass: PASS, from: 'a@b.example' });
  await mailer.verify();
  await mailer.send({ to: 'x@example.com', subject: 's', text: 't', html: '<p>t</p>' });
  assert.equal(smtp.received.length, 1);
  assert.equal(smtp.received[0]!.user, USER);
});

test('AUTH also works after a STARTTLS upgrade', async () => {
  const smtp = await authServer();
  const mailer = createMailer({ host: '127.0.0.1', port: smtp.port, user: USER, pass: PASS, from: 'a@b.example' });
  await mailer.send({ to: 'x@example.com', subject: 's', text: 't', html: '<p>t</p>' });
  assert.equal(smtp.received[0]!.secure, true);
  assert.equal(smtp.received[0]!.user, USER);
});

test('a wrong password fails with an error that does not carry the password', async () => {
  const smtp = await authServer({ disabledCommands: ['STARTTLS'] });
  const wrong = 'Wr0ng-p@ssw0rd';
  const logLines: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (line: string) => void logLines.push(line) } });
  const mailer = createMailer({ host: '127.0.0.1', port: smtp.port, user: USER, pass: wrong, from: 'a@b.example', logger });
  const secrets = [wrong, Buffer.from(wrong).toString('base64'), Buffer.from(`\0${USER}\0${wrong}`).toString('base64')];
  for (const attempt of [() => mailer.send({ to: 'x@example.com', subject: 's', text: 't', html: 'h' }), () => mailer.verify()]) {
    const err = await attempt().then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof MailerError);
    assert.equal(err.code, 'EAUTH');
    assert.equal(err.responseCode, 535);
    assert.match(err.message, /Invalid login/);
    const everything = `${err.message} ${err.stack ?? ''} ${JSON.stringify(err)} ${String(err.cause ?? '')}`;
    for (const s of secrets) assert.ok(!everything.includes(s), `error must not contain ${s}`);
  }
  assert.ok(logLines.some((l) => l.includes('mail not sent') && l.includes('EAUTH')), 'the failure is logged');
  for (const s of secrets) assert.ok(!logLines.join('').includes(s), `log must not contain ${s}`);
  assert.equal(smtp.received.length, 0);
});

test('requireTLS refuses to send credentials to a server without STARTTLS', async () => {
  const smtp = await authServer({ disabledCommands: ['STARTTLS'] });
  const mailer = createMailer({ host: '127.0.0.1', port: smtp.port, user: USER, pass: PASS, from: 'a@b.example', requireTLS: true });
  await assert.rejects(mailer.send({ to: 'x@example.com', subject: 's', text: 't', html: 'h' }), (e: unknown) => {
    assert.ok(e instanceof MailerError);
    assert.equal(e.code, 'ETLS');
    assert.match(e.message, /STARTTLS/);
    assert.ok(!e.message.includes(PASS));
    return true;
  });
  assert.equal(smtp.received.length, 0);
});

test('server down: send rejects with a clear error; once the server is back, send works', async () => {
  const port = await freePort();
  const mailer = createMailer({ host: '127.0.0.1', port, from: 'a@b.example' });
  const msg = { to: 'x@example.com', subject: 'back up', text: 't', html: '<p>t</p>' };

  await assert.rejects(mailer.send(msg), (e: unknown) => {
    assert.ok(e instanceof MailerError);
    assert.equal(e.code, 'ESOCKET');
    assert.equal(e.systemCode, 'ECONNREFUSED');
    assert.equal(e.permanent, false);
    assert.match(e.message, new RegExp(`SMTP send via 127\\.0\\.0\\.1:${port} failed`));
    assert.match(e.message, /ECONNREFUSED/);
    return true;
  });

  const smtp = await startSmtp({ disabledCommands: ['STARTTLS'] }, port);
  await mailer.send(msg);
  assert.equal(smtp.received.length, 1);
  assert.equal(parseMime(smtp.received[0]!.raw).headers.get('subject'), 'back up');
});

test('isLoopbackHost', () => {
  for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]', 'LOCALHOST']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['smtp.example.com', '10.0.0.1', '::', 'localhost.example.com']) assert.equal(isLoopbackHost(h), false, h);
});
