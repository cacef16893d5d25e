// node:child_process, loaded when a process is first started rather than at import: loading it
// (with dgram and the rest it pulls in) is ~3 ms of CPU, and an idle cron tick, which imports the
// modules below without starting anything, pays for it 1,440 times a day (BENCHMARKS.md, issue 12).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function childProcess(): typeof import('node:child_process') {
  return require('node:child_process') as typeof import('node:child_process');
}
