// node:crypto on first use. Loading it costs ~7 ms of a process's start here (17 of Node's own
// modules), and an idle cron tick, `sync` or `--help` needs none of it (BENCHMARKS.md, issue 12).
// scripts/lint.mjs keeps every other file from importing node:crypto, and scripts/bundle.mjs does
// the same for pg's SCRAM/MD5 helpers.
import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';

let loaded: typeof Crypto | undefined;

/** node:crypto, loaded on the first call. */
export function nodeCrypto(): typeof Crypto {
  // In the bundles `require` is CommonJS's own; unbundled (tsc's dist/, tsx) createRequire's.
  loaded ??= typeof require === 'function' ? require('node:crypto') : createRequire(import.meta.url)('node:crypto');
  return loaded!;
}
