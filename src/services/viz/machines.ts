// Which machines can be drawn, loaded on demand: `viz job` should not pay for the Jupyter machine.
import type { AnyStateMachine } from 'xstate';

export const MACHINE_NAMES = ['job', 'jupyter'] as const;
export type MachineName = (typeof MACHINE_NAMES)[number];

/** What the events table calls each machine's rows (lifecycle_events.subject). */
export const SUBJECT_OF: Record<MachineName, string> = { job: 'job', jupyter: 'jupyter' };

const isMachine = (v: unknown): v is AnyStateMachine =>
  typeof v === 'object' && v !== null && 'root' in v && 'config' in v && typeof (v as { transition?: unknown }).transition === 'function';

/** The machine module's export: the conventional name, else its one state machine. */
function pickMachine(mod: Record<string, unknown>, preferred: string): AnyStateMachine | null {
  if (isMachine(mod[preferred])) return mod[preferred];
  const found = Object.values(mod).filter(isMachine);
  return found.length === 1 ? found[0]! : null;
}

const loaders: Record<MachineName, () => Promise<AnyStateMachine | null>> = {
  job: async () => (await import('../../machines/job-machine.js')).jobMachine,
  jupyter: async () => {
    // Not a literal specifier: the file may not exist yet in a checkout, and must not break the build.
    const spec = '../../machines/jupyter-machine.js';
    try {
      return pickMachine((await import(spec)) as Record<string, unknown>, 'jupyterMachine');
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('jupyter-machine')) return null;
      throw err;
    }
  },
};

export const isMachineName = (name: string): name is MachineName => (MACHINE_NAMES as readonly string[]).includes(name);

/** The machine, or null when this build does not have it (yet). */
export function loadMachine(name: MachineName): Promise<AnyStateMachine | null> {
  return loaders[name]();
}
