// Fault injection for the crash-recovery tests: with LAB_FAULT_KILL_AT=<point> (comma-separated)
// the agent SIGKILLs itself on reaching that point or entering that machine state, exactly as
// a power cut or OOM kill would stop it. Unset in normal use: then this does nothing.
const points = new Set((process.env.LAB_FAULT_KILL_AT ?? '').split(',').map((s) => s.trim()).filter(Boolean));

export function faultPoint(name: string): void {
  if (points.size > 0 && points.has(name)) process.kill(process.pid, 'SIGKILL');
}
