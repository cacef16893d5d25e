// Forgetting `--` before a script's own arguments (`submit train.py --lr 0.1`): the member's own
// command line, corrected, so the fix is a copy and paste.
import { parseArgs } from 'node:util';
import type { Command, OptionSpec } from './command.js';

/** A word as a POSIX shell reads it back: bare when safe, else in single quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line with what the command does not take moved after `--`: the command's words, its
 * own options and its first `scriptArgsAfter` arguments stay in front; unknown options and any
 * further words go to the script, in the order typed, before what already followed a `--`.
 */
export function correctedCommandLine(command: Command, own: string[], rest: string[], spec: OptionSpec): string {
  const { tokens } = parseArgs({ args: own, options: spec, strict: false, allowPositionals: true, tokens: true });
  const words = command.name.split(' ').length;
  const front: string[] = [];
  const script: string[] = [];
  let positionals = 0;
  for (const t of tokens) {
    if (t.kind === 'positional') {
      (positionals++ < words + (command.scriptArgsAfter ?? 0) ? front : script).push(own[t.index]!);
    } else if (t.kind === 'option') {
      const taken = t.name in spec;
      const typed = own.slice(t.index, t.index + (t.inlineValue === false ? 2 : 1));
      (taken ? front : script).push(...typed);
    }
  }
  return ['lab-agent', ...front, '--', ...script, ...rest].map(shellWord).join(' ');
}
