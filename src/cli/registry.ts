// Every CLI command, in the order `lab-agent --help` lists them.
import { agentCommands } from './agent-commands.js';
import type { Command } from './command.js';
import { configCommand } from './config-command.js';
import { dbCommands } from './db-commands.js';
import { inventoryCommands } from './inventory-commands.js';
import { jobCommands } from './job-commands.js';
import { vizCommand } from './viz-command.js';

export const commands: Command[] = [...jobCommands, ...inventoryCommands, ...agentCommands, ...dbCommands, configCommand, vizCommand];
