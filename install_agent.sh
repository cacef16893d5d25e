#!/usr/bin/env bash
# install_agent.sh: installs lab-job-agent for the user running it. No root needed; safe to rerun
# (it fast-forwards the code, keeps your .env, and leaves exactly one cron line).
#
#   bash install_agent.sh [--yes] [--set KEY=VALUE]... [--systemd] [--no-login]
#   bash install_agent.sh --uninstall [--purge]
#
# LAB_AGENT_REPO: git URL or path to clone (default: the checkout this script is in, or its origin)
# LAB_AGENT_DIR:  the agent folder (default ~/lab_job_agent): code, .env, agent.log
set -euo pipefail

# The same marker and unit name as src/services/doctor/scheduler.ts.
MARKER='# lab-job-agent'
UNIT=lab-agent.service
OLD_CRON_PREFIX='# disabled by install_agent.sh (the original Python agent; lab-agent tick replaces it): '
# Asked interactively, and always written to a new .env.
PROMPT_KEYS=(LAB_EMAIL SUPABASE_URL SUPABASE_ANON_KEY SMTP_HOST SMTP_PORT JUPYTER_IP)

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" 2>/dev/null | sed 's/^# \{0,1\}//'
  cat <<'EOF'

options:
  --yes, -y          no questions: .env values from the environment (LAB_EMAIL=... etc.) and --set
  --set KEY=VALUE    a configuration value for a new .env (repeatable); `lab-agent config --doc` lists keys
  --email ADDRESS    the same as --set LAB_EMAIL=ADDRESS
  --systemd          also install a systemd user unit running `lab-agent supervise`
  --no-login         do not offer `lab-agent login`
  --uninstall        remove the cron line, the unit and the lab-agent link; keep code, .env and logs
  --purge            with --uninstall: also delete the agent folder, its local database, job logs and code cache
EOF
}

say() { printf '%s\n' "$*"; }
step() { printf '\n==> %s\n' "$*"; }
DONE=()
did() { DONE+=("$1"); printf '  ✔ %s\n' "$1"; }
die() { printf 'install_agent.sh: %s\n' "$*" >&2; exit 1; }

YES=0 SYSTEMD=0 UNINSTALL=0 PURGE=0 NO_LOGIN=0
SETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -y|--yes) YES=1 ;;
    --systemd) SYSTEMD=1 ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 UNINSTALL=1 ;;
    --no-login) NO_LOGIN=1 ;;
    --set) [ $# -ge 2 ] || die "--set needs KEY=VALUE"; SETS+=("$2"); shift ;;
    --set=*) SETS+=("${1#--set=}") ;;
    --email) [ $# -ge 2 ] || die "--email needs an address"; SETS+=("LAB_EMAIL=$2"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
for kv in "${SETS[@]+"${SETS[@]}"}"; do
  [[ "$kv" =~ ^[A-Z][A-Z0-9_]*=.*$ ]] || die "--set $kv: write it as KEY=VALUE"
done

[ "$(id -u)" != 0 ] || die "run this as the lab member whose jobs the agent runs, not as root (no root is needed)"
if [ -z "${HOME:-}" ] || [ ! -d "$HOME" ]; then die "HOME is not set to your home folder"; fi
USER="${USER:-$(id -un)}"
DIR="${LAB_AGENT_DIR:-$HOME/lab_job_agent}"
# shellcheck disable=SC2088 # a literal ~ given in LAB_AGENT_DIR, expanded here
case "$DIR" in "~"|"~/"*) DIR="$HOME${DIR#\~}" ;; esac
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
DIR="${DIR%/}"
[[ "$DIR" =~ ^[A-Za-z0-9_./+-]+$ ]] || die "LAB_AGENT_DIR=$DIR: use a folder path without spaces or quotes (cron runs it through sh)"
WRAPPER="$DIR/bin/lab-agent"
UNIT_DIR="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"
LINK="$HOME/.local/bin/lab-agent"
CRON_LINE="* * * * * $WRAPPER tick >/dev/null 2>&1 $MARKER"

# Where questions are read from: the terminal, even under `curl ... | bash`.
ASK_FD=""
if [ -t 0 ]; then ASK_FD=0; elif { exec 3</dev/tty; } 2>/dev/null; then ASK_FD=3; fi

