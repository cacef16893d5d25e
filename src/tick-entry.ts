#!/usr/bin/env node
// `lab-agent tick` as cron runs it every minute (bundled into dist/tick-main.cjs, which dist/tick.cjs,
// what install_agent.sh's wrapper runs for `tick`, runs): the same command as `dist/index.js tick`, through the same parsing and
// error handling, with a command table of one, so the process does not read, compile and evaluate
// every other command's code and option specs (BENCHMARKS.md, issue 12).
import './node20-pg-shim.js'; // first: before pg is loaded
import { mapStacksOnDemand } from './source-mapped-stacks.js';
import { runAsProcess } from './cli/main.js';
import { tickCommand } from './cli/agent-commands.js';

mapStacksOnDemand();
runAsProcess(['tick', ...process.argv.slice(2)], [tickCommand]);
