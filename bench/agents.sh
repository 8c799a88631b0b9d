#!/bin/bash
# Resource-agent benchmark: ironbeat's built-in IP address agent (netlink +
# gratuitous ARP, no fork/exec) beside the OCF IPaddr2 script from Debian's
# resource-agents, on the same virtual IP in two network namespaces joined by
# a veth cable (198.18.0.0/15), in one run: start → first gratuitous ARP seen
# on the peer, start, monitor and stop latency; medians of 20 runs each and
# the ratio. See hw-tests/src/bin/bench-agents.rs for the method.
#
#   bench/agents.sh [--runs N]
#
# Needs root (namespaces). About a minute (each run waits for the 5 x 200 ms
# announcement burst to end). Prints a markdown table.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if [ ! -x /usr/lib/ocf/resource.d/heartbeat/IPaddr2 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    bash scripts/install-test-deps.sh
  else
    echo "the IPaddr2 script is missing: sudo apt-get install resource-agents (or scripts/install-test-deps.sh)" >&2
    exit 1
  fi
fi
cargo build --release -p ironbeat-hw-tests --bin bench-agents
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
exec "$TARGET/release/bench-agents" "$@"