has() { command -v "$1" >/dev/null 2>&1; }
user_manager() { has systemctl && systemctl --user show-environment >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------
# cron: our line only; the user's other lines stay as they are.

crontab_now() { crontab -l 2>/dev/null || true; }

set_cron() { # $1 = add|remove; returns 1 when nothing changed
  local current new
  current="$(crontab_now)"
  # Our line is replaced where it stands (extra copies dropped), else appended.
  new="$(printf '%s\n' "$current" | awk -v m="$MARKER" -v p="$OLD_CRON_PREFIX" -v mode="$1" -v line="$CRON_LINE" '
    index($0, m) { if (mode == "add" && !done) print line; done = 1; next }
    /^[[:space:]]*#/ { print; next }
    mode == "add" && /lab_job_agent/ && /(python|\.py)/ { print p $0; next }
    { print }
    END { if (mode == "add" && !done) print line }')"
  if [ -z "$current" ]; then new=""; [ "$1" != add ] || new="$CRON_LINE"; fi
  if [ "$new" = "$current" ]; then return 1; fi
  if [ -n "$new" ]; then printf '%s\n' "$new" | crontab -; else crontab -r 2>/dev/null || true; fi
  if [ "$1" = add ] && grep -qF "$OLD_CRON_PREFIX" <<<"$new" && ! grep -qF "$OLD_CRON_PREFIX" <<<"$current"; then
    say "  ! the original Python agent's cron line is now commented out (two agents would both take your jobs)"
  fi
  return 0
}

# ---------------------------------------------------------------------------------------------
# uninstall

# An agent setting, read through the installed CLI (falls back to the default when it cannot run).
setting() {
  local v=""
  if [ -x "$WRAPPER" ]; then
    v="$("$WRAPPER" config --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{process.stdout.write(JSON.parse(s).values[process.argv[1]]??"")}catch{}})' "$1" 2>/dev/null || true)"
  fi
  printf '%s' "${v:-$2}"
}

safe_rm() { # refuses anything that is not a folder of its own below home or /tmp-like places
  local d="$1"
  case "$d" in ""|/|"$HOME"|"$HOME/") say "  ! not deleting $d"; return ;; esac
  [ -e "$d" ] || return 0
  rm -rf -- "$d" && did "deleted $d"
}

