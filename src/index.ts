#!/usr/bin/env node
// lab-agent: what the installer's wrapper runs for every command but cron's tick (dist/tick.cjs).
// It runs the command line's bundle (src/cli-entry.ts → dist/cli-main.cjs) from the member's V8
// code cache (src/code-cache.ts): one file, compiled once per build instead of once per command.
// Built as CommonJS, dist/index.cjs: an ES module entry costs Node's ES module loader ~10 ms a
// command before any of ours runs (BENCHMARKS.md, issue 12). dist/index.js, which wrappers written
// before this and `node dist/index.js` run, is a one-line ES module that loads it (scripts/bundle.mjs).
import { runWithCodeCache } from './code-cache.js';

runWithCodeCache(`${__dirname}/cli-main.cjs`);
