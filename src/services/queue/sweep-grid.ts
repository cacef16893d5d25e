// A sweep's grid from `--sweep name=values` options (issue 17): `lr=0.1,0.01,0.001` lists values,
// `seed=1..3` an integer range (`1..10:3` with a step). Every combination is one cell, the first
// axis varying slowest; a cell's arguments are `--name value` for each axis, then the arguments
// every cell shares. A notebook reads the same pairs into its `parameters` cell. Pure.
import type { SweepAxis, SweepCellSpec, SweepView } from '../store/queue-types.js';

const MAX_SWEEP_CELLS = 10_000;

export class SweepSpecError extends Error {
  override name = 'SweepSpecError';
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const RANGE = /^(-?\d+)\.\.(-?\d+)(?::(\d+))?$/;

/** One `--sweep` option: `name=v1,v2,…` or `name=a..b[:step]`. */
export function parseAxis(spec: string): SweepAxis {
  const eq = spec.indexOf('=');
  const name = eq > 0 ? spec.slice(0, eq).trim() : '';
  if (!NAME.test(name)) throw new SweepSpecError(`--sweep "${spec}": write name=values, e.g. --sweep 'lr=0.1,0.01' or --sweep 'seed=1..3'`);
  const body = spec.slice(eq + 1).trim();
  const range = RANGE.exec(body);
  if (range) {
    const [from, to, step] = [Number(range[1]), Number(range[2]), Number(range[3] ?? 1)];
    if (step < 1) throw new SweepSpecError(`--sweep "${spec}": the step must be at least 1`);
    if ((Math.abs(to - from) / step) + 1 > MAX_SWEEP_CELLS) throw new SweepSpecError(`--sweep "${spec}": more than ${MAX_SWEEP_CELLS} values`);
    const values: string[] = [];
    const dir = to >= from ? 1 : -1;
    for (let v = from; dir > 0 ? v <= to : v >= to; v += dir * step) values.push(String(v));
    return { name, values };
  }
  const values = body.split(',').map((v) => v.trim());
  if (values.some((v) => v === '')) throw new SweepSpecError(`--sweep "${spec}": an empty value (write name=v1,v2,… with no empty entries)`);
  return { name, values };
}

/** The grid's cells, in order; `shared`: the arguments after `--`, given to every cell. */
export function expandGrid(axes: SweepAxis[], shared: string[]): SweepCellSpec[] {
  if (axes.length === 0) throw new SweepSpecError('a sweep needs at least one --sweep name=values');
  const names = new Set<string>();
  for (const a of axes) {
    if (names.has(a.name)) throw new SweepSpecError(`--sweep ${a.name} is given twice: put all its values in one option`);
    names.add(a.name);
  }
  const count = axes.reduce((n, a) => n * a.values.length, 1);
  if (count > MAX_SWEEP_CELLS) throw new SweepSpecError(`the grid has ${count} cells; a sweep has at most ${MAX_SWEEP_CELLS}`);
  let cells: Record<string, string>[] = [{}];
  for (const a of axes) cells = cells.flatMap((c) => a.values.map((v) => ({ ...c, [a.name]: v })));
  return cells.map((params) => ({
    params,
    args: JSON.stringify([...axes.flatMap((a) => [`--${a.name}`, params[a.name]!]), ...shared]),
  }));
}

/** The grid's parameter columns: the axes as written, or (rows from elsewhere) every cell's parameter names. */
export function gridAxes(view: SweepView): string[] {
  return view.sweep.axes.length ? view.sweep.axes.map((a) => a.name) : [...new Set(view.jobs.flatMap((c) => Object.keys(c.params ?? {})))];
}
