# Runs a command and prints its CPU (user + system), wall clock and peak RSS as one JSON line on
# stderr, from wait4(2): microseconds, where GNU time prints hundredths of a second (a 10 ms step
# is a seventh of `node -e 0` on this VM, too coarse for a ratio to it). Used by bench/lib/proc.ts.
import json, os, sys, time

start = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
print('LABRUSAGE ' + json.dumps({
    'cpuS': ru.ru_utime + ru.ru_stime, 'wallS': time.monotonic() - start,
    'maxRssMiB': ru.ru_maxrss / 1024, 'code': os.waitstatus_to_exitcode(status),
}), file=sys.stderr)
