// The agent's side of the machines' actor stubs (src/machines/kit.ts: actorStub): a step is
// implemented as a plain async function of the stub's input, and hears which state of the machine
// runs it (`via`, from the invoke's id): what it records with a transition names the machine's
// actual state, never a name typed by hand.
import { fromPromise, type PromiseActorLogic } from 'xstate';
import { invokingState } from '../../machines/kit.js';

/** What a step knows of where it runs. */
export interface StepPlace {
  /** The machine state invoking it, e.g. 'starting.failing' (the visualizer's state ids). */
  via: string;
}

/**
 * One step's implementation for a machine `machineId`: typed by the stub it stands for when the
 * result is checked against the machine's stubs (`satisfies` or a return type of `typeof stubs`).
 */
export function step<Output, Input>(machineId: string, run: (input: Input, place: StepPlace) => Promise<Output>): PromiseActorLogic<Output, Input> {
  return fromPromise<Output, Input>(({ input, self }) => run(input, { via: invokingState(self.id, machineId) }));
}
