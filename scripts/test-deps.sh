#!/usr/bin/env bash
# Installs the Debian packages that tests (or, with the argument "bench", the
# benchmarks) need, when it can: as root with apt. Tests that need a missing
# component name the package and skip; under CI=true such a skip fails the run,
# so CI always runs everything.
set -euo pipefail

# What proves each package is there (a command, or an absolute path), and the package.
needs=(
  "rpm rpm"                                   # rpm databases (SQLite, NDB, BerkeleyDB) in the software inventory tests
  "/usr/share/hwdata/usb.ids hwdata"          # USB vendor and product names
  # real file systems for the removable-media probe tests
  "/usr/sbin/mkfs.vfat dosfstools"
  "/usr/sbin/mkfs.exfat exfatprogs"
  "/usr/bin/mcopy mtools"                     # puts files on FAT images for the marker file tests
  "/usr/sbin/mount.exfat-fuse exfat-fuse"     # puts files on exFAT images (through a loop device, as root)
  "/usr/sbin/mkfs.ntfs ntfs-3g"
  "/usr/sbin/mkfs.ext4 e2fsprogs"
  "/usr/bin/genisoimage genisoimage"
  "/usr/sbin/mkudffs udftools"
  "/usr/sbin/cryptsetup cryptsetup-bin"
  "/usr/sbin/losetup mount"                   # loop devices for the kernel uevent test
  "tshark tshark"                             # flow and packet counts the traffic tests compare with
  "/usr/share/ieee-data/oui.txt ieee-data"    # MAC vendor names (OUI) for discovered devices
  "ip iproute2"                               # network namespaces and veth pairs for live capture tests
  "/usr/bin/chromium chromium"                # the browser the UI tests (e2e/ui_test.go) drive with chromedp
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core"  # the same font in every screenshot
  "/usr/bin/pdftoppm poppler-utils"            # renders the management-review PDF in the evidence tests (also pdftotext)
  # the Windows MSI, built and checked on Linux (scripts/package-windows.sh, packaging/windows_test.go)
  "wixl wixl"                                 # builds the MSI from packaging/windows/sonevakt-agent.wxs
  "msiinfo msitools"                          # reads the MSI's tables (also msibuild, msiextract, msidump)
  "osslsigncode osslsigncode"                 # Authenticode signing and verification of the exe and the MSI
  "openssl openssl"                           # the throwaway code-signing test certificate
  "systemd-analyze systemd"                   # verifies the units the Linux packages install (packaging/linux_test.go)
  "nft nftables"                              # blocks UDP in a network namespace for the TCP fallback test (e2e/fallback_test.go)
  # a real server for the PostgreSQL store's tests (internal/pgtest runs /usr/lib/postgresql/<ver>/bin/*);
  # pg_ctlcluster (postgresql-common) comes with every server version's package, at one path
  "/usr/bin/pg_ctlcluster postgresql"
  "tc iproute2"                               # tc netem: partition, delay and loss for the fault tests (e2e/faults_net_test.go)
  "/usr/sbin/modprobe kmod"                   # loads sch_netem for tc netem where it is a module (e2e/faults_net_test.go)
)
if [ "${1:-}" = bench ]; then
  needs+=("fusioninventory-inventory fusioninventory-agent")  # the inventory benchmark's peer
  needs+=("/usr/bin/time time")                                # wall, CPU and peak RSS of a command
  needs+=("softflowd softflowd")                               # the flow benchmark's peer
  needs+=("tcpdump tcpdump")                                   # reading the same capture, for scale
fi

missing=()
for n in "${needs[@]}"; do
  what=${n%% *}; pkg=${n#* }
  case $what in
    /*) [ -e "$what" ] || missing+=("$pkg") ;;
    *) command -v "$what" >/dev/null 2>&1 || missing+=("$pkg") ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "test-deps: missing ${missing[*]}; the tests that need them will skip (install them as root with apt-get)" >&2
fi
