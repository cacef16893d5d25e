#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the tests and for developers:
#   scripts/slurm-local.sh start   write slurm.conf for this host, start munged, slurmctld, slurmd,
#                                  wait until the node is idle and `srun -N1 true` works
#   scripts/slurm-local.sh start --accounting
#                                  the same with accounting: a private MariaDB and slurmdbd, so that
#                                  `sacct` answers (needs mariadb-server-core mariadb-client-core slurmdbd)
#   scripts/slurm-local.sh stop    cancel what is left in the queue, stop the daemons it started
#   scripts/slurm-local.sh status  say what runs, where the config is, and show `sinfo`
#   scripts/slurm-local.sh env     print `export SLURM_CONF=...` for the client commands
#
# It installs nothing itself. It needs Debian's packages (as root: apt-get install slurm-wlm munge)
# and root, because slurmd starts each job as the Linux user who submitted it.
#
# Everything lives under one folder of its own (LAB_SLURM_DIR, default /tmp/lab-slurm): slurm.conf,
# the munge key and socket, slurmctld's state, slurmd's spool, pid files and logs. Its munged has its
# own socket there, so a munged of the system (if any) is neither used nor disturbed. Ports are picked
# free at each start. Client commands find the cluster with SLURM_CONF=<dir>/slurm.conf; when
# /etc/slurm/slurm.conf (where Debian's slurm-wlm looks by default) does not exist, start links it to
# this config so that bare `sinfo`/`sbatch` work for every user too, and stop removes that link.
# Without --accounting there is no slurmdbd and `sacct` has nothing to report. With it, a MariaDB of
# its own (data under the folder, listening on 127.0.0.1 only, a random password in slurmdbd.conf,
# 0600) keeps the accounting; slurmdbd has no lighter storage than MySQL/MariaDB.
set -euo pipefail

DIR=${LAB_SLURM_DIR:-/tmp/lab-slurm}
CONF="$DIR/slurm.conf"
ETC_CONF=/etc/slurm/slurm.conf
WAIT_S=${LAB_SLURM_WAIT_S:-60}
ACCOUNTING=no
[ "${2:-}" = --accounting ] && ACCOUNTING=yes

say() { printf 'slurm-local: %s\n' "$*"; }
die() { printf 'slurm-local: %s\n' "$*" >&2; exit 1; }

need_tools() {
  local missing=()
  local tool
  local packages="slurm-wlm munge"
  local tools=(munged mungekey slurmctld slurmd sinfo srun scontrol squeue scancel)
  if [ "$ACCOUNTING" = yes ]; then
    tools+=(slurmdbd sacct sacctmgr mariadbd mariadb-install-db mariadb)
    packages+=" slurmdbd mariadb-server-core mariadb-client-core"
  fi
  for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    die "missing ${missing[*]}: this script installs nothing; on Debian/Ubuntu run (as root) apt-get install -y --no-install-recommends $packages"
  fi
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "needs root: slurmd starts each job as the user who submitted it (try: sudo $0 $*)"
}

# The pid in a pid file, if that process is alive.
live_pid() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

