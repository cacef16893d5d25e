import { JobInputError } from './errors.js';

/**
 * Turns a job's `args` text into an argv list.
 *
 * - empty / null → []
 * - a JSON array → each element as a string (objects and arrays JSON-stringified)
 * - a JSON object → `--key value` pairs: true → `--key`, false/null → omitted,
 *   arrays → `--key v` repeated; a key already starting with `-` is kept as written
 * - text starting with [ or { that is not valid JSON is an error (never guessed at)
 * - anything else is split the way a POSIX shell splits words: single quotes, double quotes
 *   (where `\` escapes only `\ " $ \`` and newline), `\` escapes outside quotes.
 *   Nothing is expanded ($VAR, globs, ~) and there are no operators or comments: `|`, `;`, `>`,
 *   `#` are ordinary characters, since no shell ever runs the command.
 */
export function parseJobArgs(raw: string | null | undefined): string[] {
  if (raw == null) return [];
  const text = raw.trim();
  if (text === '') return [];
  const json = tryJson(text);
  if (Array.isArray(json)) return json.map(scalarToArg);
  if (json !== null && typeof json === 'object') return objectToArgs(json as Record<string, unknown>);
  return splitShellWords(raw);
}

function tryJson(text: string): unknown {
  if (!text.startsWith('[') && !text.startsWith('{')) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // Guessing would run the script with arguments nobody wrote (a JSON array split as words).
    const what = text[0] === '[' ? 'a JSON array such as ["--n", "3"]' : 'a JSON object such as {"n": 3}';
    throw new JobInputError(
      `the arguments start with "${text[0]}" but are not valid JSON (${(err as Error).message}): write ${what}, or quote the first word ('${text[0]}…') if it is plain text`,
    );
  }
}

function scalarToArg(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function objectToArgs(obj: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(obj)) {
    const flag = key.startsWith('-') ? key : `--${key}`;
    if (value === false || value === null || value === undefined) continue;
    if (value === true) out.push(flag);
    else if (Array.isArray(value)) for (const v of value) out.push(flag, scalarToArg(v));
    else out.push(flag, scalarToArg(value));
  }
  return out;
}

const DQ_ESCAPABLE = new Set(['\\', '"', '$', '`', '\n']);

/** POSIX word splitting without expansion. Positions in errors count from 1. */
export function splitShellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false; // distinguishes an empty quoted word ('') from no word
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === '\\') {
      if (i + 1 >= text.length) {
        throw new JobInputError(`Arguments end with a lone backslash at position ${i + 1}: remove it or write \\\\ for a literal backslash.`);
      }
      const next = text[i + 1]!;
      if (next !== '\n') {
        word += next; // backslash-newline is a line continuation and vanishes
        inWord = true;
      }
      i += 2;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw unbalanced('single', i, text);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let closed = false;
      while (j < text.length) {
        const d = text[j]!;
        if (d === '"') {
          closed = true;
          break;
        }
        if (d === '\\' && j + 1 < text.length && DQ_ESCAPABLE.has(text[j + 1]!)) {
          if (text[j + 1] !== '\n') word += text[j + 1];
          j += 2;
        } else {
          word += d;
          j++;
        }
      }
      if (!closed) throw unbalanced('double', i, text);
      inWord = true;
      i = j + 1;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function unbalanced(kind: 'single' | 'double', at: number, text: string): JobInputError {
  const q = kind === 'single' ? "'" : '"';
  const context = text.slice(Math.max(0, at - 10), at + 10).replace(/\s/g, ' ');
  return new JobInputError(
    `Arguments have an unbalanced ${kind} quote (${q}) opened at position ${at + 1} (near "${context}"): close it, or escape it as \\${q}.`,
  );
}
