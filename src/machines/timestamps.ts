// Time helpers the rules share. Apart from kit.ts so that the rules (and the driver's isQuiet,
// asked on every tick) can be loaded without XState: an idle tick never loads the machines.

/** Epoch ms of a timestamp from the row, or null. */
export const ms = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) : null);
