#!/bin/bash
# APC PDU fencing benchmark: status and reboot latency (median of N runs) and
# peak RSS of ironbeat's `stonith -t apc` and `fence_ironbeat_apc` beside
# fence-agents' fence_apc_snmp and cluster-glue's `stonith -t apcmastersnmp`
# and `stonith -t external/rackpdu` (/usr/sbin/stonith), in one run against
# the same agent: net-snmp snmpd with the PDU simulator
# (hw-tests/fixtures/pdu), SNMPv1, in a network namespace of its own at
# 198.18.63.2:161 (apcmastersnmp always uses port 161), every client run in
# the clients' namespace (198.18.63.1); RebootDuration 5 s as on hardware.
#
# Every run is verified: exit code 0; for status the outlet is on; for reboot
# the simulator's event log shows the outlet switched off and on again (or,
# for the plugins that reboot with immediateReboot, the reboot command) and the
# outlet is on afterwards (rackpdu does not wait: it is checked later).
#
#   bench/fence-apc.sh [--runs N] [--out FILE]       (root: namespaces)
#
# Peak RSS is GNU time's %M (KB) of the process started (for the Python
# agent: the agent itself, not its snmp* children). Keep the machine idle.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RUNS=10
OUT=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--out FILE]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if [ -z "${BENCH_SKIP_DEPS:-}" ]; then bash scripts/install-test-deps.sh >&2; fi
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  cargo build --release -p ironbeat --bin stonith --bin fence_ironbeat >&2
fi
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OURS="$TARGET/release/stonith"
GLUE=/usr/sbin/stonith
for t in snmpd snmpget fence_apc_snmp /usr/bin/time "$GLUE" "$OURS" "$TARGET/release/fence_ironbeat"; do
  command -v "$t" >/dev/null || [ -x "$t" ] || { echo "missing $t (scripts/install-test-deps.sh)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/ibt-bench-apc.XXXXXX)
PDU_NS=ibt-benchapc-$$-pdu
CLI_NS=ibt-benchapc-$$-cli
NET=198.18.63
IP=$NET.2
SNMPD_PID=
cleanup() {
  [ -n "$SNMPD_PID" ] && kill "$SNMPD_PID" 2>/dev/null && wait "$SNMPD_PID" 2>/dev/null
  ip netns del "$PDU_NS" 2>/dev/null || true
  ip netns del "$CLI_NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$PDU_NS"; ip netns add "$CLI_NS"
ip -n "$PDU_NS" link set lo up; ip -n "$CLI_NS" link set lo up
ip link add p0 netns "$PDU_NS" type veth peer name c0 netns "$CLI_NS"
ip -n "$PDU_NS" addr add $IP/24 dev p0; ip -n "$CLI_NS" addr add $NET.1/24 dev c0
ip -n "$PDU_NS" link set p0 up; ip -n "$CLI_NS" link set c0 up

FIX=$ROOT/hw-tests/fixtures/pdu
mkdir -p "$WORK/persist"
cat >"$WORK/pdu.json" <<JSON
{"personality": "rpdu", "model": "AP7921", "outlets": 8,
 "names": ["node1", "node2", "node3", "node4", "node5", "node6", "node7", "node8"],
 "initial_state": "on", "reboot_duration": 5, "power_on_time": 0, "power_off_time": 0}
JSON
sed -e "s|@RUNDIR@|$WORK|g" -e "s|@AGENTADDR@|udp:$IP:161|" -e "s|@PERSONALITY@|rpdu|g" \
    -e "s|@SYSOBJECTID@|.1.3.6.1.4.1.318.1.3.4.5|" -e "s|@MODEL@|AP7921|" \
    -e "s|@SIM@|$FIX/apc-pdu-sim.py|" "$FIX/snmpd.conf.in" >"$WORK/snmpd.conf"
MIBS= MIBDIRS=/nonexistent SNMP_PERSISTENT_DIR=$WORK/persist ip netns exec "$PDU_NS" \
  snmpd -f -C -c "$WORK/snmpd.conf" -Lf "$WORK/snmpd.log" -r -I -smux,mteTrigger,mteTriggerConf &
SNMPD_PID=$!
for _ in $(seq 1 50); do
  ip netns exec "$CLI_NS" snmpget -v1 -c public -t 0.2 -r 0 $IP .1.3.6.1.2.1.1.2.0 >/dev/null 2>&1 && break
  sleep 0.1
done
ln -s "$TARGET/release/fence_ironbeat" "$WORK/fence_ironbeat_apc"

python3 - "$RUNS" "$WORK" "$CLI_NS" "$IP" "$OURS" "$GLUE" "${OUT:-}" <<'PY'
import json, os, statistics, subprocess, sys, time
runs, work, ns, ip, ours, glue, out = int(sys.argv[1]), *sys.argv[2:8]
agent = os.path.join(work, "fence_ironbeat_apc")
events = os.path.join(work, "events.log")

def outlet_on(n):
    # Read through SNMP (applies the simulator's timed transitions).
    r = subprocess.run(["ip", "netns", "exec", ns, "snmpget", "-v1", "-c", "public", "-Oqv", "-t", "1", "-r", "1",
                        ip, ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.%d" % n], capture_output=True, text=True)
    return r.stdout.strip() == "1"

def wait_on(n, limit=15):
    end = time.time() + limit
    while time.time() < end:
        if outlet_on(n):
            return True
        time.sleep(0.2)
    return False

def log_lines():
    try:
        return open(events).read().splitlines()
    except OSError:
        return []

def measure(cmd, check, outlet, expect_code=0):
    """Runs cmd (list) in the clients' namespace runs+1 times (first = warm-up)."""
    times, rss = [], []
    for i in range(runs + 1):
        wait_on(outlet)
        before = len(log_lines())
        rss_file = os.path.join(work, "rss")
        full = ["ip", "netns", "exec", ns, "/usr/bin/time", "-o", rss_file, "-f", "%M"] + cmd
        t0 = time.perf_counter()
        r = subprocess.run(full, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if r.returncode != expect_code:
            sys.exit("FAILED (exit %d): %s\n%s%s" % (r.returncode, " ".join(cmd), r.stdout, r.stderr))
        why = check(r, log_lines()[before:], outlet)
        if why:
            sys.exit("UNVERIFIED: %s: %s\n%s%s" % (" ".join(cmd), why, r.stdout, r.stderr))
        if i > 0:
            times.append(dt)
            rss.append(int(open(rss_file).read().split()[-1]))
    return statistics.median(times), min(times), max(times), max(rss)

def status_on(r, new, n):
    return None if outlet_on(n) else "outlet not on"

def rebooted(r, new, n):
    offs = [l for l in new if ("outlet %d off" % n) in l or ("outlet %d reboot" % n) in l]
    if not offs:
        return "no off/reboot of outlet %d in the simulator log: %s" % (n, new)
    if not wait_on(n):
        return "outlet %d not on again" % n
    return None

C = "community=private"
rows = []
def row(tool, what, cmd, check, outlet, expect=0):
    med, lo, hi, peak = measure(cmd, check, outlet, expect)
    rows.append((tool, what, med, lo, hi, peak))
    print("  %-40s %-7s median %.3f s  peak RSS %d KB" % (tool, what, med, peak), file=sys.stderr)

row("ironbeat stonith -t apc", "status", [ours, "-t", "apc", "ipaddr=" + ip, C, "plug=1", "-S"], status_on, 1)
row("ironbeat fence_ironbeat_apc", "status", [agent, "--ip=" + ip, "--community=private", "--plug=1", "--action=status"], status_on, 1)
row("fence_apc_snmp", "status", ["fence_apc_snmp", "--ip=" + ip, "--community=private", "--plug=1", "--action=status"], status_on, 1)
row("cluster-glue stonith -t apcmastersnmp", "status", [glue, "-t", "apcmastersnmp", "ipaddr=" + ip, "port=161", C, "-S"], status_on, 1)
row("cluster-glue stonith -t external/rackpdu", "status", [glue, "-t", "external/rackpdu", "hostlist=AUTO", "pduip=" + ip, C, "-S"], status_on, 1)
row("ironbeat stonith -t apc", "reboot", [ours, "-t", "apc", "ipaddr=" + ip, C, "-T", "reset", "node2"], rebooted, 2)
row("ironbeat fence_ironbeat_apc", "reboot", [agent, "--ip=" + ip, "--community=private", "--plug=node3", "--action=reboot"], rebooted, 3)
row("fence_apc_snmp", "reboot", ["fence_apc_snmp", "--ip=" + ip, "--community=private", "--plug=4", "--action=reboot"], rebooted, 4)
row("cluster-glue stonith -t apcmastersnmp", "reboot", [glue, "-t", "apcmastersnmp", "ipaddr=" + ip, "port=161", C, "-T", "reset", "node5"], rebooted, 5)
row("cluster-glue stonith -t external/rackpdu", "reboot", [glue, "-t", "external/rackpdu", "hostlist=AUTO", "pduip=" + ip, C, "-T", "reset", "node6"], rebooted, 6)

ours_t = {w: t for (tool, w, t, *_ ) in rows if tool == "ironbeat stonith -t apc"}
lines = ["| tool | action | median s | min s | max s | peak RSS KiB | time / ironbeat stonith |",
         "|---|---|---:|---:|---:|---:|---:|"]
for tool, what, med, lo, hi, peak in rows:
    lines.append("| %s | %s | %.4f | %.4f | %.4f | %d | %.1fx |" % (tool, what, med, lo, hi, peak, med / ours_t[what]))
notes = ("\n%d runs per row after one warm-up, SNMPv1, snmpd + PDU simulator in a namespace (RebootDuration 5 s). "
         "Verified: exit 0; status: outlet on; reboot: simulator saw the outlet off (or immediateReboot) and it is on again. "
         "apcmastersnmp's reset waits RebootDuration; rackpdu's returns without verifying and costs +1 s per op "
         "(cluster-glue's external.c); fence_apc_snmp forks snmp* tools through a pty per step.\n" % runs)
text = "\n".join(lines) + "\n" + notes
print(text)
if out:
    open(out, "w").write(text)
PY
