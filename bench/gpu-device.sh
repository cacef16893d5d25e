#!/usr/bin/env bash
# On a machine with a real NVIDIA GPU, in one step: what the agent sees of the GPUs, from a fresh
# clone of this repository. Needs nothing but the repository, Node.js >= 20 (with npm) and
# nvidia-smi. Prints its results as Markdown, ready for BENCHMARKS.md ("GPU device run").
#
#   bench/gpu-device.sh            clone HEAD of this checkout into a temp folder, npm ci, build, probe
#   bench/gpu-device.sh --here     use this checkout as it is (npm ci and build in place)
#
# Steps: 1. the driver's own view (nvidia-smi --version, -L, the two raw queries the probe runs);
# 2. fresh clone, npm ci (registry, else npm's cache, else this checkout's node_modules), build;
# 3. the probe (src/services/gpu/probe.ts) against the real nvidia-smi: its view and its time;
# 4. one 1-GPU job through a tick (local mode, temporary HOME): what the job saw in CUDA_VISIBLE_DEVICES.
# Exit codes: 0 all ran; 1 a step failed; 2 no GPU here (no nvidia-smi, no driver, no GPU).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
SMI=${NVIDIA_SMI:-nvidia-smi}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lab-gpu-device.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

say() { printf '%s\n' "$*"; }
fail() { printf 'gpu-device: %s\n' "$1" >&2; exit "${2:-1}"; }
section() { printf '\n### %s\n\n' "$*"; }
fenced() { printf '```\n'; "$@" 2>&1 || printf '(exit %s)\n' "$?"; printf '```\n'; }

# --- 0. preconditions: a GPU, Node >= 20 --------------------------------------------------------
command -v "$SMI" >/dev/null 2>&1 || fail "no nvidia-smi on this machine (PATH=$PATH): it has no NVIDIA GPU or driver; run this on a GPU machine" 2
if ! "$SMI" -L >/dev/null 2>&1; then
  fail "nvidia-smi sees no usable GPU here: $("$SMI" -L 2>&1 | head -1)" 2
fi
command -v node >/dev/null 2>&1 || fail "no node on PATH: install Node.js 20 or newer"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || fail "Node.js $(node --version) is too old: 20 or newer is needed"
if "$SMI" --version 2>/dev/null | grep -q 'stand-in'; then
  say "**WARNING: $SMI is the test stand-in (test/bin/nvidia-smi), not a real GPU: the figures below mean nothing.**"
fi

say "## GPU device run: $(hostname -s), $(date -u +%Y-%m-%dT%H:%MZ)"
say
say "Node $(node --version), commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"

# --- 1. the driver's own view -------------------------------------------------------------------
section "nvidia-smi --version"
fenced "$SMI" --version
section "nvidia-smi -L"
fenced "$SMI" -L

# --- 2. fresh clone, install, build -------------------------------------------------------------
if [ "${1:-}" = --here ]; then
  APP=$SRC
else
  APP="$WORK/repo"
  # The commit this checkout is at (a plain clone would check out the default branch instead).
  if ! { git clone --quiet --no-checkout "$SRC" "$APP" && git -C "$APP" checkout --quiet "$(git -C "$SRC" rev-parse HEAD)"; }; then
    fail "git clone of $SRC failed"
  fi
fi
(
  cd "$APP"
  if ! npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1 &&
     ! npm ci --offline --no-audit --no-fund --loglevel=error >>"$WORK/npm.log" 2>&1; then
    # No registry from here (a closed GPU node): the dependencies of the checkout this came from.
    [ -d "$SRC/node_modules" ] && [ "$APP" != "$SRC" ] || { cat "$WORK/npm.log" >&2; exit 1; }
    cp -a "$SRC/node_modules" "$APP/node_modules"
    echo "(npm ci could not reach a registry: node_modules copied from $SRC)"
  fi
  npm run build --silent
) || fail "install/build failed in $APP"

