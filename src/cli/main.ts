// Argument parsing and dispatch: `lab-agent <command words> [options] [-- args]`.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../services/config.js';
import { DatabaseUnreachableError } from '../services/store/db-errors.js';
import { StoreError } from '../services/store/types.js';
import type { Command, OptionSpec } from './command.js';
import { CliFailure, createOutput, UsageError } from './output.js';
import { nearest } from './suggest.js';
import { fileProblem } from './file-problem.js';
import { correctedCommandLine } from './dashdash-hint.js';

/** Options every command takes. */
const COMMON_OPTIONS = { help: { type: 'boolean', short: 'h', help: 'this help', whenAbsent: 'off' } } satisfies OptionSpec;
const JSON_OPTION = { json: { type: 'boolean', help: 'machine-readable output', whenAbsent: 'off' } } satisfies OptionSpec;

/** The command named by the leading words, the longest name first ("db status" before "db"). */
function findCommand(commands: Command[], words: string[]): { command: Command; used: number } | null {
  let best: { command: Command; used: number } | null = null;
  for (const command of commands) {
    const parts = command.name.split(' ');
    if (parts.every((p, i) => words[i] === p) && (!best || parts.length > best.used)) best = { command, used: parts.length };
  }
  return best;
}

/**
 * The words before any argument: a first, lenient pass that knows every command's options (so
 * `--limit 5 ls` reads 5 as the value of --limit, not as a word) reads the tokens; the positional
 * ones are the command's words. The command's own spec then parses the same arguments strictly.
 */
function commandWords(commands: Command[], own: string[]): string[] {
  const options: OptionSpec = { ...COMMON_OPTIONS, ...JSON_OPTION };
  for (const c of commands) Object.assign(options, c.options);
  const { tokens } = parseArgs({ args: own, options, strict: false, allowPositionals: true, tokens: true });
  return tokens.flatMap((t) => (t.kind === 'positional' ? [t.value] : []));
}

/** parseArgs's reason, without its hint to put the option after `--` (here `--` starts a job's own arguments). */
function parseFailure(command: Command, err: Error & { code?: string }): string {
  if (err.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return err.message;
  const option = /^Unknown option '([^']+)'/.exec(err.message)?.[1] ?? '?';
  return `Unknown option '${option}': \`lab-agent ${command.name}\` does not take it (options may come before or after the command; its own are below)`;
}

/** One line for words that name no command: the nearest command when there is one, else where the list is. */
function unknownCommand(commands: Command[], words: string[]): string {
  if (!words.length) return 'options, but no command (lab-agent --help lists the commands)';
  const typed = words.join(' ');
  // compare as many words as the candidate has ("db stat" against "db status", "sbumit x.py" against "submit")
  const guess = nearest(typed, commands.map((c) => c.name)) ?? nearest(words[0]!, commands.map((c) => c.name.split(' ')[0]!));
  return `unknown command "${typed}"${guess ? `; did you mean ${guess}?` : ''} (lab-agent --help lists the commands)`;
}

function helpText(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'lab-agent — runs your lab jobs and Jupyter servers, requested through Supabase or PostgreSQL',
    '',
    'usage: lab-agent <command> [options]     (lab-agent <command> --help for more)',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'exit codes: 0 ok, 1 failure, 2 usage error',
  ].join('\n');
}

/** A command's usage, summary and each option with its meaning and default, in aligned columns. */
function commandHelp(c: Command): string {
  const all: [string, OptionSpec[string]][] = Object.entries({ ...c.options, ...(c.json ? JSON_OPTION : {}) });
  const names = all.map(([k, o]) => `--${k}${o.short ? `, -${o.short}` : ''}${o.type === 'string' ? ' <value>' : ''}`);
  const width = Math.max(0, ...names.map((n) => n.length));
  const opts = all.map(([, o], i) => `  ${names[i]!.padEnd(width)}  ${o.help} (default: ${o.whenAbsent})`);
  return [`usage: ${c.usage}`, '', c.summary, ...(opts.length ? ['', 'options:', ...opts] : [])].join('\n');
}

/** What a one-line error leaves out (the underlying error, its stack) goes to the agent log. */
async function logDetail(env: NodeJS.ProcessEnv, command: string, err: DatabaseUnreachableError): Promise<void> {
  try {
    const { agentLogger } = await import('../services/agent/agent-process.js');
    agentLogger(loadConfig({ env }), { quiet: true }).error({ command, err: err.detail }, err.message);
  } catch {
    // no agent log to write to: the line on stderr is all there is
  }
}

async function main(argv: string[], commands: Command[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const dashdash = argv.indexOf('--');
  const own = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
  const rest = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  if (own.length === 0 || own[0] === 'help' || own[0] === '--help' || own[0] === '-h') {
    process.stdout.write(`${helpText(commands)}\n`);
    return own.length === 0 ? 2 : 0;
  }
  const words = commandWords(commands, own);
  const found = findCommand(commands, words);
  if (!found) {
    process.stderr.write(`lab-agent: ${unknownCommand(commands, words)}\n`);
    return 2;
  }
  const { command } = found;
  const spec = { ...command.options, ...COMMON_OPTIONS, ...(command.json ? JSON_OPTION : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: own, allowPositionals: true, strict: true, options: spec });
  } catch (err) {
    const failure = err as Error & { code?: string };
    const fix = failure.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && command.scriptArgsAfter !== undefined
      ? `\nIf it is your script's own option, put it after \`--\`, which passes what follows to the script untouched:\n  ${correctedCommandLine(command, own, rest, spec)}\n`
      : '';
    process.stderr.write(`lab-agent ${command.name}: ${parseFailure(command, failure)}${fix}\n${commandHelp(command)}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  const json = Boolean(parsed.values.json);
  try {
    const code = await command.run({
      args: parsed.positionals.slice(found.used),
      rest,
      options: parsed.values,
      out: createOutput(json),
      env,
    });
    return code ?? 0;
  } catch (err) {
    const code = err instanceof UsageError ? 2 : err instanceof CliFailure ? err.exitCode : 1;
    const known = err instanceof UsageError || err instanceof CliFailure || err instanceof ConfigError || err instanceof StoreError;
    // a file problem the member can fix is one line; its stack only for LAB_LOG_LEVEL=debug
    const file = known ? null : fileProblem(err);
    const stack = (err as Error).stack ?? String(err);
    const message = known ? (err as Error).message : file ? (env.LAB_LOG_LEVEL === 'debug' ? `${file}\n${stack}` : file) : stack;
    if (json) process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
    process.stderr.write(`lab-agent ${command.name}: ${message}${code === 2 ? `\n${commandHelp(command)}` : ''}\n`);
    if (err instanceof DatabaseUnreachableError) await logDetail(env, command.name, err);
    return code;
  }
}

/** An entry point's whole run: `main`'s answer as the exit code; a crash that escaped it on stderr, with its stack. */
export function runAsProcess(argv: string[], commands: Command[]): void {
  // A reader that stops reading (`lab-agent scripts | head`) closes the pipe: the next write fails
  // with EPIPE, which is no failure of the command. End at once and quietly, as a Unix tool does.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit();
  });
  main(argv, commands).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`lab-agent: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
