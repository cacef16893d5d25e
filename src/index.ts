#!/usr/bin/env node
// lab-agent: what the installer's wrapper runs for every command but cron's tick (dist/tick.cjs).
// It runs the command line's bundle (src/cli-entry.ts → dist/cli-main.cjs) from the member's V8
// code cache (src/code-cache.ts): one file, compiled once per build instead of once per command.
import { fileURLToPath } from 'node:url';
import { runWithCodeCache } from './code-cache.js';

runWithCodeCache(fileURLToPath(new URL('./cli-main.cjs', import.meta.url)));
