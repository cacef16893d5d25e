// The page's JavaScript stays within its budget (issue 14: gzip ≤ 150 KB), as `npm run build`
// makes it; and opening the dashboard loads only the entry chunk (the statecharts and the cron
// library are split off, loaded by the screens that need them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentPageDir } from '../src/services/web/web-static.js';
import { PAGE_JS_GZIP_BUDGET, pageJsGzipBytes } from './helpers/web-env.js';

test('the agent page: all its JavaScript within 150 KB gzip; index.html loads one entry chunk', () => {
  const sizes = pageJsGzipBytes(agentPageDir);
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  assert.ok(total <= PAGE_JS_GZIP_BUDGET, `${total} bytes gzip: ${JSON.stringify(sizes)}`);
  const html = readFileSync(join(agentPageDir, 'index.html'), 'utf8');
  const scripts = [...html.matchAll(/<script[^>]+src="\.\/assets\/([^"]+)"/g)].map((m) => m[1]!);
  assert.equal(scripts.length, 1, html);
  assert.ok(!/modulepreload/.test(html), 'no chunk preloaded beside the entry');
  assert.ok(Object.keys(sizes).some((f) => f.startsWith('cron-')), `the cron library is a chunk of its own: ${Object.keys(sizes)}`);
});
