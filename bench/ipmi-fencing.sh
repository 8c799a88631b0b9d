#!/bin/bash
# IPMI fencing benchmark: status and reboot latency, CPU time and peak RSS of
# ironbeat's `stonith -t ipmi` and `fence_ironbeat`, beside ipmitool,
# fence_ipmilan and cluster-glue's external/ipmi and ipmilan plugins, all
# measured in the same run against the same OpenIPMI ipmi_sim (network
# namespaces ibbench-<pid>-bmc / -cli, 198.18.30.0/24; see
# hw-tests/src/bin/bench-ipmi.rs for the method).
#
#   sudo bench/ipmi-fencing.sh [--runs N] [--out FILE]
#
# Defaults: 10 runs per row after one warm-up round; about 2 minutes, most of
# it fence_ipmilan's default reboot (power_wait=2) and cluster-glue's
# external/ipmi (1 s polling). Writes the markdown table to stdout (and
# --out FILE). Keep the machine otherwise idle: wall times are load sensitive.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [ "$(id -u)" -ne 0 ]; then
  echo "needs root (network namespaces): sudo $0 $*" >&2
  exit 1
fi
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/install-test-deps.sh
cargo build --release -p ironbeat --bin stonith --bin fence_ironbeat
cargo build --release -p ironbeat-hw-tests --bin bench-ipmi
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
exec "$TARGET/release/bench-ipmi" "$@"
