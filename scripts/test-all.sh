#!/bin/bash
# Everything CI checks, in order, with one summary line at the end:
#   install test dependencies → cargo fmt --check → clippy -D warnings →
#   sans-I/O build of ironbeat-link (--no-default-features) → build the
#   ironbeat binary the hardware tests run → cargo test --workspace.
#
# Hardware tests (hw-tests/: network namespaces, pty pairs, tcpdump) need root.
# Without root they print "SKIPPED:" and pass; with CI=true (or IBT_REQUIRE=1)
# a skip is a failure. Logs: target/test-all/*.log.
#
#   sudo ./scripts/test-all.sh            (CI: bash .ci/run)
# Environment: SKIP_DEPS=1 skips the package step; CARGO_TEST_ARGS are passed
# to `cargo test` (e.g. CARGO_TEST_ARGS="-- --test-threads=1").
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LOGS="${CARGO_TARGET_DIR:-$ROOT/target}/test-all"
mkdir -p "$LOGS"
START=$(date +%s)
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

declare -a RESULTS=()
FAILED=0

# step NAME TIMEOUT_SECONDS COMMAND... : runs, logs, records pass/fail.
step() {
  local name=$1 limit=$2; shift 2
  local log="$LOGS/$name.log" t0 rc
  t0=$(date +%s)
  printf '\n==== %s: %s\n' "$name" "$*"
  timeout --kill-after=30 "$limit" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local took=$(( $(date +%s) - t0 ))
  if [ "$rc" -eq 0 ]; then
    RESULTS+=("$name ok (${took}s)")
  else
    [ "$rc" -eq 124 ] && echo "==== $name: timed out after ${limit}s"
    RESULTS+=("$name FAILED rc=$rc (${took}s)")
    FAILED=$((FAILED + 1))
  fi
  return "$rc"
}

# Leftovers of an earlier, interrupted run: our namespaces carry the ibt- prefix.
sweep() {
  command -v ip >/dev/null || return 0
  [ "$(id -u)" -eq 0 ] || return 0
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^ibt-' || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
}

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  step deps 1800 bash scripts/install-test-deps.sh || { echo "cannot install dependencies"; }
fi
sweep

step fmt 300 cargo fmt --all -- --check
step clippy 1800 cargo clippy --workspace --all-targets -- -D warnings
step sans-io 900 cargo build -p ironbeat-link -p ironbeat-fence --no-default-features
step build-binary 1800 cargo build -p ironbeat --bins
# shellcheck disable=SC2086
step test 2400 cargo test --workspace --no-fail-fast ${CARGO_TEST_ARGS:-}
sweep

# Summary: cargo's per-binary results, hardware-test skips, step outcomes.
TEST_LOG="$LOGS/test.log"
passed=0 failed=0 ignored=0 skipped=0
if [ -f "$TEST_LOG" ]; then
  read -r passed failed ignored < <(awk '/^test result:/ {
      for (i = 1; i <= NF; i++) {
        if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1);
        if ($(i) ~ /^ignored;?$/) g += $(i-1) }
    } END { print p+0, f+0, g+0 }' "$TEST_LOG")
  skipped=$(grep -c '^SKIPPED: ' "$TEST_LOG" || true)
fi
printf '\n==== steps\n'
printf '  %s\n' "${RESULTS[@]}"
if [ "${skipped:-0}" -gt 0 ]; then
  printf '\n  hardware tests skipped (each says why: root, or a peer this machine lacks): %s — see "SKIPPED:" lines in %s\n' "$skipped" "$TEST_LOG"
fi
VERDICT=PASS; [ "$FAILED" -eq 0 ] || VERDICT=FAIL
echo
echo "test-all: $VERDICT — steps failed: $FAILED; tests passed: $passed, failed: $failed, ignored: $ignored, hw skipped: $skipped; $(( $(date +%s) - START ))s"
[ "$FAILED" -eq 0 ]
