#!/usr/bin/env node
// dist/tick.cjs, what install_agent.sh's wrapper runs for cron's `lab-agent tick`: the tick's bundle
// (src/tick-entry.ts → dist/tick-main.cjs) run from the member's V8 code cache (src/code-cache.ts).
// The name stays dist/tick.cjs so that wrappers written before the cache existed use it too.
import { runWithCodeCache } from './code-cache.js';

runWithCodeCache(`${__dirname}/tick-main.cjs`);