# The exact argv the probe runs, from the built code (no second copy of the field lists here).
mapfile -t QUERIES < <(cd "$APP" && node --input-type=module -e "
  const m = await import('./dist/services/gpu/nvidia-smi-output.js');
  console.log(m.GPU_QUERY_ARGS.join(' ')); console.log(m.APPS_QUERY_ARGS.join(' '));")
for q in "${QUERIES[@]}"; do
  section "nvidia-smi $q"
  # shellcheck disable=SC2086 # the two arguments of each query, split on purpose
  fenced "$SMI" $q
done

# --- 3. the probe against the real driver -------------------------------------------------------
section "What the agent's probe sees (probeGpus, 5 runs)"
probe_rc=0
(cd "$APP" && NVIDIA_SMI="$SMI" node --input-type=module -e "
  const { probeGpus } = await import('./dist/services/gpu/probe.js');
  const times = [];
  let view;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    view = await probeGpus({ command: process.env.NVIDIA_SMI });
    times.push(performance.now() - t);
  }
  console.log('| GPU | model | uuid | memory used / total MiB | util % | temp C | processes | usable |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const g of view.gpus) {
    const procs = g.processes.map((p) => p.pid + ' (' + (p.usedMemoryMiB ?? '?') + ' MiB)').join(', ') || '-';
    console.log('| ' + [g.index, g.model, g.uuid, g.memoryUsedMiB + ' / ' + g.memoryTotalMiB, g.utilizationPct ?? 'n/a', g.temperatureC ?? 'n/a', procs, g.unusable ? 'no: ' + g.unusable : 'yes'].join(' | ') + ' |');
  }
  console.log();
  console.log('status: ' + view.status + '; problem: ' + (view.problem ?? 'none') + '; lost: ' + view.lost.length + '; notes: ' + (view.notes.join(' / ') || 'none'));
  console.log('probe wall time per tick (ms, 5 runs, nvidia-smi included): ' + times.map((t) => t.toFixed(1)).join(', '));
  console.log();
  console.log('<details><summary>the whole view (JSON)</summary>');
  console.log();
  console.log('\`\`\`json');
  console.log(JSON.stringify(view, null, 2));
  console.log('\`\`\`');
  console.log('</details>');
  process.exitCode = view.status === 'ok' && view.gpus.some((g) => !g.unusable) ? 0 : 3;
") || probe_rc=$?
case "$probe_rc" in
  0) ;;
  3) fail "the probe sees no usable GPU (see its problem line above)" 2 ;;
  *) fail "the probe failed (exit $probe_rc)" ;;
esac

# --- 4. one 1-GPU job through a tick ------------------------------------------------------------
# A private member in local mode (embedded database under a temporary HOME): submit --gpus 1, tick
# until the job ends, then compare what the job saw with what the agent leased.
section "One 1-GPU job through a tick"
H="$WORK/home"
mkdir -p "$H"
cat >"$H/gpu_job.py" <<'PY'
import os, subprocess
print("CUDA_VISIBLE_DEVICES=" + os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"))
print("CUDA_DEVICE_ORDER=" + os.environ.get("CUDA_DEVICE_ORDER", "<unset>"))
try:
    print(subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout.strip())
except Exception as e:
    print("nvidia-smi -L: " + str(e))
try:
    import torch
    print("torch.cuda.device_count()=%d" % torch.cuda.device_count())
except ImportError:
    print("torch: not installed")
PY
# As root (a bare GPU node), the agent runs only when told to (LAB_ALLOW_ROOT).
ALLOW_ROOT=false
[ "$(id -u)" = 0 ] && ALLOW_ROOT=true
agent() { (cd "$APP" && HOME="$H" LAB_HOST=gpu-device LAB_EMAIL='' LAB_LOG_LEVEL=warn LAB_ALLOW_ROOT="$ALLOW_ROOT" \
  node dist/index.js "$@"); }
job=$(agent submit --gpus 1 "$H/gpu_job.py") || fail "submit --gpus 1 failed"
for _ in $(seq 1 60); do
  agent tick >/dev/null 2>&1 || true
  state=$(agent status --json "$job" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).status))')
  case "$state" in finished|failed|cancelled) break ;; esac
  sleep 1
done
say "job $job: $state"
fenced agent status "$job"
section "What the job printed"
fenced agent logs "$job"
row_cvd=$(agent status --json "$job" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).cuda_visible_devices ?? ""))')
seen=$(agent logs "$job" | sed -n 's/^CUDA_VISIBLE_DEVICES=//p')
[ "$state" = finished ] || fail "the job did not finish ($state)"
if [ -z "$row_cvd" ] || [ "$row_cvd" != "$seen" ]; then fail "the job saw CUDA_VISIBLE_DEVICES=$seen, the agent leased $row_cvd"; fi
case "$row_cvd" in GPU-*,*|'') fail "one GPU UUID expected, got $row_cvd" ;; GPU-*) ;; *) fail "not a GPU UUID: $row_cvd" ;; esac
"$SMI" -L | grep -q "UUID: $row_cvd)" || fail "$row_cvd is not one of this host's GPUs"
say "the job saw exactly the GPU the agent leased: $row_cvd"
