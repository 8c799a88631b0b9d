#!/bin/bash
# Fencing devices benchmark (issue 6), in one run: bench/fence-redfish.sh
# (ours vs fence_redfish on the iLO-like fixture and sushy-tools) and
# bench/fence-apc.sh (ours vs fence_apc_snmp, cluster-glue apcmastersnmp and
# external/rackpdu on snmpd with the PDU simulator). Needs root (the PDU's
# namespace). Writes both tables to --out DIR (default /tmp).
#
#   sudo bench/fence-devices.sh [--runs N] [--out DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=10
OUT=/tmp
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--out DIR]" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
bash "$ROOT/bench/fence-redfish.sh" --runs "$RUNS" --out "$OUT/fence-redfish.md"
bash "$ROOT/bench/fence-apc.sh" --runs "$RUNS" --out "$OUT/fence-apc.md"
echo
echo "tables: $OUT/fence-redfish.md $OUT/fence-apc.md"
