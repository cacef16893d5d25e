// The shape of a CLI command; each command file exports some of these, made with `defineCommand`
// so that `options` in `run` is typed from the command's own option spec.
import type { ParseArgsConfig } from 'node:util';
import type { Output } from './output.js';

/**
 * One option as parseArgs takes it, with what `--help` says of it: its meaning in one line and
 * what applies when it is absent, in words (parseArgs ignores both; its own `default` stays unused,
 * so an option not given stays absent).
 */
type OneOption = NonNullable<ParseArgsConfig['options']>[string] & { help: string; whenAbsent: string };
export type OptionSpec = Record<string, OneOption>;

/**
 * What parseArgs gives for one option: a string or a boolean, a list of them with `multiple`
 * (any of these for a spec not known to the compiler, as in the registry).
 */
type OptionValue<O extends OneOption> = O['type'] extends 'boolean'
  ? O extends { multiple: true } ? boolean[] : boolean
  : O['type'] extends 'string'
    ? O extends { multiple: true } ? string[] : string
    : string | boolean | string[] | boolean[];

/** The parsed options of a command: each one absent unless given (no option here has a default). */
export type OptionValues<S extends OptionSpec> = { [K in keyof S]?: OptionValue<S[K]> };

interface CommandContext<S extends OptionSpec = OptionSpec> {
  args: string[];
  /** Arguments after a bare `--`, passed through untouched (job arguments). */
  rest: string[];
  options: OptionValues<S>;
  out: Output;
  env: NodeJS.ProcessEnv;
}

export interface Command<S extends OptionSpec = OptionSpec> {
  /** e.g. "db migrate" */
  name: string;
  summary: string;
  usage: string;
  options?: S;
  /** Takes a script's own arguments after `--`, following this many arguments of its own (submit: 1, the script). */
  scriptArgsAfter?: number;
  /** Prints data, so it takes --json. */
  json?: boolean;
  run(ctx: CommandContext<S>): Promise<number | void>;
}

/** A command whose `run` sees its options typed from `options` (`--limit` a string, `--follow` a boolean). */
export function defineCommand<const S extends OptionSpec = Record<never, never>>(command: Command<S>): Command {
  return command;
}
