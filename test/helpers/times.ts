// Checking the times the CLI prints (issue 15) without the code under test: Tokyo's wall clock is
// UTC + 9 h all year (no summer time), so plain arithmetic gives what the CLI must show.
import assert from 'node:assert/strict';

export const TOKYO = { TZ: 'Asia/Tokyo' };

/** The instant's wall clock in Tokyo, to the second (cut, not rounded): `2026-11-30 14:48:05`. */
export function tokyoClock(when: string | Date): string {
  const ms = new Date(when).getTime();
  return new Date(Math.floor(ms / 1000) * 1000 + 9 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** Anything that looks like a time: ISO, database text, with or without fractions, offset and a zone. */
const STAMP = /\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d)?(?:\.\d+)?(?: ?(?:Z|UTC|[+-]\d\d(?::?\d\d)?))?(?: \([^)\n]*\))?/g;
const HAS_STAMP = new RegExp(STAMP.source);
const FULL = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+09:00 \(Asia\/Tokyo\)$/;
const CELL = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;

/**
 * Asserts every time in `text` is shown in Tokyo time to the second, the zone named: after the time
 * (`… +09:00 (Asia/Tokyo)`), or, for a bare table cell, in a heading line above it. Returns them.
 */
export function tokyoTimes(what: string, text: string): string[] {
  const lines = text.split('\n');
  const found: string[] = [];
  lines.forEach((line, i) => {
    for (const t of line.match(STAMP) ?? []) {
      found.push(t);
      if (FULL.test(t)) continue;
      assert.match(t, CELL, `${what}: "${t}" is neither "YYYY-MM-DD hh:mm:ss +09:00 (Asia/Tokyo)" nor a table cell\n${text}`);
      const heading = lines.slice(0, i).some((l) => !HAS_STAMP.test(l) && l.includes('(Asia/Tokyo)'));
      assert.ok(heading, `${what}: the time "${t}" stands under no heading that names the zone\n${text}`);
    }
  });
  return found;
}
