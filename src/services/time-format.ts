// Every time a member reads (the CLI's tables and details, the emails, the visualizer's timeline,
// the note that ends a stopped job's stderr) in one precision, the second, and one zone, the
// member's (TZ, else the system's), with the zone named: after each time, or once in a table's
// heading. This one function formats them all; --json keeps the database's own values.

export type When = string | Date | null | undefined;

/** 'full': `2026-11-30 14:48:05 +09:00 (Asia/Tokyo)`; 'cell': `2026-11-30 14:48:05` under a heading that names the zone. */
export type TimeStyle = 'full' | 'cell';

const OPTIONS: Intl.DateTimeFormatOptions = {
  hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
};

// Building an Intl.DateTimeFormat costs about a millisecond (ICU): one per zone, kept.
const formats = new Map<string, Intl.DateTimeFormat | null>();

function formatFor(zone: string): Intl.DateTimeFormat | null {
  if (!formats.has(zone)) {
    try {
      formats.set(zone, new Intl.DateTimeFormat('en-US', { ...OPTIONS, timeZone: zone }));
    } catch {
      formats.set(zone, null); // not a zone name ICU knows
    }
  }
  return formats.get(zone)!;
}

let systemZone: string | undefined;

/**
 * The member's time zone: TZ when it names a zone ICU knows (`Asia/Tokyo`, `:Europe/Berlin`), else
 * the system's (/etc/localtime), else UTC.
 */
export function memberTimeZone(env: NodeJS.ProcessEnv = process.env): string {
  const tz = env.TZ?.replace(/^:/, '').trim();
  if (tz && formatFor(tz)) return tz;
  systemZone ??= Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  return formatFor(systemZone) ? systemZone : 'UTC';
}

/** A table column's heading with the zone its cells are in: `CREATED (Asia/Tokyo)`. */
export function timeHeading(label: string, zone: string = memberTimeZone()): string {
  return `${label} (${formatFor(zone) ? zone : 'UTC'})`;
}

/** One instant in the zone (an unknown zone name reads as UTC, and says so); '-' when there is none. */
export function formatTime(when: When, zone: string = memberTimeZone(), style: TimeStyle = 'full'): string {
  const d = when === null || when === undefined || when === '' ? null : when instanceof Date ? when : new Date(when);
  if (!d || Number.isNaN(d.getTime())) return '-';
  const name = formatFor(zone) ? zone : 'UTC';
  const parts: Record<string, string> = {};
  for (const part of formatFor(name)!.formatToParts(d)) parts[part.type] = part.value;
  const wall = `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
  if (style === 'cell') return wall;
  const n = (k: string) => Number(parts[k] ?? 0);
  // offset = the wall clock read as UTC minus the instant (to the second)
  const wallAsUtc = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second'));
  const offMin = Math.round((wallAsUtc - Math.floor(d.getTime() / 1000) * 1000) / 60_000);
  const abs = Math.abs(offMin);
  const off = `${offMin < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${wall} ${off} (${name})`;
}