uninstall() {
  step "Uninstalling lab-job-agent for $USER"
  if [ -f "$UNIT_DIR/$UNIT" ]; then
    if user_manager; then systemctl --user disable --now "$UNIT" >/dev/null 2>&1 || true; fi
    rm -f "$UNIT_DIR/$UNIT"
    if user_manager; then systemctl --user daemon-reload || true; fi
    did "removed the systemd unit $UNIT_DIR/$UNIT"
  fi
  if has crontab && set_cron remove; then did "removed the cron line (your other cron lines are unchanged)"; else say "  - no lab-agent cron line"; fi
  if [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$WRAPPER" ]; then rm -f "$LINK"; did "removed the link $LINK"; fi
  if [ "$PURGE" = 1 ]; then
    local data logs
    data="$(setting LAB_DATA_DIR "$HOME/.local/share/lab-job-agent")"
    logs="$(setting LAB_LOG_DIR "$HOME/lab_job_logs")"
    local pgjs="$DIR/dist/services/store/local-postgres.js"
    if [ -f "$pgjs" ]; then
      if node -e 'import(process.argv[1]).then((m) => m.stopLocalPostgres(process.argv[2]))' "file://$pgjs" "$data"; then
        did "stopped the local database"
      else
        say "  ! could not stop the local database (see $data/postgres/postgres.log)"
      fi
    fi
    safe_rm "$DIR"
    safe_rm "$data"
    safe_rm "$logs"
    # the compiled code the commands kept (src/code-cache.ts: XDG_CACHE_HOME when it is absolute)
    local cache="${XDG_CACHE_HOME:-}"
    case "$cache" in /*) ;; *) cache="$HOME/.cache" ;; esac
    safe_rm "$cache/lab-job-agent"
    say "Jobs or Jupyter servers still running were left running."
  else
    say "Kept: $DIR (code, .env, agent.log), your job logs and the local database."
    say "Jobs still running keep running. To delete everything too: bash install_agent.sh --uninstall --purge"
  fi
}

if [ "$UNINSTALL" = 1 ]; then uninstall; exit 0; fi

# ---------------------------------------------------------------------------------------------
# install: prerequisites first, so nothing is half done when one is missing

node_help() {
  cat >&2 <<'EOF'
Ways to get Node.js 20 or newer without root:
  - nvm:    curl -o- https://raw.githubusercontent.com/nvm-sh/nvm/v0.40.3/install.sh | bash
            then, in a new shell:  nvm install 20
  - the official build: download the Linux .tar.xz from https://nodejs.org/en/download and
            tar -xJf node-v20.*-linux-x64.tar.xz -C ~/.local --strip-components=1
            (~/.local/bin is then on your PATH at your next login)
  - conda:  conda install -c conda-forge 'nodejs>=20'
  - on a cluster with environment modules:  module load nodejs   (ask which versions exist)
Then run this script again.
EOF
}

step "Checking what the agent needs"
has git || die "git is missing: ask your admin to install git, or get it through conda (conda install git)"
if ! has node; then node_help; die "Node.js is not on your PATH"; fi
NODE="$(command -v node)"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 20 ]; then node_help; die "Node.js $(node -v) at $NODE is too old: 20 or newer is needed"; fi
has npm || { node_help; die "npm is missing next to $NODE"; }
say "  node $(node -v) at $NODE, npm $(npm -v), $(git --version)"
if ! has crontab && [ "$SYSTEMD" = 0 ]; then die "no crontab command here: ask your admin for cron, or install with --systemd"; fi
if [ ! -f "$DIR/.env" ] && [ "$YES" = 0 ] && [ -z "$ASK_FD" ]; then
  die "no terminal to ask questions on: run with --yes, giving values in the environment (LAB_EMAIL=...) or with --set KEY=VALUE"
fi

# ---------------------------------------------------------------------------------------------
# the code

SELF_DIR=""
if [ -n "${BASH_SOURCE[0]:-}" ] && [ -f "${BASH_SOURCE[0]}" ]; then SELF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"; fi
is_ours() { [ -f "$1/package.json" ] && grep -q '"name": "lab-job-agent"' "$1/package.json"; }
REPO="${LAB_AGENT_REPO:-}"
if [ -z "$REPO" ] && [ -n "$SELF_DIR" ] && [ -d "$SELF_DIR/.git" ] && is_ours "$SELF_DIR"; then
  REPO="$(git -C "$SELF_DIR" config --get remote.origin.url || true)"
  REPO="${REPO:-$SELF_DIR}"
fi

# True when a folder holds agent.log (and its rotations) and nothing else.
only_agent_logs() {
  local f any=""
  for f in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    [ -e "$f" ] || continue
    case "${f##*/}" in agent.log|agent.log.[0-9]*) any=1 ;; *) return 1 ;; esac
  done
  [ -n "$any" ]
}

step "Getting the code into $DIR"
if [ -d "$DIR/.git" ] && is_ours "$DIR"; then
  before="$(git -C "$DIR" rev-parse HEAD)"
  if [ -n "$REPO" ] && [ "$(cd "$DIR" && pwd -P)" != "$SELF_DIR" ]; then
    git -C "$DIR" pull --quiet --ff-only "$REPO" HEAD || die "cannot fast-forward $DIR (local changes, or it went its own way): see git -C $DIR status"
  elif git -C "$DIR" rev-parse --abbrev-ref '@{upstream}' >/dev/null 2>&1; then
    git -C "$DIR" pull --quiet --ff-only || die "cannot fast-forward $DIR: see git -C $DIR status"
  fi
  after="$(git -C "$DIR" rev-parse HEAD)"
  if [ "$before" = "$after" ]; then did "code already up to date ($(git -C "$DIR" log -1 --format=%h))"; else did "code fast-forwarded ${before:0:7} → ${after:0:7}"; fi
