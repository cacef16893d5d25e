// Every CLI command, in the order `lab-agent --help` lists them.
import type { Command } from './command.js';
import { configCommand } from './config-command.js';
import { dbCommands } from './db-commands.js';

export const commands: Command[] = [...dbCommands, configCommand];
