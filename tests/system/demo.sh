#!/bin/bash
# `make demo`: kqemu on a Debian 12 system, from nothing, told step by step.
# Installs what it needs (apt-get), builds the Debian packages, installs
# them into a fresh Debian 12 system as an admin would, boots that system
# under QEMU and shows a kvm-users member running a guest and an outsider
# being refused; then member boots Linux with QEMU on kqemu (make qemu).
# Needs root (apt-get, debootstrap, chroot).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
say() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "make demo needs root (it installs packages and builds a Debian system): sudo make demo" >&2
	exit 1
fi
say "Installing the tools the demo needs: $(tr '\n' ' ' <tests/deps.txt)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $(cat tests/deps.txt) >/dev/null
say "Building kqemuctl, the demo VMM kqemu-run and its guest programs"
make -s helper tools
say "Building QEMU with the kqemu accelerator (make qemu): Debian 13's qemu source package and qemu/patches, in a Debian 13 chroot; the first run takes about ten minutes, later ones nothing (cached in /var/cache/kqemu)"
make -s qemu
cat <<'EOT'

==> Now the demo proper.  It
    1. builds the Debian packages kqemu-dkms (the module's source, for DKMS)
       and kqemu-utils (kqemuctl, kqemu-run, udev rule, sysusers.d,
       modules-load.d) with dpkg-buildpackage;
    2. makes a Debian 12 system with debootstrap (cached in /var/cache/kqemu;
       the first run downloads about 400 MB and takes a few minutes);
    3. installs the packages there with apt-get, as on a real host: DKMS
       builds kqemu.ko for that system's kernel; `kqemuctl adduser member`
       puts the user "member" in kvm-users; "outsider" stays out;
    4. boots it under QEMU with systemd.  Nobody touches kqemu after boot:
       the lines below come from inside that machine.  Watch for
       "Hello from a kqemu guest" (member) and "permission denied" (outsider);
    5. then member boots Linux (that system's own kernel, with a tiny
       initramfs) in QEMU with -accel kqemu, and the lines "the guest says:"
       are that guest's own words, from its serial console.
EOT
KQEMU_DEMO=1 tests/system/run.sh
say "Done.  To install on this machine instead: see README.md, 'Install on a host'."