else
  [ -n "$REPO" ] || die "set LAB_AGENT_REPO to the git URL of lab-job-agent (your lab's copy), e.g. LAB_AGENT_REPO=https://github.com/<lab>/lab-job-agent.git"
  OLD=""
  LOGS=""
  if [ -d "$DIR" ] && only_agent_logs "$DIR"; then
    # Only agent.log (an earlier version's `npm start` from a clone elsewhere wrote it here): kept, put back after the clone.
    LOGS="$(mktemp -d)"
    mv "$DIR"/agent.log* "$LOGS"/ && rmdir "$DIR"
  elif [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    # Most likely the original Python agent: kept aside, its .env carried over.
    OLD="$DIR.old-$(date +%Y%m%d%H%M%S)"
    mv "$DIR" "$OLD"
    did "moved the existing $DIR aside to $OLD"
  fi
  git clone --quiet "$REPO" "$DIR" || die "git clone $REPO failed"
  did "cloned $REPO into $DIR"
  if [ -n "$LOGS" ]; then
    mv "$LOGS"/agent.log* "$DIR"/ && rmdir "$LOGS"
    did "kept the agent.log that was in $DIR"
  fi
  if [ -n "$OLD" ] && [ -f "$OLD/.env" ]; then
    cp "$OLD/.env" "$DIR/.env" && chmod 600 "$DIR/.env"
    did "kept your existing .env (from $OLD); its keys still work"
  fi
fi

step "Installing packages and building"
stamp="$DIR/node_modules/.lab-agent-install"
want="$(sha256sum "$DIR/package-lock.json" | cut -c1-64) node-$NODE_MAJOR"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  did "packages already installed for this package-lock.json"
else
  (cd "$DIR" && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error) || die "npm ci failed in $DIR (see above)"
  printf '%s\n' "$want" > "$stamp"
  did "npm ci"
fi
(cd "$DIR" && npm run build --silent) || die "the build failed in $DIR (see above)"
did "built $DIR/dist"

mkdir -p "$DIR/bin"
cat > "$WRAPPER.tmp" <<EOF
#!/bin/sh
# Written by install_agent.sh: lab-agent with this Node, for your shell and for cron (whose PATH
# has no node). Run install_agent.sh again after moving Node or the agent folder.
LAB_AGENT_DIR="\${LAB_AGENT_DIR:-$DIR}"
export LAB_AGENT_DIR
# tick (cron, every minute) has an entry point of its own that loads only what a tick uses
if [ "\${1:-}" = tick ]; then shift; exec '$NODE' '$DIR/dist/tick.cjs' "\$@"; fi
exec '$NODE' '$DIR/dist/index.cjs' "\$@"
EOF
chmod 755 "$WRAPPER.tmp" && mv "$WRAPPER.tmp" "$WRAPPER"
did "command $WRAPPER"
if [ ! -e "$LINK" ] || { [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$WRAPPER" ]; }; then
  mkdir -p "$(dirname "$LINK")" && ln -sfn "$WRAPPER" "$LINK" && did "linked $LINK → $WRAPPER"
else
  say "  ! $LINK exists and is not ours: left alone (use $WRAPPER)"
fi

# ---------------------------------------------------------------------------------------------
# .env

EMPTY_DIR="$(mktemp -d)"
trap 'rm -rf "$EMPTY_DIR"' EXIT
# `lab-agent config` on the given KEY=VALUE pairs only (no .env, no other environment).
config_check() { env -i HOME="$HOME" USER="$USER" PATH="$PATH" LAB_AGENT_DIR="$EMPTY_DIR" "$@" "$NODE" "$DIR/dist/index.cjs" config --json; }
DOC="$("$NODE" "$DIR/dist/index.cjs" config --doc)"
DEFAULTS="$(config_check)"
explain() { printf '%s\n' "$DOC" | awk -F' [|] ' -v k="| \`$1\`" '$1 == k { sub(/ [|]$/, "", $3); sub(/ [(]original agent[)]$/, "", $3); print $3 }'; }
default_of() { printf '%s' "$DEFAULTS" | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).values[process.argv[1]]??""))' "$1"; }
ALL_KEYS="$(printf '%s' "$DEFAULTS" | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(Object.keys(JSON.parse(s).values).join(" ")))')"

declare -A VAL=()
ORDER=()
setval() { [ -n "${VAL[$1]+x}" ] || ORDER+=("$1"); VAL[$1]="$2"; }

ask() { # ask KEY: default + one-line explanation, repeated until `lab-agent config` accepts it
  local key="$1" def="$2" answer err extra=()
  [ "$key" = SUPABASE_URL ] && extra=(SUPABASE_ANON_KEY=placeholder)
  [ "$key" = SUPABASE_ANON_KEY ] && extra=(SUPABASE_URL="${VAL[SUPABASE_URL]}")
  while true; do
    printf '\n%s: %s\n%s [%s]: ' "$key" "$(explain "$key")" "$key" "${def:-empty}"
    IFS= read -r answer <&"$ASK_FD" || die "no answer for $key"
    answer="${answer:-$def}"
    [ "$answer" = "-" ] && answer=""
    if err="$(config_check "${extra[@]+"${extra[@]}"}" "$key=$answer" 2>&1 >/dev/null)"; then setval "$key" "$answer"; return; fi
    printf '  ✖ %s\n' "$(grep -F "$key" <<<"$err" | sed 's/^ *- //' | head -3 || true)"
  done
}

quote_env() { # a dotenv value: bare when plain, else single-quoted
  if [[ "$1" =~ ^[A-Za-z0-9_./:@+,=-]*$ ]]; then printf '%s' "$1"
  elif [[ "$1" != *"'"* ]]; then printf "'%s'" "$1"
  else die "values with a single quote cannot go in .env: $1"; fi
}

step "Configuration ($DIR/.env)"
if [ -f "$DIR/.env" ]; then
  if [ "$(stat -c %a "$DIR/.env")" != 600 ]; then chmod 600 "$DIR/.env"; did "made .env private (mode 600)"; fi
  did "kept the existing .env (edit it, or see \`lab-agent config\`)"
else
  for kv in "${SETS[@]+"${SETS[@]}"}"; do
    [[ " $ALL_KEYS " = *" ${kv%%=*} "* ]] || die "--set ${kv%%=*}: no such key (see lab-agent config --doc)"
    setval "${kv%%=*}" "${kv#*=}"
  done
  if [ "$YES" = 1 ]; then
    for key in $ALL_KEYS; do
      [ "$key" = LAB_AGENT_DIR ] && continue
      if [ -z "${VAL[$key]+x}" ] && [ -n "${!key:-}" ]; then setval "$key" "${!key}"; fi
    done
    for key in "${PROMPT_KEYS[@]}"; do [ -n "${VAL[$key]+x}" ] || setval "$key" "$(default_of "$key")"; done
  else
    say "Press Enter to keep the value in [brackets]; type - for empty."
    for key in "${PROMPT_KEYS[@]}"; do
      if [ "$key" = SUPABASE_ANON_KEY ] && [ -z "${VAL[SUPABASE_URL]}" ]; then setval "$key" ""; continue; fi
      if [[ "$key" = SMTP_* ]] && [ -z "${VAL[LAB_EMAIL]}" ]; then setval "$key" "$(default_of "$key")"; continue; fi
      def="${VAL[$key]-${!key:-$(default_of "$key")}}"
      ask "$key" "$def"
    done
  fi
  pairs=()
  for key in "${ORDER[@]}"; do [ -z "${VAL[$key]}" ] || pairs+=("$key=${VAL[$key]}"); done
  if ! err="$(config_check "${pairs[@]+"${pairs[@]}"}" 2>&1 >/dev/null)"; then die "the configuration is not valid, nothing written:$(printf '\n%s' "$err")"; fi
  body="$(
    say "# lab-job-agent configuration, written by install_agent.sh on $(date '+%Y-%m-%d %H:%M')."
    say "# Every key: \`lab-agent config --doc\`; the effective values: \`lab-agent config\`."
    for key in "${ORDER[@]}"; do printf '\n# %s\n%s=%s\n' "$(explain "$key")" "$key" "$(quote_env "${VAL[$key]}")"; done
  )"
  # Private from its first byte: written under umask 077, then renamed into place.
  (umask 077 && printf '%s\n' "$body" > "$DIR/.env.tmp") && chmod 600 "$DIR/.env.tmp" && mv "$DIR/.env.tmp" "$DIR/.env"
  did "wrote $DIR/.env (mode 600)"
