// Pure rendering: subjects, durations, times (test/time-format.test.ts has the format), HTML escaping, the Jupyter ready email.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatDuration,
  escapeHtml,
  renderJobEmail,
  renderJobSubject,
  renderJupyterEmail,
  type JobForEmail,
} from '../src/services/job-email.js';

const base: JobForEmail = {
  job_id: 'b1f0c7a2-1111-4000-8000-000000000002',
  script_path: '/home/hana/proj/train.py',
  args: '--lr 0.1',
  status: 'finished',
  retcode: 0,
  error: null,
  interpreter: '/usr/bin/python3',
  created_at: new Date('2025-06-01T00:00:00Z'),
  started_at: new Date('2025-06-01T00:00:10Z'),
  finished_at: new Date('2025-06-01T00:02:13Z'),
  stdout_path: '/home/hana/lab_job_logs/b1f0/stdout.log',
  stderr_path: '/home/hana/lab_job_logs/b1f0/stderr.log',
  stdout_tail: 'done\n',
  stderr_tail: '',
  host: 'gpu1',
};
const ctx = { host: 'agent-host', timeZone: 'UTC' };

test('formatDuration', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(999), '0s');
  assert.equal(formatDuration(5_000), '5s');
  assert.equal(formatDuration(59_999), '59s');
  assert.equal(formatDuration(60_000), '1m 00s');
  assert.equal(formatDuration(123_000), '2m 03s');
  assert.equal(formatDuration(3_600_000), '1h 00m 00s');
  assert.equal(formatDuration(3_723_000), '1h 02m 03s');
  assert.equal(formatDuration(86_400_000 * 2 + 3 * 3_600_000 + 4 * 60_000 + 59_000), '2d 03h 04m');
  assert.equal(formatDuration(-5), '0s');
  assert.equal(formatDuration(Number.NaN), '0s');
});

test('subject: mark, file name, exit code, duration, host', () => {
  assert.equal(renderJobSubject(base, ctx), '✅ train.py finished (exit 0, 2m 03s) on gpu1');
  assert.equal(
    renderJobSubject({ ...base, status: 'failed', retcode: 2, finished_at: '2025-06-01T00:00:15Z' }, ctx),
    '❌ train.py failed (exit 2, 5s) on gpu1',
  );
  // failed to start: no exit code, no run time
  assert.equal(
    renderJobSubject({ ...base, status: 'failed', retcode: null, started_at: null, error: 'interpreter not found' }, ctx),
    '❌ train.py failed (no exit code) on gpu1',
  );
  assert.equal(
    renderJobSubject({ ...base, status: 'cancelled', retcode: -15, finished_at: '2025-06-01T01:00:10Z' }, ctx),
    '🛑 train.py cancelled (exit -15, 1h 00m 00s) on gpu1',
  );
  assert.equal(
    renderJobSubject({ ...base, status: 'cancelled', retcode: null, started_at: null, finished_at: null }, ctx),
    '🛑 train.py cancelled (before start) on gpu1',
  );
  // the agent's host stands in when the row has none; a notebook keeps its extension
  assert.equal(
    renderJobSubject({ ...base, host: null, script_path: '/home/hana/nb/解析.ipynb' }, ctx),
    '✅ 解析.ipynb finished (exit 0, 2m 03s) on agent-host',
  );
  // a newline in a file name cannot split the header
  assert.equal(renderJobSubject({ ...base, script_path: '/x/a\nBcc: evil.py' }, ctx), '✅ a Bcc: evil.py finished (exit 0, 2m 03s) on gpu1');
});

