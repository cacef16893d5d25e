/**
 * A problem with what the lab member asked for (bad path, bad arguments, missing interpreter).
 * Its message is shown to them as-is, so it says what is wrong and how to fix it.
 * Anything else thrown by the runner is an agent or system fault.
 */
export class JobInputError extends Error {
  override name = 'JobInputError';
}
