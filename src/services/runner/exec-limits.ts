// What execve(2) can take, checked before a job is started, so that a request the kernel would
// refuse fails once with a message in the member's terms instead of "spawn E2BIG" (or Node's
// "'args[6]' must be a string without null bytes", an index into the agent's own wrapper argv).
//
// Linux (fs/exec.c): each string, argument or NAME=value, at most MAX_ARG_STRLEN = 32 pages
// (131072 bytes with its NUL); all strings and their pointers together at most a quarter of the
// stack limit (what `getconf ARG_MAX` prints), capped at 6 MiB and at least 128 KiB.
import { readFileSync } from 'node:fs';
import { JobInputError } from './errors.js';

const MAX_ARG_STRLEN = 131072;
const STACK_CAP = 6 << 20; // 3/4 of _STK_LIM (8 MiB)
const POINTER = 8;

/** 1.0 MiB, 128 KiB, 512 bytes. */
export function formatBytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${Math.round(n / (1 << 10))} KiB`;
  return `${n} bytes`;
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

let cachedLimit: number | undefined;

/** The kernel's limit on argv + envp for a process started by this one (its stack limit is inherited). */
function execSizeLimit(): number {
  if (cachedLimit !== undefined) return cachedLimit;
  let stack = 8 << 20;
  try {
    const line = /^Max stack size\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    stack = !line || line[1] === 'unlimited' ? Infinity : Number(line[1]);
  } catch {
    /* no /proc: assume the usual 8 MiB */
  }
  cachedLimit = Math.max(MAX_ARG_STRLEN, Math.min(STACK_CAP, Math.floor(stack / 4)));
  return cachedLimit;
}

/**
 * The member's own arguments, numbered from 1 as they wrote them (the script is not counted):
 * none may hold a NUL byte (a C string ends there) or exceed MAX_ARG_STRLEN.
 */
export function checkJobArguments(args: string[]): void {
  args.forEach((arg, i) => {
    if (arg.includes('\0')) {
      throw new JobInputError(`argument ${i + 1} contains a NUL byte (\\u0000), which no program can receive: remove it from the arguments`);
    }
    const size = bytes(arg) + 1;
    if (size > MAX_ARG_STRLEN) {
      throw new JobInputError(`argument ${i + 1} is ${formatBytes(size)}; the limit for one argument is ${formatBytes(MAX_ARG_STRLEN)}: pass large data in a file and give its path instead`);
    }
  });
}

/** A notebook gets its arguments in one environment variable: the one-string limit applies to it. */
export function checkNotebookArguments(name: string, value: string): void {
  const size = bytes(`${name}=${value}`) + 1;
  if (size > MAX_ARG_STRLEN) {
    throw new JobInputError(`the arguments are ${formatBytes(size)}; a notebook gets them in the environment variable ${name}, whose limit is ${formatBytes(MAX_ARG_STRLEN)}: pass large data in a file and give its path instead`);
  }
}

/**
 * The whole exec the agent is about to make (its wrapper's argv, the job's arguments, the
 * environment) against the kernel's limit. `jobArgs` is how much of argv is the member's own.
 */
export function checkExecSize(argv: string[], env: Record<string, string>, jobArgs: string[]): void {
  const envStrings = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  for (const s of envStrings) {
    const size = bytes(s) + 1;
    if (size > MAX_ARG_STRLEN) {
      const name = s.slice(0, s.indexOf('='));
      throw new JobInputError(`the environment variable ${name} is ${formatBytes(size)}; the limit for one is ${formatBytes(MAX_ARG_STRLEN)}: shorten it in your login files`);
    }
  }
  const sum = (list: string[]) => list.reduce((n, s) => n + bytes(s) + 1 + POINTER, 0);
  const total = sum(argv) + sum(envStrings);
  const limit = execSizeLimit();
  if (total <= limit) return;
  throw new JobInputError(
    `the arguments (${formatBytes(sum(jobArgs))}) and the environment (${formatBytes(sum(envStrings))}) are too long together: ` +
      `the limit on this server is ${formatBytes(limit)} (a quarter of the stack limit, \`ulimit -s\`): pass large data in a file and give its path instead`,
  );
}
