#!/bin/sh
# build-qemu-guest.sh - the guest of the QEMU fencing tier (hw-tests/tests/ipmi_qemu.rs):
# a stock Debian kernel and a busybox initramfs, fetched with `apt-get download`
# (nothing is installed) and cached.
#
#   scripts/build-qemu-guest.sh            build into the cache unless it is current
#   scripts/build-qemu-guest.sh --force    rebuild
#
# Output, in $IRONBEAT_QEMU_DIR (default: ${CARGO_TARGET_DIR:-target}/qemu-guest):
#   vmlinux            the kernel as an ELF (~63 MiB), booted through its PVH entry
#                      point: under TCG that reaches /init in ~3 s, the bzImage in ~8 s
#                      (no real-mode setup, no in-guest XZ decompression)
#   initramfs.cpio.gz  busybox-static, /init and the modules watchdog.ko, i6300esb.ko
#                      and e1000.ko in /lib/modules (`insmod` them) (~1.2 MiB)
#   kernel-release     e.g. 6.1.0-56-amd64
#   stamp              what the cache was built from; a different kernel package,
#                      busybox or version of this script rebuilds it
#
# The guest's /init mounts /proc, prints one line on the console (ttyS0)
#   IRONBEAT-GUEST-BOOT boot_id=<uuid> uptime=<s> name=<ironbeat.guest=...>
# (boot_id is new on every kernel start: a second line with another boot_id proves
# a reboot), runs /test.sh in the background if an appended cpio archive supplied
# one (hw-tests/tests/watchdog_qemu.rs), and then idles; after
# `ironbeat.lifetime=` seconds of the kernel command
# line (default 600) it powers itself off, so a forgotten VM ends on its own.
#
# The kernel is the one `linux-image-amd64` depends on now (apt-cache), or
# $IRONBEAT_QEMU_KPKG (e.g. linux-image-6.1.0-56-amd64). The full Debian flavour,
# not -cloud: later tiers need its watchdog, IPMI and e1000 drivers.
# Needs apt-get (lists updated once), dpkg-deb, tar, xz, gzip, grep, flock.
# From scratch ~5-10 s with warm apt lists (70 MB download); cached ~1 s (one
# apt-cache call, to see whether a newer kernel is out). Only vmlinuz is taken
# out of the kernel package (no 400 MiB tree on disk); the downloaded .debs and
# the work directory are deleted at the end.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${IRONBEAT_QEMU_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/qemu-guest}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
FORCE=0
case ${1:-} in
    --force) FORCE=1 ;;
    "") ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

