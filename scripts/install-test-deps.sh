#!/bin/bash
# Installs what ironbeat's build, tests, demo and benchmark need on Debian 12.
# Idempotent and non-interactive: runs `apt-get update` only when a package is
# missing, installs only what is missing, and installs Rust (rustup, stable,
# with rustfmt and clippy) only when cargo is absent.
#
#   scripts/install-test-deps.sh            everything (build, tests, benchmark)
#   scripts/install-test-deps.sh --demo     only what scripts/demo.sh needs
#
# Packages and who uses them:
#   build-essential pkg-config     the Rust toolchain's C linker and friends
#   ca-certificates curl           fetching rustup and crates
#   iproute2                       ip netns / veth / bridge (tests, demo, bench)
#   socat                          pty pairs: the null-modem cable (tests, demo, bench)
#   tcpdump                        independent decoder of ARP / NA frames (tests/garp.rs)
#   procps                         ps, sysctl (tests, scripts)
#   util-linux                     unshare: the lab nodes' host names and mounts (src/lab/: demo, tests, bench)
#   heartbeat                      legacy heartbeat 3.0.6, the benchmark's peer
#   openipmi                       ipmi_sim: the real BMC of the IPMI tests
#   ipmitool                       the second IPMI client (interop both ways)
#   fence-agents cluster-glue      fence_ipmilan and cluster-glue stonith: the
#                                  peers whose command lines we accept
#   snmpd snmp                     net-snmp agent (the simulated APC PDU, hw-tests/fixtures/pdu)
#                                  and its CLI (snmpget: its start-up probe; fence_apc_snmp's tools)
#   libxml2-utils                  xmllint: metadata XML against the schemas
#   qemu-system-x86                the VM ipmi_sim powers in the QEMU fencing tier
#                                  (hw-tests/tests/ipmi_qemu.rs; TCG, no KVM needed), and
#                                  the i6300esb watchdog guest (hw-tests/tests/watchdog_qemu.rs,
#                                  whose static ironbeat links libc.a: libc6-dev, gcc's);
#                                  its guest kernel and busybox are apt-get *downloaded*
#                                  by scripts/build-qemu-guest.sh, not installed
#   xz-utils                       unpacks the guest kernel (build-qemu-guest.sh)
#   pacemaker-cli-utils            crm_simulate 2.1.5: the policy engine's oracle and
#                                  the peer of the placement benchmark (bench/crm-placement.sh)
#   resource-agents                the real OCF Dummy / IPaddr2 scripts (agents/tests,
#                                  bench/agents.sh)
#   e2fsprogs                      mkfs.ext4 for the Filesystem agent's loop image (agents/tests)
#   keepalived                     keepalived 2.2.7 (VRRPv3), the failover benchmark's second peer
#                                  (benches/failover.rs, bench/failover.sh)
#   stress-ng                      CPU load for the failover benchmark's soak (--soak)
#   python3-venv openssl           Redfish tests: the venv for sushy-tools (pip, below) and the
#                                  lab certificates (fence/tests/redfish_interop.rs, bench/fence-redfish.sh)
set -euo pipefail

MODE=${1:-all}
DEMO_PKGS=(build-essential pkg-config ca-certificates curl iproute2 socat procps)
ALL_PKGS=("${DEMO_PKGS[@]}" tcpdump util-linux heartbeat openipmi ipmitool fence-agents cluster-glue libxml2-utils qemu-system-x86 xz-utils pacemaker-cli-utils resource-agents e2fsprogs keepalived stress-ng python3-venv openssl snmpd snmp)
case "$MODE" in
  all) PKGS=("${ALL_PKGS[@]}") ;;
  --demo) PKGS=("${DEMO_PKGS[@]}") ;;
  *) echo "usage: $0 [--demo]" >&2; exit 2 ;;
esac

log() { printf '[install-test-deps] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
  command -v sudo >/dev/null || { log "not root and no sudo: run as root"; exit 1; }
else
  SUDO=
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  log "installing: ${missing[*]}"
  apt_install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      --no-install-recommends "${missing[@]}"
  }
  # Update the index only if it is empty or older than a day, or if install fails.
  lists=/var/lib/apt/lists
  if [ -z "$(find "$lists" -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null | head -n1)" ]; then
    log "apt-get update"
    $SUDO apt-get update -q
  fi
  if ! apt_install; then
    log "install failed; refreshing the package index and retrying"
    $SUDO apt-get update -q
    apt_install
  fi
else
  log "system packages present"
fi

# Rust: rustup stable when cargo is absent (Debian 12's rustc 1.63 is too old).
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  log "installing Rust (rustup, stable, minimal profile + rustfmt + clippy)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --default-toolchain stable -c rustfmt -c clippy
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if command -v rustup >/dev/null 2>&1; then
  for c in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
      log "rustup component add $c"
      rustup component add "$c"
    fi
  done
fi
# Python packages (PyPI) in a venv outside the repo: sushy-tools 2.2.0, OpenStack's
# Redfish emulator (the real peer of the Redfish tests), and bcrypt for its htpasswd.
# Idempotent: installs only when the import fails. IRONBEAT_TEST_VENV overrides the path.
if [ "$MODE" = all ]; then
  VENV=${IRONBEAT_TEST_VENV:-/var/tmp/ironbeat-venv}
  if ! "$VENV/bin/python" -c 'import sushy_tools, bcrypt' >/dev/null 2>&1; then
    log "pip: sushy-tools==2.2.0 bcrypt into $VENV"
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "sushy-tools==2.2.0" bcrypt
  fi
fi
log "ok: $(cargo --version 2>/dev/null || echo 'cargo missing')"
