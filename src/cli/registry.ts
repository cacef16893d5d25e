// Every CLI command, in the order `lab-agent --help` lists them.
import { agentCommands } from './agent-commands.js';
import type { Command } from './command.js';
import { configCommand } from './config-command.js';
import { dbCommands } from './db-commands.js';
import { jobCommands } from './job-commands.js';

export const commands: Command[] = [...jobCommands, ...agentCommands, ...dbCommands, configCommand];
