#!/bin/bash
# The main job, on one machine: build ironbeat, run `ironbeat demo`: it builds
# a two-node cluster in network namespaces — a LAN switch with a client, a
# veth crossover cable (raw Ethernet), a pty null-modem cable (serial), UDP
# unicast and broadcast on 198.18.0.0/15, a virtual IP, an IPMI BMC per node —
# starts `ironbeat run` on both from a classic /etc/ha.d, kills the active
# node's daemon, and prints the timeline: detection, fencing through the BMC,
# takeover, the VIP answering from the other node, failback. It removes
# everything it created (also on Ctrl-C).
#
#   sudo ./scripts/demo.sh [--keepalive-ms 50] [--deadtime-ms 250] [--fence-delay-ms 1000]
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
