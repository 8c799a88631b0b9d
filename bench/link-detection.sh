#!/bin/bash
# Link-layer benchmark: failure detection after kill -9, idle CPU and memory of
# `ironbeat link watch`, beside legacy heartbeat 3.0.6 measured in the same run
# on the same namespace lab (see hw-tests/src/bin/bench-link.rs for the method).
#
#   sudo bench/link-detection.sh [--trials N] [--hb-trials N] [--window SECS]
#                                [--no-legacy | --only-legacy] [--out FILE]
#
# Defaults: 20 ironbeat trials per scenario, 10 heartbeat trials (each starts a
# fresh heartbeat pair and waits ~11 s for its steady state), 30 s windows;
# about 7 minutes. Writes the markdown tables to stdout (and --out FILE).
# Keep the machine otherwise idle: the figures are CPU and scheduling sensitive.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [ "$(id -u)" -ne 0 ]; then
  echo "needs root (network namespaces): sudo $0 $*" >&2
  exit 1
fi
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/install-test-deps.sh
cargo build --release -p ironbeat --bin ironbeat -p ironbeat-hw-tests --bin bench-link
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
export IRONBEAT_BIN="$TARGET/release/ironbeat"
exec "$TARGET/release/bench-link" "$@"
