// Which machines can be drawn, loaded on demand: `viz job` should not pay for the Jupyter machine.
import type { AnyStateMachine } from 'xstate';

export const MACHINE_NAMES = ['job', 'jupyter'] as const;
export type MachineName = (typeof MACHINE_NAMES)[number];

const loaders: Record<MachineName, () => Promise<AnyStateMachine>> = {
  job: async () => (await import('../../machines/job-machine.js')).jobMachine,
  jupyter: async () => (await import('../../machines/jupyter-machine.js')).jupyterMachine,
};

export const isMachineName = (name: string): name is MachineName => (MACHINE_NAMES as readonly string[]).includes(name);

export function loadMachine(name: MachineName): Promise<AnyStateMachine> {
  return loaders[name]();
}
