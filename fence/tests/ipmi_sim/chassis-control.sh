#!/bin/sh
# The simulated machine behind ipmi_sim (lan.conf: chassis_control "<this> <mc>").
# ipmi_sim runs it through popen():
#   <this> <mc> get power [boot]   -> prints "power:0|1" ("boot:<dev>")
#   <this> <mc> set power 0|1      -> power off / on
#   <this> <mc> set reset 1        -> hard reset (power unchanged; counted)
#   <this> <mc> set shutdown 1     -> soft shutdown (power off)
#   <this> <mc> set boot <dev> / set identify "<interval> <force>"
# A non-zero exit makes the BMC answer completion code 0xff.
#
# State lives in $IBF_BMC_STATE (set by the test that starts ipmi_sim):
#   power       0|1, the machine's power
#   events.log  one line per operation: "<epoch.ns> <op> <value> (power a->b)"
#   stuck       if this file exists, power changes are accepted but ignored
#               (a machine whose power controller is broken)
# Power cycle (Chassis Control 0x02) arrives as "set power 0"; ipmi_sim itself
# sends "set power 1" one second later.

state=${IBF_BMC_STATE:?IBF_BMC_STATE is not set}
mc=$1; op=$2
[ -n "$mc" ] && [ -n "$op" ] || { echo "usage: $0 <mc> get|set ..."; exit 1; }
shift 2
[ -f "$state/power" ] || echo 1 > "$state/power"
[ -f "$state/boot" ] || echo default > "$state/boot"

log() { echo "$(date +%s.%N) $*" >> "$state/events.log"; }

case $op in
get)
    for parm in "$@"; do
        case $parm in
            power) echo "power:$(cat "$state/power")" ;;
            boot)  echo "boot:$(cat "$state/boot")" ;;
            *)     echo "Invalid parameter: $parm"; exit 1 ;;
        esac
    done
    ;;
set)
    while [ $# -gt 0 ]; do
        [ $# -ge 2 ] || { echo "No value for $1"; exit 1; }
        parm=$1; val=$2; shift 2
        old=$(cat "$state/power")
        case $parm in
            power)
                case $val in 0|1) ;; *) echo "bad power value $val"; exit 1 ;; esac
                if [ -e "$state/stuck" ]; then
                    log "set power $val ignored: stuck (power $old->$old)"
                else
                    echo "$val" > "$state/power"
                    log "set power $val (power $old->$val)"
                fi ;;
            reset)    log "set reset $val (power $old->$old)" ;;
            shutdown) echo 0 > "$state/power"; log "set shutdown $val (power $old->0)" ;;
            boot)     echo "$val" > "$state/boot"; log "set boot $val" ;;
            identify) log "set identify $val" ;;
            *)        echo "Invalid parameter: $parm"; exit 1 ;;
        esac
    done
    ;;
*)
    echo "Unknown operation: $op"; exit 1 ;;
esac
exit 0
