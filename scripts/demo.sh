#!/bin/bash
# The main job, on one machine: build ironbeat and watch its link layer between
# two nodes in network namespaces — veth "crossover cables" (UDP unicast and
# broadcast on 198.18.0.0/15, raw Ethernet), a pty "null-modem cable" (serial)
# and a classic /etc/ha.d per node. It pulls a cable, kills a node, restarts it,
# prints what each node reports, and removes everything it created (also on Ctrl-C).
#
#   sudo ./scripts/demo.sh [--keepalive-ms 100] [--deadtime-ms 500]
#
# Installs the build dependencies (and Rust, via rustup) if they are missing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [ "$(id -u)" -ne 0 ]; then
  echo "the demo creates network namespaces and needs root: sudo $0 $*" >&2
  exit 1
fi
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/install-test-deps.sh --demo
echo "[demo] building ironbeat (release)…"
cargo build --release --quiet -p ironbeat --bin ironbeat
exec "${CARGO_TARGET_DIR:-$ROOT/target}/release/ironbeat" demo "$@"
