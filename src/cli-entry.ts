#!/usr/bin/env node
// lab-agent: the command line (bundled into dist/cli-main.cjs, which dist/index.js runs from the
// member's code cache). Each command lives in src/cli/; this file only dispatches.
import './node20-pg-shim.js'; // first: before pg is loaded
import { mapStacksOnDemand } from './source-mapped-stacks.js';
import { runAsProcess } from './cli/main.js';
import { commands } from './cli/registry.js';

mapStacksOnDemand();
runAsProcess(process.argv.slice(2), commands);
