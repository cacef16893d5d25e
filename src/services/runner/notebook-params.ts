import { nodeCrypto } from '../node-crypto.js';
import { JobInputError } from './errors.js';
import { parseJobArgs } from './args.js';

// Notebook parameters, papermill's convention: the cell tagged `parameters` holds defaults; a
// cell tagged `injected-parameters`, inserted right after it, assigns the requested values.

export interface NotebookCell {
  cell_type: string;
  source: string | string[];
  metadata?: { tags?: unknown; [k: string]: unknown };
  [k: string]: unknown;
}

export interface Notebook {
  cells: NotebookCell[];
  metadata?: { kernelspec?: { language?: string; name?: string }; language_info?: { name?: string }; [k: string]: unknown };
  nbformat: number;
  nbformat_minor?: number;
  [k: string]: unknown;
}

/** Parses notebook JSON, with a clear error for a file that is not a notebook. */
export function parseNotebook(text: string, path: string): Notebook {
  let nb: unknown;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    throw new JobInputError(`${path} is not a valid notebook: it is not JSON (${(e as Error).message}).`);
  }
  const o = nb as Partial<Notebook> | null;
  if (!o || typeof o !== 'object' || !Array.isArray(o.cells) || typeof o.nbformat !== 'number') {
    throw new JobInputError(`${path} is not a valid notebook: no "cells" list or "nbformat" number.`);
  }
  if (o.nbformat < 4) throw new JobInputError(`${path} is an old nbformat ${o.nbformat} notebook: open and save it in a current Jupyter to upgrade it.`);
  return o as Notebook;
}

function hasTag(cell: NotebookCell, tag: string): boolean {
  const tags = cell.metadata?.tags;
  return Array.isArray(tags) && tags.includes(tag);
}

/** Index of the first code cell tagged `parameters`, or -1. */
export function findParametersCell(nb: Notebook): number {
  return nb.cells.findIndex((c) => c.cell_type === 'code' && hasTag(c, 'parameters'));
}

/** True when the notebook's kernel runs Python (the injected cell is Python). */
export function isPythonNotebook(nb: Notebook): boolean {
  const lang = nb.metadata?.kernelspec?.language ?? nb.metadata?.language_info?.name ?? 'python';
  return lang.toLowerCase() === 'python';
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const INT = /^[-+]?\d+$/;
const FLOAT = /^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/;

/** Python source for a value, used as-is in the injected cell. */
export class PyLiteral {
  constructor(readonly source: string) {}
}

/**
 * Text from the command line, typed: "3" → int, "0.5" / "1.0" / "1e-3" → float (written as
 * typed, so 1.0 stays a float), "true"/"False" → bool, anything else → str.
 */
export function inferValue(s: string): unknown {
  if (INT.test(s)) return new PyLiteral(BigInt(s).toString()); // Python has no leading-zero ints: 007 → 7
  if (FLOAT.test(s)) return new PyLiteral(s);
  if (/^true$/i.test(s)) return true;
  if (/^false$/i.test(s)) return false;
  return s;
}

/**
 * The job's args as notebook parameters: a JSON object as-is; otherwise text or a JSON array of
 * `--name value` / `--name=value` pairs (`--flag` alone → True). Dashes in names become
 * underscores (`--learning-rate` → learning_rate).
 */
export function parseNotebookParams(raw: string | null | undefined): Record<string, unknown> {
  const text = (raw ?? '').trim();
  if (text.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      obj = undefined;
    }
    if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
      for (const k of Object.keys(obj)) checkName(k, k);
      return obj as Record<string, unknown>;
    }
  }
  const tokens = parseJobArgs(raw);
  const params: Record<string, unknown> = {};
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (!tok.startsWith('--') || tok === '--') {
      throw new JobInputError(
        `Notebook arguments must be --name value pairs (or a JSON object); "${tok}" (argument ${i + 1}) is not preceded by a --name.`,
      );
    }
    const eq = tok.indexOf('=');
    const rawName = eq >= 0 ? tok.slice(2, eq) : tok.slice(2);
    const name = rawName.replace(/-/g, '_');
    checkName(name, tok);
    if (eq >= 0) params[name] = inferValue(tok.slice(eq + 1));
    else if (i + 1 < tokens.length && !tokens[i + 1]!.startsWith('--')) params[name] = inferValue(tokens[++i]!);
    else params[name] = true;
  }
  return params;
}

function checkName(name: string, asWritten: string): void {
  if (!IDENT.test(name)) {
    throw new JobInputError(`Notebook parameter "${asWritten}" is not a valid Python variable name.`);
  }
}

/** A Python literal for a JSON-like value. */
export function pythonLiteral(v: unknown): string {
  if (v instanceof PyLiteral) return v.source;
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return "float('nan')";
    if (!Number.isFinite(v)) return v > 0 ? "float('inf')" : "float('-inf')";
    return String(v);
  }
  if (typeof v === 'string') return JSON.stringify(v); // a JSON string literal is a valid Python str literal
  if (Array.isArray(v)) return `[${v.map(pythonLiteral).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${JSON.stringify(k)}: ${pythonLiteral(x)}`).join(', ')}}`;
  }
  return JSON.stringify(String(v));
}

/** A copy of the notebook with an `injected-parameters` cell right after the `parameters` cell. */
export function injectParameters(nb: Notebook, params: Record<string, unknown>): Notebook {
  const at = findParametersCell(nb);
  if (at < 0) throw new Error('injectParameters: the notebook has no parameters cell');
  const lines = ['# Parameters (injected by lab-job-agent)\n', ...Object.entries(params).map(([k, v]) => `${k} = ${pythonLiteral(v)}\n`)];
  const cell: NotebookCell = {
    cell_type: 'code',
    execution_count: null,
    metadata: { tags: ['injected-parameters'] },
    outputs: [],
    source: lines,
  };
  // cell ids exist from nbformat 4.5 on, and are invalid before it
  if (nb.nbformat > 4 || (nb.nbformat_minor ?? 0) >= 5) cell.id = nodeCrypto().randomUUID().replace(/-/g, '').slice(0, 8);
  const cells = [...nb.cells.slice(0, at + 1), cell, ...nb.cells.slice(at + 1)];
  return { ...nb, cells };
}
