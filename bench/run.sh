#!/usr/bin/env bash
# The whole comparison in one command, from a fresh Debian/Ubuntu machine:
#
#   bench/run.sh [run.py options, e.g. --out DIR]
#
# Installs prometheus and victoria-metrics (apt-get) and matplotlib (pip) when missing,
# builds Ember (cargo build --release -p ember), then runs the 100k scale and the 1m scale
# with the WAL replay comparison; each writes bench/results/<date>-<scale>.{json,md,png}.
# Estimate on 2 cores: ~47 min of runs (100k ~17, 1m ~24, replay ~6) plus installs and the
# build (bench/README.md). Exits non-zero if a run failed or reported a failed cross-check
# or disk snapshot; both scales run regardless.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_servers() {
  local missing=()
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
  [ ${#missing[@]} -eq 0 ] && return
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  # The packages start system services; they would share the machine with the benchmark.
  if command -v systemctl >/dev/null; then
    for unit in "${missing[@]}"; do as_root systemctl disable --now "$unit" 2>/dev/null || true; done
  fi
}

install_matplotlib() {
  python3 -c 'import matplotlib' 2>/dev/null && return
  python3 -m pip install --user matplotlib \
    || python3 -m pip install --user --break-system-packages matplotlib \
    || echo "matplotlib not installed: the reports will have no charts" >&2
}

warn_if_busy() {
  local p
  command -v pidof >/dev/null || return 0
  for p in prometheus victoria-metrics; do
    if pidof "$p" >/dev/null; then
      echo "warning: a $p process is already running; it shares the CPUs with the benchmark" >&2
    fi
  done
}

command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs) first" >&2; exit 1; }
t0=$(date +%s)
install_servers
install_matplotlib
warn_if_busy
cargo build --release -p ember
echo "installs and build: $(( ($(date +%s) - t0) / 60 )) min" >&2

status=0
python3 bench/run.py --scale 100k --profile "$@" || status=$?
python3 bench/run.py --scale 1m --replay --profile "$@" || status=$?
echo "total: $(( ($(date +%s) - t0) / 60 )) min" >&2
exit "$status"
