// One way to show a time (issue 15): the second, the member's zone (TZ, else the system's), the zone
// named. The format itself, the zone lookup, and a guard that nothing else in src/ formats times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { formatTime, memberTimeZone, timeHeading } from '../src/services/time-format.js';
import { repoRoot } from './helpers/required.js';

test('formatTime: the second, the offset and the zone named; ISO strings, database text and Dates alike', () => {
  assert.equal(formatTime('2025-06-01T00:00:10Z', 'UTC'), '2025-06-01 00:00:10 +00:00 (UTC)');
  assert.equal(formatTime(new Date('2025-06-01T00:00:10Z'), 'Asia/Tokyo'), '2025-06-01 09:00:10 +09:00 (Asia/Tokyo)');
  assert.equal(formatTime('2025-01-15T12:00:00Z', 'America/New_York'), '2025-01-15 07:00:00 -05:00 (America/New_York)');
  assert.equal(formatTime('2025-07-15T12:00:00Z', 'America/New_York'), '2025-07-15 08:00:00 -04:00 (America/New_York)', 'summer time');
  assert.equal(formatTime('2025-01-15T12:00:00Z', 'Asia/Kolkata'), '2025-01-15 17:30:00 +05:30 (Asia/Kolkata)');
  // what to_jsonb gives for a timestamptz: microseconds and an offset; shown to the second, never rounded up
  assert.equal(formatTime('2026-11-30T05:48:05.999999+00:00', 'Asia/Tokyo'), '2026-11-30 14:48:05 +09:00 (Asia/Tokyo)');
  assert.equal(formatTime('2026-11-30T23:59:59.5+00:00', 'UTC'), '2026-11-30 23:59:59 +00:00 (UTC)', 'no 24:00, no next day');
});

test('formatTime: an unknown zone reads as UTC and says so; no time is "-"', () => {
  assert.equal(formatTime('2025-01-15T12:00:00Z', 'Not/AZone'), '2025-01-15 12:00:00 +00:00 (UTC)');
  assert.equal(timeHeading('CREATED', 'Not/AZone'), 'CREATED (UTC)');
  for (const none of [null, undefined, '', 'not a date']) assert.equal(formatTime(none, 'UTC'), '-');
});

test("a table cell is the same wall clock without the zone, which the column's heading names", () => {
  const at = '2025-06-01T00:00:10.123Z';
  assert.equal(formatTime(at, 'Asia/Tokyo', 'cell'), '2025-06-01 09:00:10');
  assert.ok(formatTime(at, 'Asia/Tokyo').startsWith(formatTime(at, 'Asia/Tokyo', 'cell')));
  assert.equal(timeHeading('CREATED', 'Asia/Tokyo'), 'CREATED (Asia/Tokyo)');
});

test("memberTimeZone: TZ when it names a zone (also with POSIX's ':' prefix), else the system's", () => {
  const system = memberTimeZone({});
  assert.equal(timeHeading('T', system), `T (${system})`, 'the system zone is one ICU knows');
  assert.equal(memberTimeZone({ TZ: 'Asia/Tokyo' }), 'Asia/Tokyo');
  assert.equal(memberTimeZone({ TZ: ':Europe/Berlin' }), 'Europe/Berlin');
  assert.equal(memberTimeZone({ TZ: 'Nowhere/Atlantis' }), system, 'a TZ that names no zone: the system zone');
  assert.equal(memberTimeZone({ TZ: '' }), system);
});

// The guard that keeps "one function formats them all" true: other code in src/ may parse and
// compare times, not turn them into text. (The dashboard formats in the browser: web/src/format.ts.)
test('nothing in src/ but time-format.ts turns a time into text', () => {
  const FORMATTING = [
    /\.toLocale(?:Date|Time)?String\(/, /\.to(?:Time|Date|UTC)String\(/, /\.get(?:UTC)?(?:FullYear|Month|Date|Hours|Minutes|Seconds)\(/,
    /toISOString\(\)\s*\.(?:replace|slice|substring|split)\(/, /new Intl\.DateTimeFormat\([^)]*\)\s*\.format/,
    /`[^`]*\$\{[\w.!?]*_at\}[^`]*`/, // a raw timestamp column interpolated into text (sent_at, created_at …)
  ];
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts') && !path.endsWith(join('services', 'time-format.ts'))) {
        readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
          if (FORMATTING.some((re) => re.test(line))) offenders.push(`${relative(repoRoot, path)}:${i + 1}: ${line.trim()}`);
        });
      }
    }
  };
  walk(join(repoRoot, 'src'));
  assert.deepEqual(offenders, [], 'format times with formatTime (src/services/time-format.ts)');
});
