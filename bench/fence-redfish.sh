#!/bin/bash
# Redfish fencing benchmark: status and reboot latency (median of N runs) and
# peak RSS of ironbeat's `stonith -t redfish|ilo` and `fence_ironbeat_redfish`
# (fence_redfish's options), beside Debian's fence_redfish, in one run against
# the same emulators on loopback:
#   - our minibmc fixture (hw-tests/fixtures/redfish/minibmc.py), iLO personality,
#     HTTPS with a factory-style certificate (no subjectAltName), zero power delays
#     (the fast path: what is measured is the agents, not the BMC);
#   - OpenStack sushy-tools --fake over HTTPS, from the venv of
#     scripts/install-test-deps.sh, twice: power changes applied at once
#     (SUSHY_FAKE_DELAY=0: the agents' own cost) and after 0-1 s (=1: a BMC that
#     takes time, where polling granularity shows).
# Every run is verified: exit code 0, `Status: ON` for status; for reboot the
# emulator must be On afterwards, and minibmc must have seen ForceOff then On.
# Peak RSS is GNU time's %M (maximum resident set of the agent process).
#
#   bench/fence-redfish.sh [--runs N] [--out FILE]
#
# Defaults: 10 runs per row after one warm-up run. Prints a markdown table (and
# writes it to FILE). Keep the machine otherwise idle: wall times are load sensitive.
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
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if [ -z "${BENCH_SKIP_DEPS:-}" ]; then bash scripts/install-test-deps.sh >&2; fi
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  cargo build --release -p ironbeat --bin stonith --bin fence_ironbeat >&2
fi
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV=${IRONBEAT_TEST_VENV:-/var/tmp/ironbeat-venv}
command -v fence_redfish >/dev/null || { echo "fence_redfish missing (apt-get install fence-agents)" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || { echo "no sushy-tools venv at $VENV: run scripts/install-test-deps.sh" >&2; exit 1; }

WORK=$(mktemp -d /tmp/ibt-bench-redfish.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Certificates: a factory-iLO-style self-signed one (CN only, no SAN) for minibmc,
# a lab CA and a CA-signed one with IP SAN 127.0.0.1 for sushy.
(
  cd "$WORK"
  printf '[req]\ndistinguished_name=dn\n[dn]\n' >nosan.cnf
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ilo.key -out ilo.pem -days 30 \
    -subj "/O=Hewlett Packard Enterprise/CN=ILOBENCH0001" -config nosan.cnf \
    -addext "basicConstraints=critical,CA:FALSE" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj "/CN=bench CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout bmc.key -out bmc.csr -subj "/CN=bmc.bench" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >san.ext
  openssl x509 -req -in bmc.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out bmc.pem -days 30 -extfile san.ext 2>/dev/null
)
FP=$(openssl x509 -noout -fingerprint -sha256 -in "$WORK/ilo.pem" | cut -d= -f2)

python3 "$ROOT/hw-tests/fixtures/redfish/minibmc.py" --vendor ilo --bind 127.0.0.1 \
  --https-port -1 --http-port -1 --cert "$WORK/ilo.pem" --key "$WORK/ilo.key" \
  --user Administrator --password ilo-secret1 --port-file "$WORK/ilo.ports" >"$WORK/ilo.log" 2>&1 &
PIDS+=($!)
"$VENV/bin/python" -c 'import bcrypt; print("admin:" + bcrypt.hashpw(b"password", bcrypt.gensalt(rounds=4)).decode())' >"$WORK/htpasswd"
mkdir -p "$WORK/sushy-state"
cat >"$WORK/sushy.conf" <<EOF
SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
SUSHY_EMULATOR_AUTH_FILE = '$WORK/htpasswd'
SUSHY_EMULATOR_FAKE_DRIVER = True
SUSHY_EMULATOR_STATE_DIR = '$WORK/sushy-state'
SUSHY_EMULATOR_FEATURE_SET = 'full'
SUSHY_EMULATOR_FAKE_SYSTEMS = [{'uuid': '27946b59-9e44-4fa7-8e91-f3527a1ef094', 'name': 'sushy-node', 'power_state': 'On', 'external_notifier': False, 'nics': [{'mac': '52:54:00:12:34:56', 'ip': '198.18.3.99'}]}]
EOF
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_sushy() {  # DELAY PORT
  mkdir -p "$WORK/sushy$1"
  sed "s|$WORK/sushy-state|$WORK/sushy$1|" "$WORK/sushy.conf" >"$WORK/sushy$1.conf"
  SUSHY_FAKE_DELAY=$1 "$VENV/bin/python" "$ROOT/hw-tests/fixtures/redfish/sushy-run.py" --config "$WORK/sushy$1.conf" \
    --fake -i 127.0.0.1 -p "$2" --ssl-certificate "$WORK/bmc.pem" --ssl-key "$WORK/bmc.key" \
    >"$WORK/sushy$1.log" 2>&1 &
  PIDS+=($!)
}
SUSHY_PORT=$(free_port); start_sushy 0 "$SUSHY_PORT"
SUSHY_SLOW_PORT=$(free_port); start_sushy 1 "$SUSHY_SLOW_PORT"
for _ in $(seq 1 150); do
  [ -s "$WORK/ilo.ports" ] && (exec 3<>"/dev/tcp/127.0.0.1/$SUSHY_PORT") 2>/dev/null \
    && (exec 3<>"/dev/tcp/127.0.0.1/$SUSHY_SLOW_PORT") 2>/dev/null && break
  sleep 0.1
done
ILO_HTTPS=$(sed -n 's/.*https=\([0-9]*\).*/\1/p' "$WORK/ilo.ports")
ILO_HTTP=$(tr ' ' '\n' <"$WORK/ilo.ports" | sed -n 's/^http=//p')
mkdir -p "$WORK/bin"
ln -s "$TARGET/release/fence_ironbeat" "$WORK/bin/fence_ironbeat_redfish"

export WORK RUNS OUT FP ILO_HTTPS ILO_HTTP SUSHY_PORT SUSHY_SLOW_PORT TARGET
rc=0
python3 - <<'PY' || rc=$?
import base64, json, os, ssl, statistics, subprocess, sys, tempfile, time, urllib.request

W = os.environ
runs = int(W["RUNS"])
stonith = os.path.join(W["TARGET"], "release", "stonith")
agent = os.path.join(W["WORK"], "bin", "fence_ironbeat_redfish")
ilo, ilo_http = W["ILO_HTTPS"], W["ILO_HTTP"]
fp, ca = W["FP"], os.path.join(W["WORK"], "ca.pem")
SUSHY_URI = "/redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a1ef094"


def sim_state():
    with urllib.request.urlopen("http://127.0.0.1:%s/_sim/state" % ilo_http, timeout=5) as r:
        return json.load(r)


def sushy_power(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request("https://127.0.0.1:%s%s" % (port, SUSHY_URI))
    req.add_header("Authorization", "Basic " + base64.b64encode(b"admin:password").decode())
    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
        return json.load(r)["PowerState"]


RSS_FILE = os.path.join(W["WORK"], "rss")


def run(cmd):
    """Wall time (s), peak RSS (KiB, GNU time %M), exit code, output of one run."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", RSS_FILE] + cmd,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    with open(RSS_FILE) as f:
        rss = int(f.read().strip().splitlines()[-1])
    return wall, rss, p.returncode, p.stdout.decode(errors="replace")


def fr(port, action, uri=None):
    c = ["fence_redfish", "--ip=127.0.0.1", "--ipport=%s" % port, "--ssl-insecure", "--action=%s" % action]
    c += ["--username=Administrator", "--password=ilo-secret1"] if port == ilo else ["--username=admin", "--password=password"]
    if uri:
        c.append("--systems-uri=%s" % uri)
    return c


def ours_agent(port, action, uri=None):
    c = [agent, "--ip=127.0.0.1", "--ipport=%s" % port, "--ssl-insecure", "--action=%s" % action]
    c += ["--username=Administrator", "--password=ilo-secret1"] if port == ilo else ["--username=admin", "--password=password"]
    if uri:
        c.append("--systems-uri=%s" % uri)
    return c


def ours_stonith(port, action):
    if port == ilo:
        c = [stonith, "-t", "ilo", "ipaddr=127.0.0.1", "ipport=%s" % ilo, "userid=Administrator",
             "passwd=ilo-secret1", "ssl_fingerprint=%s" % fp]
    else:
        c = [stonith, "-t", "redfish", "ipaddr=127.0.0.1", "ipport=%s" % port, "userid=admin",
             "passwd=password", "ssl_ca=%s" % ca]
    return c + (["-S"] if action == "status" else ["hostname=node2", "-T", "reset", "node2"])


def verify(emu, port, action, code, out, before):
    if code != 0:
        return "exit %d: %s" % (code, out.strip().splitlines()[-1:] if out.strip() else "")
    if action == "status" and "Status: ON" not in out and "power on" not in out and "OK" not in out:
        return "status not ON: %s" % out.strip()
    if action == "reboot" and emu != "minibmc" and sushy_power(port) != "On":
        return "not On after reboot"
    if action == "reboot" and emu == "minibmc":
        st = sim_state()
        if st["PowerState"] != "On":
            return "not On after reboot"
        if st["counters"]["resets"] < before + 2:
            return "no ForceOff+On seen by the BMC (%d -> %d)" % (before, st["counters"]["resets"])
    return None


rows = []
cases = []
EMULATORS = (
    ("minibmc", "minibmc iLO (fast path)", ilo),
    ("sushy", "sushy-tools --fake (instant)", W["SUSHY_PORT"]),
    ("sushy-1s", "sushy-tools --fake (0-1 s power delay)", W["SUSHY_SLOW_PORT"]),
)
PORTS = {short: port for short, _, port in EMULATORS}
for short, emu, port in EMULATORS:
    uri = None
    for action in ("status", "reboot"):
        cases.append((short, emu, action, "fence_redfish 4.12", fr(port, action, uri)))
        cases.append((short, emu, action, "fence_ironbeat_redfish (fence_redfish options)", ours_agent(port, action, uri)))
        cases.append((short, emu, action, "stonith -t %s" % ("ilo" if port == ilo else "redfish"),
                      ours_stonith(port, action)))

results = {}
for short, emu, action, who, cmd in cases:
    walls, rss, errors = [], [], []
    for i in range(runs + 1):
        before = sim_state()["counters"]["resets"] if short == "minibmc" else 0
        wall, maxrss, code, out = run(cmd)
        err = verify(short, PORTS[short], action, code, out, before)
        if err:
            errors.append(err)
        if i == 0:
            continue  # warm-up
        walls.append(wall)
        rss.append(maxrss)
    results[(short, action, who)] = (statistics.median(walls), max(rss), errors)
    sys.stderr.write("%-8s %-7s %-50s median %.3f s  peak RSS %d KiB  %s\n" % (
        short, action, who, statistics.median(walls), max(rss), "OK" if not errors else errors[:2]))

lines = ["| emulator | action | agent | median s (n=%d) | peak RSS MiB | verified | speed-up vs fence_redfish |" % runs,
         "|---|---|---|---:|---:|---|---:|"]
for short, emu, action, who, _ in cases:
    med, rss, errors = results[(short, action, who)]
    base = results[(short, action, "fence_redfish 4.12")][0]
    ratio = "1.0x" if who.startswith("fence_redfish") else "%.1fx" % (base / med)
    lines.append("| %s | %s | %s | %.3f | %.1f | %s | %s |" % (
        emu, action, who, med, rss / 1024.0, "yes" if not errors else "NO: %s" % errors[0], ratio))
table = "\n".join(lines) + "\n"
print(table, end="")
if W.get("OUT"):
    with open(W["OUT"], "w") as f:
        f.write(table)
bad = [k for k, v in results.items() if v[2] and not k[2].startswith("fence_redfish")]
sys.exit(1 if bad else 0)
PY
exit "$rc"
