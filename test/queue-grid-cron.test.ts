// The queue's pure parts (issue 17): a sweep's grid from --sweep options, and due times from cron
// lines in a time zone (croner), including downtime and daylight saving.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expandGrid, parseAxis, SweepSpecError } from '../src/services/queue/sweep-grid.js';
import { checkCron, CronError, dueTimes, nextDueAfter } from '../src/services/queue/cron.js';
import { parseNotebookParams } from '../src/services/runner/notebook-params.js';

describe('sweep grid', () => {
  test('lists and ranges; the first axis varies slowest; shared arguments come last', () => {
    const cells = expandGrid([parseAxis('lr=0.1,0.01,0.001'), parseAxis('seed=1..3')], ['--epochs', '10']);
    assert.equal(cells.length, 9);
    assert.deepEqual(cells[0], { params: { lr: '0.1', seed: '1' }, args: JSON.stringify(['--lr', '0.1', '--seed', '1', '--epochs', '10']) });
    assert.deepEqual(cells[8]!.params, { lr: '0.001', seed: '3' });
    assert.deepEqual(parseAxis('n=10..1:4').values, ['10', '6', '2']);
    assert.deepEqual(parseAxis('name=a b, c').values, ['a b', 'c']);
  });

  test('a notebook reads a cell\'s arguments into its parameters', () => {
    const [cell] = expandGrid([parseAxis('lr=0.5'), parseAxis('layers=2')], []);
    const params = Object.entries(parseNotebookParams(cell!.args)).map(([k, v]) => [k, String((v as { source: string }).source)]);
    assert.deepEqual(params, [['lr', '0.5'], ['layers', '2']]);
  });

  test('bad grids are refused with the reason', () => {
    for (const [spec, why] of [['lr', /write name=values/], ['=1,2', /write name=values/], ['lr=1,,2', /empty value/], ['n=1..3:0', /step must be at least 1/], ['n=0..20000', /more than 10000/]] as const) {
      assert.throws(() => parseAxis(spec), (e: Error) => e instanceof SweepSpecError && why.test(e.message), spec);
    }
    assert.throws(() => expandGrid([], []), /at least one --sweep/);
    assert.throws(() => expandGrid([parseAxis('a=1'), parseAxis('a=2')], []), /given twice/);
    assert.throws(() => expandGrid([parseAxis('a=1..200'), parseAxis('b=1..200')], []), /40000 cells; a sweep has at most 10000/);
  });
});

describe('cron', () => {
  test('due times in the member\'s zone: 03:00 in Tokyo is 18:00 UTC the day before', () => {
    assert.equal(nextDueAfter('0 3 * * *', 'Asia/Tokyo', new Date('2026-11-30T00:00:00Z')).toISOString(), '2026-11-30T18:00:00.000Z');
  });

  test('after downtime: every due time from the last one kept up to now, and the next', () => {
    const { due, next } = dueTimes('0 * * * *', 'UTC', new Date('2026-11-30T01:00:00Z'), new Date('2026-11-30T04:30:00Z'));
    assert.deepEqual(due.map((d) => d.toISOString()), ['01', '02', '03', '04'].map((h) => `2026-11-30T${h}:00:00.000Z`));
    assert.equal(next.toISOString(), '2026-11-30T05:00:00.000Z');
    const capped = dueTimes('* * * * *', 'UTC', new Date('2026-11-01T00:00:00Z'), new Date('2026-11-30T00:00:00Z'), 5);
    assert.equal(capped.due.length, 5, 'a month of minutes keeps only the latest');
    assert.equal(capped.due.at(-1)!.toISOString(), '2026-11-30T00:00:00.000Z');
  });

  test('daylight saving: on the night 02:30 does not exist in Berlin, it runs once, at 03:00 summer time', () => {
    const { due } = dueTimes('30 2 * * *', 'Europe/Berlin', new Date('2027-03-27T00:00:00Z'), new Date('2027-03-29T12:00:00Z'));
    assert.deepEqual(due.map((d) => d.toISOString()), ['2027-03-27T01:30:00.000Z', '2027-03-28T01:00:00.000Z', '2027-03-29T00:30:00.000Z']);
  });

  test('bad lines and zones are refused with the reason', () => {
    assert.throws(() => checkCron('61 * * * *', 'UTC'), (e: Error) => e instanceof CronError && /minute: 61/.test(e.message));
    assert.throws(() => checkCron('* * *', 'UTC'), /five fields/);
    assert.throws(() => checkCron('0 0 0 * * *', 'UTC'), /five fields/, 'a seconds field is not cron');
    assert.throws(() => checkCron('0 3 * * *', 'Mars/Olympus'), /not a time zone name/);
    checkCron('@daily', 'Asia/Tokyo');
  });
});
