#!/bin/bash
# Captures the SNMP responses that fence/tests/apc_capture.rs decodes: starts
# net-snmp snmpd with the PDU simulator (hw-tests/fixtures/pdu) on loopback,
# runs net-snmp's own tools against it under tcpdump, and writes each agent
# response's UDP payload as hex to NAME.hex beside this script.
# Needs root (tcpdump), snmpd, snmp, tcpdump, tshark. Bounded: every client has
# -t 1 -r 0, tcpdump stops after 60 packets or when killed. The first response
# of each agent answers its start-up probe (v2c GET sysObjectID.0).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
FIX=$ROOT/hw-tests/fixtures/pdu
WORK=$(mktemp -d /tmp/ibt-snmpcap.XXXXXX)
PORT=${PORT:-16199}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

start_agent() { # personality sysObjectID model
  local pers=$1 oid=$2 model=$3
  mkdir -p "$WORK/$pers/persist"
  printf '{"personality":"%s","model":"%s","outlets":4,"names":["node1","node2","db 1","db 1"],"reboot_duration":5}' \
    "$pers" "$model" >"$WORK/$pers/pdu.json"
  sed -e "s|@RUNDIR@|$WORK/$pers|g" -e "s|@AGENTADDR@|udp:127.0.0.1:$PORT|" -e "s|@PERSONALITY@|$pers|g" \
      -e "s|@SYSOBJECTID@|$oid|" -e "s|@MODEL@|$model|" -e "s|@SIM@|$FIX/apc-pdu-sim.py|" \
      "$FIX/snmpd.conf.in" >"$WORK/$pers/snmpd.conf"
  MIBS= MIBDIRS=/nonexistent SNMP_PERSISTENT_DIR=$WORK/$pers/persist \
    snmpd -f -C -c "$WORK/$pers/snmpd.conf" -Lf "$WORK/$pers/snmpd.log" -r -I -smux,mteTrigger,mteTriggerConf &
  AGENT=$!
  pids+=("$AGENT")
  for _ in $(seq 1 50); do snmpget -v2c -c public -t 0.2 -r 0 127.0.0.1:$PORT .1.3.6.1.2.1.1.2.0 >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "snmpd did not start" >&2; exit 1
}

T=127.0.0.1:$PORT
C="-t 1 -r 0 -On"
tcpdump -i lo -U -c 60 -w "$WORK/cap.pcap" "udp port $PORT" 2>/dev/null &
TCPDUMP=$!; pids+=("$TCPDUMP"); sleep 1

start_agent rpdu .1.3.6.1.4.1.318.1.3.4.5 AP7921
snmpget  -v1  -c private $C $T .1.3.6.1.2.1.1.2.0 || true                                        # 1 v1_sysobjectid
snmpget  -v1  -c private $C $T .1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.1 .1.3.6.1.4.1.318.1.1.12.3.5.1.1.5.1 || true  # 2 v1_state_pending
snmpset  -v1  -c private $C $T .1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.1 i 2 || true                  # 3 v1_set_off
snmpget  -v1  -c private $C $T .1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.1 .1.3.6.1.4.1.318.1.1.12.3.5.1.1.5.1 || true  # v1_state_pending_off
snmpget  -v1  -c private $C -Cf $T .1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.99 .1.3.6.1.4.1.318.1.1.12.3.5.1.1.5.99 || true  # v1_nosuchname
snmpget  -v2c -c private $C $T .1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.99 .1.3.6.1.4.1.318.1.1.12.3.5.1.1.5.99 || true  # v2c_nosuchinstance
snmpset  -v2c -c public  $C $T .1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.1 i 1 || true                  # 6 v2c_noaccess
snmpset  -v2c -c private $C $T .1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.1 i 9 || true                  # 7 v2c_wrongvalue
snmpgetnext -v2c -c private $C $T .1.3.6.1.4.1.318.1.1.12.3.5.1.1.2 || true                     # 8 v2c_walk_first
snmpgetnext -v2c -c private $C $T .1.3.6.1.4.1.318.1.1.12.3.5.1.1.2.4 || true                   # 9 v2c_walk_past_end
snmpgetnext -v2c -c private $C $T .1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.4 || true                   # 10 v2c_end_of_mib (rpdu has no rPDU2 tables)
kill "${pids[1]}"; wait "${pids[1]}" 2>/dev/null || true
start_agent rpdu2 .1.3.6.1.4.1.318.1.3.4.6 AP8941
snmpset  -v2c -c private $C $T .1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.2 i 2 || true                  # 11 (set, response unused)
snmpget  -v2c -c private $C $T .1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.2 .1.3.6.1.4.1.318.1.1.26.9.2.3.1.6.2 || true  # rpdu2_states (outlet 2 off: 1)
sleep 1; kill "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true

names=(v2c_sysobjectid v1_sysobjectid v1_state_pending v1_set_off v1_state_pending_off v1_nosuchname v2c_nosuchinstance v2c_noaccess v2c_wrongvalue v2c_walk_first v2c_walk_past_end v2c_end_of_mib rpdu2_sysobjectid rpdu2_set rpdu2_states)
i=0
while read -r payload; do
  [ $i -lt ${#names[@]} ] || break
  echo "$payload" >"$HERE/${names[$i]}.hex"
  i=$((i + 1))
done < <(tshark -r "$WORK/cap.pcap" -Y "udp.srcport == $PORT" -T fields -e udp.payload 2>/dev/null)
tshark -r "$WORK/cap.pcap" -d "udp.port==$PORT,snmp" -Y "udp.srcport == $PORT" 2>/dev/null >"$HERE/responses.txt"
echo "wrote $i responses to $HERE"
