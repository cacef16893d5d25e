// The shape of a CLI command; each command file exports some of these.
import type { ParseArgsConfig } from 'node:util';
import type { Output } from './output.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface CommandContext {
  args: string[];
  /** Arguments after a bare `--`, passed through untouched (job arguments). */
  rest: string[];
  options: Record<string, string | boolean | string[] | undefined>;
  out: Output;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  /** e.g. "db migrate" */
  name: string;
  summary: string;
  usage: string;
  options?: OptionSpec;
  /** Prints data, so it takes --json. */
  json?: boolean;
  run(ctx: CommandContext): Promise<number | void>;
}
