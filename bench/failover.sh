#!/bin/bash
# Failover benchmark: the virtual IP's outage as a client sees it (probe every
# 20 ms + ARP watch) when the active node's daemon is killed (kill -9) or all
# its links are cut -- ironbeat beside heartbeat 3.0.6 (haresources + IPaddr2,
# keepalive 10ms / deadtime 50ms) and keepalived 2.2.7 (VRRPv3, 0.1 s and
# 0.01 s adverts), on the same namespace lab (src/lab/), in one run.
# Method: benches/failover.rs.
#
#   sudo bench/failover.sh [--trials N] [--quick] [--stacks LIST] [--faults LIST]
#                          [--soak SECS] [--out FILE]
#
#   --trials N     trials per stack and fault (default 20)
#   --quick        3 trials (a smoke run, ~3 minutes)
#   --stacks LIST  heartbeat,heartbeat-100ms,keepalived-0.1s,keepalived-0.01s,
#                  ironbeat,ironbeat-40ms,ironbeat-fenced,ironbeat-fenced-nodelay
#                  (default: all but heartbeat-100ms). The fenced rows fence
#                  through the lab's BMCs (a fenced node reboots in 3 s);
#                  -nodelay runs the daemon with --priority-fencing-delay 0s
#   --faults LIST  kill9,linkdown (default both; the fenced rows only kill9,
#                  see BENCHMARKS.md)
#   --settle SECS  quiet time before each fault once node1 answers (default 4)
#   --soak SECS    instead of trials: hold the VIP for SECS with every core
#                  loaded by stress-ng; count false failovers (the target run
#                  is --soak 600 --stacks ironbeat)
#
# Defaults take about 40 minutes (heartbeat's link-cut trials wait ~17 s each
# for its partition restart). Prints a markdown table (and writes --out FILE).
# Keep the machine otherwise idle: the figures are scheduling sensitive.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [ "$(id -u)" -ne 0 ]; then
  echo "needs root (network namespaces): sudo $0 $*" >&2
  exit 1
fi
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/install-test-deps.sh
cargo build --release -p ironbeat --bin ironbeat
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
export IRONBEAT_BIN="$TARGET/release/ironbeat"
exec cargo bench -p ironbeat --bench failover -- "$@"
