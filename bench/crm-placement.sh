#!/bin/bash
# Placement benchmark: ironbeat's policy engine (in-process, and
# `ironbeat crm simulate` as a process) beside Pacemaker 2.1.5's
# `crm_simulate -R --output-as=xml`, on the same generated CIBs (100, 1,000
# and 10,000 resources over 3, 16 and 32 nodes; groups, clones, location,
# colocation and order constraints), measured in one run: wall time and peak
# RSS, their ratios, whether both print the same Transition Summary, and how
# the engine's cost grows with the number of constraints. See
# hw-tests/src/bin/bench-crm.rs for the generator and the method.
#
#   bench/crm-placement.sh [--runs N] [--peer-runs N] [--sizes 100x3,1000x16,...]
#                          [--out FILE] [--keep DIR]
#
# Needs no root and no network. Defaults: ours median of 5 runs, crm_simulate
# median of 3 per size; about two minutes, most of it crm_simulate on 10,000
# resources.
# Writes the markdown table to stdout (and --out FILE). Keep the machine
# otherwise idle: wall times are load sensitive.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v crm_simulate >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    bash scripts/install-test-deps.sh
  else
    echo "crm_simulate missing: sudo apt-get install pacemaker-cli-utils (or scripts/install-test-deps.sh)" >&2
    exit 1
  fi
fi
cargo build --release -p ironbeat --bin ironbeat
cargo build --release -p ironbeat-hw-tests --bin bench-crm
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
exec "$TARGET/release/bench-crm" "$@"
