#!/usr/bin/env bash
# Runs every check Ember's CI runs: formatting, lints, all tests (unit,
# property, conformance, and interop against real Debian peers on loopback),
# doc tests, and a build check of the fuzz targets.
# Installs the system packages the tests need when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v promtool >/dev/null 2>&1 || need_pkgs+=(prometheus)
command -v prometheus >/dev/null 2>&1 || need_pkgs+=(prometheus)
[ -x /usr/bin/prometheus-node-exporter ] || need_pkgs+=(prometheus-node-exporter)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium fonts-dejavu-core)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "==> installing test peers: ${need_pkgs[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# The interop tests run a real Python prometheus_client app with the
# python3 on PATH, so install the client into that interpreter.
if ! python3 -c 'import prometheus_client' >/dev/null 2>&1; then
  echo "==> installing Python prometheus_client"
  python3 -m pip install --quiet prometheus_client
fi
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "==> installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "==> fuzz targets build"
for manifest in fuzz/Cargo.toml crates/*/fuzz/Cargo.toml; do
  cargo check --quiet --manifest-path "$manifest"
done
echo "==> doc tests"
cargo test --workspace --doc --quiet
echo "==> cargo nextest"
cargo nextest run --workspace --no-fail-fast
