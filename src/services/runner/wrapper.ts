import { constants } from 'node:os';
import { isExecutableFile, whichIn } from '../host/executables.js';

// The /bin/sh scripts that start a job and record how it ended. Process layout:
//
//   wrapper  (/bin/sh, spawned detached by the agent: its own session W, no terminal)
//     └─ job (setsid → its own session and process group J, pgid = pid = J)
//
// The agent signals the job's group (-J). The wrapper is outside that group, so a SIGTERM or
// SIGKILL of the group never reaches it: it collects the job's status and writes exit.json.
// The wrapper traps HUP/INT/TERM with a no-op, so a stray signal does not stop it either; a
// trapped signal goes back to default handling in its children, so the job sees normal signal
// behaviour (unlike `cmd &` in a script, which would start the job with SIGINT ignored).
//
// The job is a *foreground* child of the wrapper, so its pid cannot come from `$!`: the first
// thing the child does, before exec'ing the real program, is report `<id> started <pid> <start>
// <wrapper pid> <wrapper start>` on fd 3 (a pipe the agent reads) and write <logDir>/pid. exec
// keeps the pid and start time. When the exit record is written the wrapper reports `<id> ended`
// on fd 3: the agent that started the job hears the end at once, without polling.
//
// The agent starts wrappers through a resident launcher shell (launcher.ts): one small shell's
// fork per job instead of a fork of the agent itself, whose cost grows with the agent's memory.

export const EXIT_FILE = 'exit.json';
/**
 * Room for the exit record, written by the agent before the job starts: on a disk the job has
 * filled, the wrapper writes the record into it in place instead of into a new file.
 */
export const EXIT_RESERVE = '.exit.reserve';
export const EXIT_RESERVE_BYTES = 512;
export const PID_FILE = 'pid';
export const STDOUT_FILE = 'stdout.log';
export const STDERR_FILE = 'stderr.log';

/** Quotes a string for /bin/sh as one word. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** As shq, on one line: a newline becomes "$NL" (the launcher's newline variable) between quotes. */
export function shqLine(s: string): string {
  return shq(s).replace(/\n/g, `'"$NL"'`);
}

/**
 * The launcher: reads one command per line and runs it (each starts a wrapper with `setsid -f`,
 * returning at once). $1 is the wrapper script, run as "$W". It ends when its input does, that is
 * when the agent exits.
 */
export function launcherScript(): string {
  return `W=$1
NL='
'
while IFS= read -r line; do eval "$line"; done
`;
}

/** The launcher's `setsid` and `env` (absolute, as in the wrapper). */
export const setsidPath = (): string => systemTools().setsid;
export const envPath = (): string => systemTools().env;

function tool(name: string): string {
  for (const dir of ['/usr/bin', '/bin', '/usr/local/bin']) {
    if (isExecutableFile(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  const found = whichIn(name, process.env.PATH);
  if (!found) throw new Error(`${name} not found: the job runner needs it (util-linux / coreutils)`);
  return found;
}

let tools: { setsid: string; mv: string; env: string } | undefined;

/** Absolute paths, so neither script depends on the job's PATH. */
function systemTools(): { setsid: string; mv: string; env: string } {
  tools ??= { setsid: tool('setsid'), mv: tool('mv'), env: tool('env') };
  return tools;
}

/** `129) sig=SIGHUP;;` ... for every signal this platform knows: a shell reports death by signal n as 128+n. */
function signalCases(): string {
  const seen = new Set<number>();
  const lines: string[] = [];
  for (const [name, num] of Object.entries(constants.signals)) {
    if (seen.has(num)) continue; // aliases (SIGIOT = SIGABRT ...): keep the first name
    seen.add(num);
    lines.push(`  ${128 + num}) code=null; sig='"${name}"';;`);
  }
  return lines.join('\n');
}

/**
 * Runs in the job's own process just before exec: $1 job id, $2 log dir, $3 umask or empty, then
 * the job's argv. Shell builtins only (no subshell, no helper program): every fork here is paid by
 * every job.
 */
function innerScript(): string {
  return `
st() { read -r s < "/proc/$1/stat" || return 1; s=\${s##*) }; set -- $s; st=\${20}; pg=$3; }
id=$1; log=$2; mask=$3; shift 3
st $$; me=$st; g=$pg; st $PPID; w=$st
# Written in one write: a reader that finds it incomplete treats it as absent (readPidRecord).
printf '{"pid":%s,"pgid":%s,"startTime":"%s","wrapperPid":%s,"wrapperStartTime":"%s"}\\n' $$ $g "$me" $PPID "$w" > "$log/${PID_FILE}"
# If the agent is already gone, the write fails (EPIPE) instead of killing the job before it starts.
trap '' PIPE
printf '%s started %s %s %s %s\\n' "$id" $$ "$me" $PPID "$w" >&3 2>/dev/null
trap - PIPE
exec 3>&-
# The job's own files follow the member's umask (the agent's are private); set here, not by a shell of its own.
[ -z "$mask" ] || umask "$mask"
exec "$@"
`;
}

/**
 * The wrapper's own exec for a job; `umask` the job's (octal), or none. `ownSession` false keeps
 * the job in the wrapper's process group: where Slurm starts it, Slurm signals that group (with
 * proctrack/linuxproc, only that group), and a job in a session of its own would escape scancel.
 */
export function wrapperArgv(jobId: string, logDir: string, argv: string[], umask: string | null = null, ownSession = true): [string, ...string[]] {
  return ['/bin/sh', '-c', wrapperScript(ownSession), 'lab-job-wrapper', jobId, logDir, umask ?? '', ...argv];
}

/** The wrapper: $1 job id, $2 log dir, $3 the job's umask or empty, then the job's argv. */
export function wrapperScript(ownSession = true): string {
  const { setsid, mv } = systemTools();
  return `
id=$1; log=$2; mask=$3; shift 3
trap : HUP INT TERM
${ownSession ? `${shq(setsid)} ` : ''}/bin/sh -c ${shq(innerScript())} lab-job "$id" "$log" "$mask" "$@"
rc=$?
code=$rc; sig=null
case $rc in
${signalCases()}
esac
# The record's time is the file's own (readExitRecord): no date(1) to start. Written in place: a
# reader checks this recorder is gone before it trusts a record it cannot parse to be missing.
rec="{\\"code\\":$code,\\"signal\\":$sig"
if ! printf '%s}\\n' "$rec" 2>/dev/null > "$log/${EXIT_FILE}"; then
  # No room: overwrite the reserve in place (its blocks are already allocated; the spaces left
  # after the record are JSON whitespace), say the disk was full, and put it in the record's place.
  printf '%s,"diskFull":true}' "$rec" 1<> "$log/${EXIT_RESERVE}" && ${shq(mv)} -f "$log/${EXIT_RESERVE}" "$log/${EXIT_FILE}"
fi
# Last: tell an agent still listening that the record is there (a line, then the pipe's end).
trap '' PIPE
printf '%s ended\\n' "$id" >&3 2>/dev/null
`;
}