fi
"$WRAPPER" config >/dev/null || die "the agent does not accept $DIR/.env (see above); fix it, then run this again"

# The local database (no SUPABASE_URL, no LAB_DATABASE_URL) is the agent's own: its schema is
# created here, and brought up to date after an update, explicitly (opening it never migrates).
if [ "$("$WRAPPER" config --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{process.stdout.write(JSON.parse(s).mode)}catch{}})')" = local ]; then
  step "Local database"
  if migrated="$("$WRAPPER" db migrate 2>&1)"; then did "${migrated//$'\n'/; }"
  else say "$migrated"; say "  ! the local database could not be migrated; the agent's first start tries again (lab-agent db migrate)"; fi
fi

# ---------------------------------------------------------------------------------------------
# running it: cron every minute, and/or a systemd user unit

step "Scheduling"
if has crontab; then
  if set_cron add; then did "cron line set: $CRON_LINE"; else did "cron line already present (one, your other lines unchanged)"; fi
fi
if [ "$SYSTEMD" = 1 ] || [ -f "$UNIT_DIR/$UNIT" ]; then
  mkdir -p "$UNIT_DIR"
  cat > "$UNIT_DIR/$UNIT" <<EOF
# Written by install_agent.sh: the lab-job-agent supervisor for $USER.
[Unit]
Description=lab-job-agent: runs your lab jobs and Jupyter servers
After=network-online.target