test('escapeHtml', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('job email bodies: every field, tails in <pre>, escaped HTML', () => {
  const job: JobForEmail = {
    ...base,
    status: 'failed',
    retcode: 1,
    args: ['--tag', '<x>&y'],
    error: 'exit status 1 <oops>',
    stdout_tail: 'line 1\nline <2> & 3\n',
    stderr_tail: '<script>alert(1)</script>\n',
  };
  const { subject, text, html } = renderJobEmail(job, ctx);
  assert.equal(subject, '❌ train.py failed (exit 1, 2m 03s) on gpu1');
  for (const expected of [
    'Status:      failed (exit code 1)',
    'Script:      /home/hana/proj/train.py',
    'Arguments:   --tag <x>&y',
    'Interpreter: /usr/bin/python3',
    'Host:        gpu1',
    'Requested:   2025-06-01 00:00:00 +00:00 (UTC)',
    'Started:     2025-06-01 00:00:10 +00:00 (UTC)',
    'Ended:       2025-06-01 00:02:13 +00:00 (UTC)',
    'Duration:    2m 03s',
    `Job id:      ${base.job_id}`,
    'stdout log:  /home/hana/lab_job_logs/b1f0/stdout.log',
    'stderr log:  /home/hana/lab_job_logs/b1f0/stderr.log',
    'Error:\nexit status 1 <oops>',
    '--- stdout (last lines) ---\nline 1\nline <2> & 3\n',
    '--- stderr (last lines) ---\n<script>alert(1)</script>\n',
  ]) {
    assert.ok(text.includes(expected), `text has ${JSON.stringify(expected)}\n${text}`);
  }
  assert.ok(!html.includes('<script>'));
  assert.ok(!html.includes('<oops>'));
  assert.ok(html.includes('<pre>line 1\nline &lt;2&gt; &amp; 3</pre>'));
  assert.ok(html.includes('<pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre>'));
  assert.ok(html.includes('<pre>exit status 1 &lt;oops&gt;</pre>'));
  assert.ok(html.includes('--tag &lt;x&gt;&amp;y'));
  assert.ok(html.includes('/home/hana/lab_job_logs/b1f0/stderr.log'));
  assert.ok(html.includes('<title>❌ train.py failed (exit 1, 2m 03s) on gpu1</title>'));
});

test('job email: never started, no tails, no error section', () => {
  const { text, html } = renderJobEmail(
    { ...base, status: 'cancelled', retcode: null, started_at: null, finished_at: null, stdout_tail: null, stderr_tail: null, args: '' },
    ctx,
  );
  assert.match(text, /Started:\s+never started/);
  assert.match(text, /Arguments:\s+\(none\)/);
  assert.ok(!/Duration:/.test(text));
  assert.ok(!text.includes('Error:'));
  assert.ok(text.includes('--- stdout (last lines) ---\n(empty)'));
  assert.ok(!html.includes('<h3>Error</h3>'));
});

test('jupyter ready email: the recorded link, port, folder, how to stop; the tunnel a loopback server needs', () => {
  const url = 'http://gpu1:8801/lab?token=tok%26en%2F%3D1';
  const session = {
    session_id: 'c0ffee00-2222-4000-8000-000000000003',
    port: 8801,
    url,
    working_dir: '/home/hana/nb',
    host: 'gpu1',
    started_at: '2025-06-01T00:00:00Z',
  };
  const { subject, text, html } = renderJupyterEmail(session, ctx);
  assert.equal(subject, '🪐 Jupyter ready on gpu1:8801');
  assert.match(text, new RegExp(`URL:\\s+${url.replace(/[.?]/g, '\\$&')}`));
  assert.match(text, /Port:\s+8801/);
  assert.match(text, /Working dir:\s+\/home\/hana\/nb/);
  assert.ok(text.includes(`lab-agent jupyter stop ${session.session_id}`));
  assert.ok(!text.includes('ssh -N'));
  assert.ok(html.includes(`<a href="${url}">`));
  assert.ok(html.includes(`<pre>lab-agent jupyter stop ${session.session_id}</pre>`));

  // A loopback-only server: its own address in the link, and the tunnel spelled out.
  const tunnel = 'ssh -N -L 8801:127.0.0.1:8801 hana@gpu1';
  const local = renderJupyterEmail({ ...session, url: 'http://127.0.0.1:8801/lab?token=abc', tunnel }, ctx);
  assert.match(local.text, /URL:\s+http:\/\/127\.0\.0\.1:8801\/lab\?token=abc/);
  assert.ok(local.text.includes(`open a tunnel first:\n  ${tunnel}`));
  assert.ok(local.html.includes(`<pre>${tunnel}</pre>`));
});