# Four TCP ports nobody listens on, below Linux's ephemeral range (so no outgoing connection takes them).
free_ports() {
  local used port found=()
  local hex
  used=$(awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r hex; do echo $((16#$hex)); done)
  while [ "${#found[@]}" -lt 4 ]; do
    port=$((10000 + RANDOM % 22000))
    if ! grep -qx "$port" <<<"$used" && [[ " ${found[*]-} " != *" $port "* ]]; then found+=("$port"); fi
  done
  printf '%s\n' "${found[*]}"
}

# Memory slurmd itself detects (`slurmd -C`), so the node is never drained for "Low RealMemory".
real_memory_mib() {
  local mem
  mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)
  [ -n "$mem" ] || mem=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
  printf '%s\n' "$mem"
}

write_conf() {
  local host cpus mem ctld_port slurmd_port accounting
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(real_memory_mib)
  read -r ctld_port slurmd_port DBD_PORT DB_PORT < <(free_ports)
  accounting="AccountingStorageType=accounting_storage/none"
  if [ "$ACCOUNTING" = yes ]; then
    accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# For slurmdbd, the MUNGE socket: clients (sacct, sacctmgr) ignore AuthInfo there (Slurm 22.05).
AccountingStoragePass=$DIR/munge/munge.socket"
  fi
  cat >"$CONF.tmp" <<EOF
# Written by scripts/slurm-local.sh start: a one-node test cluster on $host. Do not edit; it is
# rewritten at each start. Keys and values: man 5 slurm.conf (Slurm 22.05 on Debian 12).
ClusterName=lab-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.socket
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: plain process tracking and no task confinement, which work in containers and VMs.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
$accounting
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
# CPUs and memory are both consumed; a job that asks for no memory gets its share per CPU.
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$((mem / cpus))
ReturnToService=2
# SIGTERM, then SIGKILL this many seconds later (time limit, scancel).
KillWait=10
# Start a submitted batch job at once rather than up to 3 s later (the default batch_sched_delay).
SchedulerParameters=batch_sched_delay=0
MailProg=/bin/true
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
  chmod 0644 "$CONF"
}

start_munge() {
  local key="$DIR/munge/munge.key"
  if live_pid "$DIR/munge/munged.pid" >/dev/null; then return 0; fi
  install -d -o munge -g munge -m 0755 "$DIR/munge"
  if [ ! -s "$key" ]; then
    mungekey --create --keyfile="$key"
    say "created the munge key $key"
  fi
  chown munge:munge "$key"
  chmod 0600 "$key"
  runuser -u munge -- munged --socket="$DIR/munge/munge.socket" --key-file="$key" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed"
}

# A MariaDB of our own for slurmdbd: created on first use, on 127.0.0.1 only, a new password each start.
start_mariadb() {
  local data="$DIR/mysql/data" sock="$DIR/mysql/mysqld.sock" pw
  mkdir -p "$DIR/mysql"
  chmod 0700 "$DIR/mysql"
  if [ ! -d "$data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$data" --user=root --auth-root-authentication-method=socket \
      --skip-test-db >"$DIR/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed: see $DIR/log/mariadb-install.log"
  fi
  setsid mariadbd --no-defaults --datadir="$data" --socket="$sock" --port="$DB_PORT" --bind-address=127.0.0.1 \
    --pid-file="$DIR/run/mariadbd.pid" --log-error="$DIR/log/mariadb.log" --user=root \
    --innodb-buffer-pool-size=64M --innodb-lock-wait-timeout=900 </dev/null >/dev/null 2>&1 &
  wait_until "MariaDB to answer" mariadb --no-defaults --socket="$sock" -e 'select 1'
  pw=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  mariadb --no-defaults --socket="$sock" -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1';
    ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pw'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  # slurmdbd reads slurmdbd.conf next to slurm.conf; only root may read it (the password).
  (umask 077 && cat >"$DIR/slurmdbd.conf" <<EOF
# Written by scripts/slurm-local.sh start --accounting. Keys: man 5 slurmdbd.conf.
DbdHost=$(hostname -s)
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$pw
StorageLoc=slurm_acct_db
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/run/slurmdbd.pid
EOF
  )
}

start_accounting() {
  start_mariadb
  SLURM_CONF=$CONF slurmdbd
  wait_until "slurmdbd to answer" env SLURM_CONF="$CONF" sacctmgr -n list cluster
  SLURM_CONF=$CONF sacctmgr -i add cluster lab-local >/dev/null 2>&1 || true # already there on a restart
}

link_etc_conf() {
  if [ -e "$ETC_CONF" ] || [ -L "$ETC_CONF" ]; then
    [ "$(readlink "$ETC_CONF" 2>/dev/null || true)" = "$CONF" ] || say "$ETC_CONF exists and is left alone: use SLURM_CONF=$CONF"
    return 0
  fi
  mkdir -p "$(dirname "$ETC_CONF")"
  ln -s "$CONF" "$ETC_CONF"
}

wait_until() {
  local what=$1 deadline=$((SECONDS + WAIT_S))
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "gave up waiting ${WAIT_S}s for: $what; the logs:" >&2
      tail -n 20 "$DIR"/log/*.log "$DIR/munge/munged.log" 2>/dev/null >&2 || true
      exit 1
    fi
    sleep 0.5
  done
}

node_idle() { SLURM_CONF=$CONF sinfo -h -N -o '%t' | grep -qx 'idle'; }

start() {
  need_root start
  need_tools
  if live_pid "$DIR/run/slurmctld.pid" >/dev/null && live_pid "$DIR/run/slurmd.pid" >/dev/null; then
    local running_accounting=no
    [ -f "$DIR/slurmdbd.conf" ] && running_accounting=yes
    [ "$running_accounting" = "$ACCOUNTING" ] || die "already running with accounting $running_accounting: stop it first to change that"
    say "already running (accounting $ACCOUNTING, config $CONF)"
    return 0
  fi
  stop_daemons quiet
  mkdir -p "$DIR"/{state,spool,run,log}
  chmod 0755 "$DIR"
  chmod 0700 "$DIR/log" # the daemons' logs name every member's jobs
  write_conf
  start_munge
  if [ "$ACCOUNTING" = yes ]; then start_accounting; else rm -f "$DIR/slurmdbd.conf"; fi
  # -f: the daemons read our config whatever /etc/slurm holds.
  slurmctld -f "$CONF"
  slurmd -f "$CONF"
  link_etc_conf
  wait_until "the node to be idle in sinfo" node_idle
  wait_until "srun -N1 true" env SLURM_CONF="$CONF" timeout 20 srun -N1 true
  say "running: node $(hostname -s), $(nproc) CPUs, accounting $ACCOUNTING, config $CONF"
  say "client commands: export SLURM_CONF=$CONF"
}

# TERM to the daemons these pid files name (each by its pid, all at once), KILL after 10 s.
stop_pids() {
  local quiet=$1 name pid pids=()
  shift
  for name in "$@"; do
    pid=$(live_pid "$DIR/$name.pid") || continue
    [ "$quiet" = quiet ] || say "stopping ${name#*/} (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

# The Slurm daemons first, then slurmdbd, its database and munged (which they need to the end);
# `quiet` for a start's clean-up.
stop_daemons() {
  stop_pids "${1:-loud}" run/slurmd run/slurmctld
  stop_pids "${1:-loud}" run/slurmdbd
  stop_pids "${1:-loud}" run/mariadbd munge/munged
}

stop() {
  need_root stop
  if live_pid "$DIR/run/slurmctld.pid" >/dev/null; then
    # Jobs left in the queue would keep their slurmstepd and processes running after slurmd stops.
    local jobs
    jobs=$(SLURM_CONF=$CONF squeue -h -o '%i' 2>/dev/null | tr '\n' ' ' || true)
    if [ -n "${jobs// /}" ]; then
      say "cancelling jobs still queued: $jobs"
      # shellcheck disable=SC2086 # one argument per job id
      SLURM_CONF=$CONF scancel $jobs || true
      for _ in $(seq 1 40); do [ -z "$(SLURM_CONF=$CONF squeue -h -o '%i' 2>/dev/null)" ] && break; sleep 0.5; done
    fi
  fi
  stop_daemons
  if [ "$(readlink "$ETC_CONF" 2>/dev/null || true)" = "$CONF" ]; then rm -f "$ETC_CONF"; fi
  say "stopped"
}

status() {
  local name pid rc=0
  local daemons=(munge/munged run/slurmctld run/slurmd)
  [ -f "$DIR/slurmdbd.conf" ] && daemons+=(run/mariadbd run/slurmdbd)
  for name in "${daemons[@]}"; do
    if pid=$(live_pid "$DIR/$name.pid"); then
      say "${name#*/} running (pid $pid)"
    else
      say "${name#*/} not running"
      rc=3
    fi
  done
  [ -f "$CONF" ] && say "config $CONF ($(grep -E '^Slurm(ctld|d)Port=' "$CONF" | tr '\n' ' '))"
  if [ "$(readlink "$ETC_CONF" 2>/dev/null || true)" = "$CONF" ]; then say "$ETC_CONF links to it"; fi
  if [ "$rc" -eq 0 ]; then SLURM_CONF=$CONF sinfo -N -l || rc=3; fi
  return "$rc"
}

case "${1:-}" in
  start)
    [ -z "${2:-}" ] || [ "$ACCOUNTING" = yes ] || die "unknown option $2 (start takes --accounting)"
    start ;;
  stop) stop ;;
  status) status ;;
  env) printf 'export SLURM_CONF=%q\n' "$CONF" ;;
  *) die "usage: $0 start [--accounting]|stop|status|env   (folder: LAB_SLURM_DIR, now $DIR)" ;;
esac