[Service]
Environment=LAB_AGENT_DIR=$DIR
ExecStart=$WRAPPER supervise
Restart=on-failure
RestartSec=10
# Stop only the agent: jobs and Jupyter servers it started are detached and keep running.
KillMode=process

[Install]
WantedBy=default.target
EOF
  did "systemd user unit $UNIT_DIR/$UNIT"
  if user_manager; then
    if systemctl --user daemon-reload && systemctl --user enable "$UNIT" >/dev/null 2>&1 && systemctl --user restart "$UNIT"; then
      did "unit enabled and (re)started: systemctl --user status lab-agent"
    else
      say "  ! could not start it: systemctl --user status lab-agent"
    fi
  else
    say "  ! no systemd user manager reachable from here: in a login shell run"
    say "      systemctl --user daemon-reload && systemctl --user enable --now lab-agent"
  fi
  if [ "$(loginctl show-user "$USER" -p Linger --value 2>/dev/null || true)" != yes ]; then
    say "  ! lingering is needed for the unit to keep running after you log out: loginctl enable-linger $USER"
    say "    (if that is refused, ask your admin; meanwhile the cron line keeps jobs going)"
  fi
fi

# ---------------------------------------------------------------------------------------------
# sign-in (Supabase with the anon key) and what next

NEXT=()
if [ -n "$(setting SUPABASE_ANON_KEY "")" ]; then
  if [ -f "$(setting LAB_DATA_DIR "$HOME/.local/share/lab-job-agent")/supabase-session.json" ]; then
    did "already signed in to Supabase (lab-agent logout to sign out)"
  elif [ "$NO_LOGIN" = 0 ] && [ "$YES" = 0 ] && [ -n "$ASK_FD" ]; then
    printf '\nSign in to Supabase now, so the agent acts as you (lab-agent login)? [Y/n] '
    IFS= read -r yn <&"$ASK_FD" || yn=n
    if [[ "$yn" =~ ^([Yy].*)?$ ]]; then
      if "$WRAPPER" login <&"$ASK_FD"; then did "signed in to Supabase"; else NEXT+=("lab-agent login     (sign in to Supabase; it failed above)"); fi
    else NEXT+=("lab-agent login     (sign in to Supabase, so the agent acts as you)"); fi
  else
    NEXT+=("lab-agent login     (sign in to Supabase, so the agent acts as you)")
  fi
elif [ -n "$(setting SUPABASE_SERVICE_KEY "")" ] && [ -z "$(setting LAB_USER_ID "")" ]; then
  # The service key can act as anyone: the agent acts only for the id written in .env, never a guess.
  if [ "$NO_LOGIN" = 0 ] && [ "$YES" = 0 ] && [ -n "$ASK_FD" ]; then
    printf '\nWith the service key the agent needs your account id (LAB_USER_ID). Find it by your verified email now (lab-agent login)? [Y/n] '
    IFS= read -r yn <&"$ASK_FD" || yn=n
    if [[ "$yn" =~ ^([Yy].*)?$ ]] && "$WRAPPER" login <&"$ASK_FD"; then did "LAB_USER_ID written to $DIR/.env"
    else NEXT+=("lab-agent login     (finds your account by your verified email and writes LAB_USER_ID; the agent does not start without it)"); fi
  else
    NEXT+=("lab-agent login     (finds your account by your verified email and writes LAB_USER_ID; the agent does not start without it)")
  fi
fi
NEXT+=("lab-agent doctor    (checks database, identity, Python, Jupyter, email, cron, ports, logs)")
NEXT+=("lab-agent submit ~/your_script.py -- --your args   then: lab-agent ls, lab-agent logs <id>")

step "Done"
for d in "${DONE[@]}"; do say "  ✔ $d"; done
say ""
say "Next:"
for n in "${NEXT[@]}"; do say "  $n"; done
case ":$PATH:" in
  *":$HOME/.local/bin:"*) ;;
  *) say "  (lab-agent is $WRAPPER; ~/.local/bin, where it is linked, joins your PATH at your next login)" ;;
esac
