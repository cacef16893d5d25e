// Questions on the terminal (prompts on stderr, so stdout stays the command's output), or, when
// stdin is not a terminal, one answer per line from stdin (scripts, tests, the installer's pipes).
// node:readline is loaded by the commands that ask, not by every CLI start (a cron tick included).
import type { Interface } from 'node:readline';
import { UsageError } from './output.js';
import { importPackage } from '../services/import-package.js';

const readline = () => importPackage<typeof import('node:readline')>('node:readline');

let piped: { rl: Interface; lines: AsyncIterator<string> } | null = null;

async function nextPipedLine(question: string): Promise<string> {
  const { createInterface } = await readline(); // before the check: no await between it and the set
  if (!piped) {
    const rl = createInterface({ input: process.stdin, terminal: false });
    piped = { rl, lines: rl[Symbol.asyncIterator]() };
  }
  process.stderr.write(question);
  const next = await piped.lines.next();
  if (next.done) throw new UsageError(`no answer for "${question.trim()}" on stdin (it is not a terminal): give it as an option instead`);
  process.stderr.write('\n');
  return next.value.trim();
}

async function askTty(question: string): Promise<string> {
  const rl = (await readline()).createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((resolve, reject) => {
    rl.once('SIGINT', () => {
      rl.close();
      reject(new UsageError('cancelled'));
    });
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer.trim());
    });
  });
}

/** Reads a line without echoing it (a password): raw mode, backspace handled, Ctrl-C cancels. */
function askSecretTty(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err: Error | null) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export function ask(question: string): Promise<string> {
  return process.stdin.isTTY ? askTty(question) : nextPipedLine(question);
}

export function askSecret(question: string): Promise<string> {
  return process.stdin.isTTY ? askSecretTty(question) : nextPipedLine(question);
}

/** Lets the process exit once no more questions will be asked. */
export function closePrompts(): void {
  piped?.rl.close();
  piped = null;
}