say() { echo "build-qemu-guest: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

for tool in apt-get apt-cache dpkg-deb tar xz gzip grep flock sha256sum; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool is missing (Debian: apt-get install apt dpkg tar xz-utils gzip grep util-linux coreutils)"
done

mkdir -p "$OUT"
# One builder at a time (parallel test binaries may all ask for the guest).
exec 9>"$OUT/.lock"
flock -w 900 9 || die "another build holds $OUT/.lock for 15 min; remove it if no build runs"

# What to build from: one apt-cache call (it answers from the local lists, no
# network), the kernel package linux-image-amd64 depends on and the candidate
# versions. Without apt lists, a cached guest is still used.
PINNED=${IRONBEAT_QEMU_KPKG:-}
FACTS=$(apt-cache show --no-all-versions linux-image-amd64 busybox-static $PINNED 2>/dev/null |
    awk -v pinned="$PINNED" '
        /^Package: / { pkg = $2 }
        /^Version: / { version[pkg] = $2 }
        /^Depends: / && pkg == "linux-image-amd64" {
            if (match($0, /linux-image-[0-9][^ ,]*-amd64 \(= [^)]*\)/)) {
                split(substr($0, RSTART, RLENGTH - 1), part, / \(= /)
                kpkg = part[1]
                version[kpkg] = part[2]
            }
        }
        END {
            if (pinned != "") kpkg = pinned
            # "-" for an unknown field: the shell splits on blanks.
            k = kpkg == "" ? "-" : kpkg
            kv = version[kpkg] == "" ? "-" : version[kpkg]
            bv = version["busybox-static"] == "" ? "-" : version["busybox-static"]
            print k, kv, bv
        }') || true
set -- $FACTS
KPKG=${1:--}
KVERSION=${2:--}
BBVERSION=${3:--}
set --
[ "$KPKG" != - ] || KPKG=""
[ "$KVERSION" != - ] || KVERSION=""
[ "$BBVERSION" != - ] || BBVERSION=""
SELF=$(sha256sum "$0" | cut -d' ' -f1)
WANT="kernel=$KPKG $KVERSION busybox=$BBVERSION script=$SELF"
ready() {
    [ -s "$OUT/vmlinux" ] && [ -s "$OUT/initramfs.cpio.gz" ] && [ -s "$OUT/kernel-release" ]
}

if [ "$FORCE" = 0 ] && ready; then
    if [ -z "$KPKG" ] || [ -z "$KVERSION" ] || [ -z "$BBVERSION" ]; then
        say "apt-cache knows no kernel or busybox-static package (run apt-get update); using the cached guest in $OUT"
        exit 0
    fi
    if [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$WANT" ]; then
        exit 0
    fi
fi

[ -n "$KPKG" ] ||
    die "cannot tell which kernel package linux-image-amd64 depends on: run apt-get update (or set IRONBEAT_QEMU_KPKG=linux-image-6.1.0-NN-amd64)"
if [ -z "$KVERSION" ]; then
    [ -z "$PINNED" ] ||
        die "IRONBEAT_QEMU_KPKG=$PINNED: apt-cache has no such package (apt-cache search linux-image- lists them; or unset it)"
    die "apt-cache has no candidate for $KPKG: run apt-get update (or set IRONBEAT_QEMU_KPKG)"
fi
[ -n "$BBVERSION" ] ||
    die "apt-cache has no candidate for busybox-static: run apt-get update"
KREL=${KPKG#linux-image-}

WORK=$OUT/work.$$
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$OUT"/work.*
mkdir -p "$WORK/debs"
started=$(date +%s)

# apt-get download as root into a directory _apt cannot write to warns about an
# unsandboxed download; handing the directory to _apt keeps the log clean.
chown _apt "$WORK/debs" 2>/dev/null || true
say "downloading $KPKG $KVERSION and busybox-static $BBVERSION"
(cd "$WORK/debs" && apt-get download -q "$KPKG" busybox-static >&2) ||
    die "apt-get download $KPKG busybox-static failed (network? run apt-get update)"

# The kernel: only boot/vmlinuz-$KREL out of the package, the watchdog
# modules (i6300esb needs the watchdog core, a module in Debian's kernel) and
# the e1000 NIC (two guests joined by a cable: hw-tests/tests/watchdog_qemu.rs).
WDMODS="./lib/modules/$KREL/kernel/drivers/watchdog/watchdog.ko ./lib/modules/$KREL/kernel/drivers/watchdog/i6300esb.ko ./lib/modules/$KREL/kernel/drivers/net/ethernet/intel/e1000/e1000.ko"
# shellcheck disable=SC2086
dpkg-deb --fsys-tarfile "$WORK"/debs/"$KPKG"_*.deb |
    tar -xf - -C "$WORK" "./boot/vmlinuz-$KREL" $WDMODS ||
    die "no boot/vmlinuz-$KREL or no watchdog/e1000 modules (watchdog.ko, i6300esb.ko, e1000.ko) in $KPKG"
# vmlinuz is a bzImage: x86 set-up code, then the kernel ELF compressed with XZ
# (CONFIG_KERNEL_XZ). Cut the XZ stream out and decompress it.
offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$WORK/boot/vmlinuz-$KREL" | head -n1 | cut -d: -f1)
case $offset in
    '' | *[!0-9]*) die "no XZ payload in vmlinuz-$KREL (not CONFIG_KERNEL_XZ?)" ;;
esac
tail -c +$((offset + 1)) "$WORK/boot/vmlinuz-$KREL" | xz -dc --single-stream >"$WORK/vmlinux" ||
    die "cannot decompress the kernel in vmlinuz-$KREL"
[ "$(head -c 4 "$WORK/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ] ||
    die "vmlinuz-$KREL did not decompress to an ELF"

# The initramfs: busybox-static and /init.
mkdir -p "$WORK/bb"
dpkg-deb -x "$WORK"/debs/busybox-static_*.deb "$WORK/bb"
BB=$WORK/bb/bin/busybox
[ -x "$BB" ] || die "busybox-static has no bin/busybox"
R=$WORK/root
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/lib/modules"
cp "$BB" "$R/bin/busybox"
for m in $WDMODS; do cp "$WORK/$m" "$R/lib/modules/"; done
for applet in sh mount cat cut sed sleep echo poweroff insmod kill ls; do
    ln -s busybox "$R/bin/$applet"
done
cat >"$R/init" <<'INIT'
#!/bin/sh
# ironbeat QEMU-tier guest (scripts/build-qemu-guest.sh): say "booted", then idle.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
name=$(sed -n 's/.*ironbeat\.guest=\([^ ]*\).*/\1/p' /proc/cmdline)
echo "IRONBEAT-GUEST-BOOT boot_id=$(cat /proc/sys/kernel/random/boot_id) uptime=$(cut -d' ' -f1 /proc/uptime) name=${name:-none}"
# A test's payload (an appended cpio archive) runs beside the idle loop.
[ -x /test.sh ] && /test.sh &
# Bounded: a VM nobody powers off ends by itself (ACPI power off: qemu exits).
lifetime=$(sed -n 's/.*ironbeat\.lifetime=\([0-9]*\).*/\1/p' /proc/cmdline)
sleep "${lifetime:-600}"
echo "IRONBEAT-GUEST-POWEROFF uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
INIT
chmod 755 "$R/init"
(cd "$R" && find . | "$BB" cpio -o -H newc 2>/dev/null) | gzip -9 >"$WORK/initramfs.cpio.gz"
[ -s "$WORK/initramfs.cpio.gz" ] || die "cannot write the initramfs"

# Install atomically: the stamp last, so an interrupted build is rebuilt.
rm -f "$OUT/stamp"
mv "$WORK/vmlinux" "$OUT/vmlinux"
mv "$WORK/initramfs.cpio.gz" "$OUT/initramfs.cpio.gz"
echo "$KREL" >"$OUT/kernel-release"
echo "$WANT" >"$OUT/stamp"
say "kernel $KREL: $OUT/vmlinux ($(($(wc -c <"$OUT/vmlinux") / 1024)) KiB), initramfs $(($(wc -c <"$OUT/initramfs.cpio.gz") / 1024)) KiB, $(($(date +%s) - started)) s"
