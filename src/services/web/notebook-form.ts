// The fields of a notebook's `parameters` cell (papermill's convention) for the page's form:
// one top-level `name = value  # comment` per line. The runner reads the values back with
// parseNotebookParams, which types text as Python would read it ("3" int, "0.5" float, "true" bool).
import { findParametersCell, parseNotebook } from '../runner/notebook-params.js';

type ParamKind = 'int' | 'float' | 'bool' | 'str' | 'other';

export interface NotebookParam {
  name: string;
  /** The default as written in the cell (Python source). */
  source: string;
  /** The default as the form shows it: a string's text without quotes, True → true. */
  value: string;
  kind: ParamKind;
  comment: string | null;
}

const LINE = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*[^=]+)?=\s*(.+?)\s*$/;

/** Splits `value  # comment`, leaving a # inside a string alone. */
function splitComment(rest: string): { code: string; comment: string | null } {
  let quote: string | null = null;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#') {
      return { code: rest.slice(0, i).trim(), comment: rest.slice(i + 1).trim() || null };
    }
  }
  return { code: rest.trim(), comment: null };
}

function kindOf(code: string): { kind: ParamKind; value: string } {
  if (/^[-+]?\d+$/.test(code)) return { kind: 'int', value: code };
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(code)) return { kind: 'float', value: code };
  if (code === 'True' || code === 'False') return { kind: 'bool', value: code.toLowerCase() };
  const str = /^[rRuU]?(['"])(.*)\1$/.exec(code);
  if (str && !str[2]!.includes(str[1]!)) return { kind: 'str', value: str[2]! };
  return { kind: 'other', value: code };
}

/** The parameters of a notebook's text; [] when it has no `parameters` cell. */
export function notebookParams(text: string, path: string): NotebookParam[] {
  const nb = parseNotebook(text, path);
  const at = findParametersCell(nb);
  if (at < 0) return [];
  const source = nb.cells[at]!.source;
  const lines = (Array.isArray(source) ? source.join('') : source).split('\n');
  const out: NotebookParam[] = [];
  for (const line of lines) {
    if (/^\s/.test(line)) continue; // inside a block: not a top-level assignment
    const m = LINE.exec(line);
    if (!m) continue;
    const { code, comment } = splitComment(m[2]!);
    out.push({ name: m[1]!, source: code, comment, ...kindOf(code) });
  }
  return out;
}
