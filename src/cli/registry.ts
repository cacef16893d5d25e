// Every CLI command, in the order `lab-agent --help` lists them.
import { agentCommands } from './agent-commands.js';
import type { Command } from './command.js';
import { configCommand } from './config-command.js';
import { dbCommands } from './db-commands.js';
import { dbMemberCommands } from './db-member-commands.js';
import { hostCommands } from './host-commands.js';
import { doctorCommand } from './doctor-command.js';
import { drainCommands } from './drain-commands.js';
import { inventoryCommands } from './inventory-commands.js';
import { jobCommands } from './job-commands.js';
import { jupyterCommands } from './jupyter-commands.js';
import { loginCommands } from './login-commands.js';
import { scheduleCommands } from './schedule-commands.js';
import { vizCommand } from './viz-command.js';
import { webCommand } from './web-command.js';

export const commands: Command[] = [...jobCommands, ...scheduleCommands, ...drainCommands, ...jupyterCommands, ...hostCommands, ...inventoryCommands, ...agentCommands, ...dbCommands, ...dbMemberCommands, configCommand, vizCommand, webCommand, ...loginCommands, doctorCommand];
