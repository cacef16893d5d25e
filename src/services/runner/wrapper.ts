import { constants } from 'node:os';
import { isExecutableFile, whichIn } from '../host/executables.js';

// The /bin/sh code that starts a job and records how it ended. Process layout:
//
//   launcher (/bin/sh, spawned detached by the agent: its own session L, no terminal)
//     └─ wrapper (a fork of the launcher running the shell function lab_job: session L)
//          └─ job (a fork of the wrapper that execs setsid → its own session and group J)
//
// The agent signals the job's group (-J). The wrapper is outside that group, so a SIGTERM or
// SIGKILL of the group never reaches it: it collects the job's status and writes exit.json. Nor
// does a signal to the agent's own group reach the launcher or the wrappers (session L). The
// wrapper traps HUP/INT/TERM with a no-op, so a stray signal does not stop it either.
//
// Per job, then: two forks of a small shell and two execs before the job's program (setsid, and
// env to give SIGINT/SIGQUIT back their default handling: a shell starts `cmd &` with both
// ignored, for good, and an ignored signal stays ignored across exec). Everything else is shell
// builtins: the job's pid and start time are its own /proc/self/stat (read by the forked
// subshell, which then execs: the pid and start time stay the job's); setsid(1) does not fork
// because the subshell is not a process group leader.
//
// The job is a *foreground* child of the wrapper, so its pid cannot come from `$!`: the first
// thing the child does, before exec'ing, is report `<id> started <pid> <start> <wrapper pid>
// <wrapper start>` on fd 3 (a pipe the agent reads) and write <logDir>/pid. Its session exists
// only once setsid has run, a moment later (signalJobProcess covers it). When the exit record is
// written the wrapper reports `<id> ended` on fd 3: the agent that started the job hears the end
// at once, without polling.
//
// Without the launcher (no `env --default-signal`), the agent spawns /bin/sh running the same
// function as its whole script; Slurm's batch script does too, without the job's own session.

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

/** As shq, on one line: a newline becomes "$_lab_nl" (the launcher's newline variable) between quotes. */
export function shqLine(s: string): string {
  return shq(s).replace(/\n/g, `'"$_lab_nl"'`);
}

/**
 * The launcher: defines the wrapper function and reads one command per line, each a job started in
 * the background (`{ …; lab_job …; } &`), so it returns at once. `jobs` after each lets the shell
 * forget the jobs that have ended (a non-interactive shell otherwise keeps every one for `wait`).
 * It ends when its input does, that is when the agent exits; the wrappers it started keep running.
 */
export function launcherScript(): string {
  return `_lab_nl='
'
${wrapperFunction(true)}
while IFS= read -r _lab_line; do eval "$_lab_line"; jobs >/dev/null; done
`;
}

/** The launcher's `env` (absolute, as the wrapper's tools). */
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
    lines.push(`  ${128 + num}) _lab_code=null; _lab_sig='"${name}"';;`);
  }
  return lines.join('\n');
}

/**
 * The wrapper, as the shell function lab_job: $1 job id, $2 log dir, $3 umask or empty, then the
 * job's argv. Shell builtins only (no command substitution, no helper program): every fork and
 * exec here is paid by every job. Its variables are named _lab_*: the shell imports the member's
 * environment as variables, and assigning one of those (an `id` or a `log` of theirs) would change
 * what the job inherits. `ownSession` false keeps the job in the wrapper's process group: where
 * Slurm starts it, Slurm signals that group (with proctrack/linuxproc, only that group), and a job
 * in a session of its own would escape scancel.
 */
function wrapperFunction(ownSession: boolean): string {
  const { setsid, mv } = systemTools();
  return `
# The calling process's own pid, start time and process group: /proc/self is whoever opens it,
# and a forked subshell's $$ is still its parent shell's. After the command name's ") ", field 22
# (the start time) is the 20th and field 5 (the group) the 3rd.
_lab_self() { read -r _lab_s < /proc/self/stat || return 1; _lab_p=\${_lab_s%% *}; _lab_s=\${_lab_s##*) }; set -- $_lab_s; _lab_t=\${20}; _lab_g=$3; }
lab_job() {
_lab_id=$1; _lab_log=$2; _lab_mask=$3; shift 3
trap : HUP INT TERM
_lab_self || return 1
_lab_w=$_lab_p; _lab_wt=$_lab_t
(
  _lab_self
  ${ownSession ? '_lab_g=$_lab_p # setsid, below, makes the job the leader of a group of its own' : ''}
  # Written in one write: a reader that finds it incomplete treats it as absent (readPidRecord).
  printf '{"pid":%s,"pgid":%s,"startTime":"%s","wrapperPid":%s,"wrapperStartTime":"%s"}\\n' $_lab_p $_lab_g "$_lab_t" $_lab_w "$_lab_wt" > "$_lab_log/${PID_FILE}"
  # If the agent is already gone, the write fails (EPIPE) instead of killing the job before it starts.
  trap '' PIPE
  printf '%s started %s %s %s %s\\n' "$_lab_id" $_lab_p "$_lab_t" $_lab_w "$_lab_wt" >&3 2>/dev/null
  trap - PIPE
  exec 3>&-
  # The job's own files follow the member's umask (the agent's are private); set here, not by a shell of its own.
  [ -z "$_lab_mask" ] || umask "$_lab_mask"
  exec ${ownSession ? `${shq(setsid)} ` : ''}"$@"
)
_lab_rc=$?
_lab_code=$_lab_rc; _lab_sig=null
case $_lab_rc in
${signalCases()}
esac
# The record's time is the file's own (readExitRecord): no date(1) to start. Written in place: a
# reader checks this recorder is gone before it trusts a record it cannot parse to be missing.
_lab_rec="{\\"code\\":$_lab_code,\\"signal\\":$_lab_sig"
if ! printf '%s}\\n' "$_lab_rec" 2>/dev/null > "$_lab_log/${EXIT_FILE}"; then
  # No room: overwrite the reserve in place (its blocks are already allocated; the spaces left
  # after the record are JSON whitespace), say the disk was full, and put it in the record's place.
  printf '%s,"diskFull":true}' "$_lab_rec" 1<> "$_lab_log/${EXIT_RESERVE}" && ${shq(mv)} -f "$_lab_log/${EXIT_RESERVE}" "$_lab_log/${EXIT_FILE}"
fi
# Last: tell an agent still listening that the record is there (a line, then the pipe's end).
trap '' PIPE
printf '%s ended\\n' "$_lab_id" >&3 2>/dev/null
return 0
}`;
}

/** The wrapper as a process of its own, for a spawn and for Slurm's batch script; `umask` the job's (octal), or none. */
export function wrapperArgv(jobId: string, logDir: string, argv: string[], umask: string | null = null, ownSession = true): [string, ...string[]] {
  return ['/bin/sh', '-c', wrapperScript(ownSession), 'lab-job-wrapper', jobId, logDir, umask ?? '', ...argv];
}

/** The wrapper's whole script: $1 job id, $2 log dir, $3 the job's umask or empty, then the job's argv. */
function wrapperScript(ownSession = true): string {
  return `${wrapperFunction(ownSession)}
lab_job "$@"
`;
}
