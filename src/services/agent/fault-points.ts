// Fault injection for the crash-recovery tests: with LAB_FAULT_KILL_AT=<point> (comma-separated)
// the agent SIGKILLs itself on reaching that point or entering that machine state, exactly as
// a power cut or OOM kill would stop it; with LAB_FAULT_FAIL_AT=<point> a step throws there, as
// the agent's own trouble would (a full process table, a broken /tmp). Unset in normal use: then
// this does nothing.
const listed = (value: string | undefined) => new Set((value ?? '').split(',').map((s) => s.trim()).filter(Boolean));
const killAt = listed(process.env.LAB_FAULT_KILL_AT);
const failAt = listed(process.env.LAB_FAULT_FAIL_AT);

export function faultPoint(name: string): void {
  if (killAt.size > 0 && killAt.has(name)) process.kill(process.pid, 'SIGKILL');
  if (failAt.size > 0 && failAt.has(name)) throw new Error(`injected fault at ${name} (LAB_FAULT_FAIL_AT)`);
}
