#!/bin/bash
# `make check`: every test, with one closing "N passed, N failed" line.
# The VM suite needs root (it builds in chroots and mounts /proc there).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

out=$(mktemp)
trap 'rm -f "$out"' EXIT

run() {
	"$@" 2>&1 | tee -a "$out"
	return "${PIPESTATUS[0]}"
}

status=0
echo "# unit tests: the uapi layout, 64- and 32-bit"
run make -s -C tests/unit check || status=1
echo "# kqemu-run's builds, plain, 32-bit, ASan and TSan, started on the host without kqemu"
run make -s check-tools || status=1
echo "# bochs.sh's stall watchdog, with a stand-in for Bochs"
run tests/vm/bochs-watchdog.sh || status=1
echo "# kqemuctl unit tests: every file operation under --root, faked libkmod syscalls"
run make -s check-helper || status=1
echo "# the Debian packages as uploaded: dpkg-buildpackage, then lintian -EvIL +pedantic"
run tests/lintian.sh || status=1
echo "# the VM suite"
if [ "$(id -u)" -ne 0 ]; then
	echo "not ok - the VM suite needs root (debootstrap, chroot): run make check as root" | tee -a "$out"
	status=1
else
	run tests/vm/run.sh || status=1
	echo "# the engine suite on Bochs's AMD CPU, which has the NRIP-save that QEMU lacks"
	run make -s check-bochs || status=1
	echo "# the device and engine suites on Bochs's Intel CPU: the VMX backend, which QEMU cannot run (Debian 12's kernel; make check-vmx-all for all three)"
	run make -s check-vmx || status=1
	echo "# make qemu: QEMU with kqemu from Debian 13's qemu source package and qemu/patches (cached), then it boots Debian 13's kernel on kqemu"
	if run make -s qemu; then
		echo "ok - make qemu builds QEMU with the kqemu accelerator" | tee -a "$out"
		echo "# make deb's package of it for Debian 13, qemu-system-x86-kqemu: lintian, its files, dpkg -i"
		run qemu/package.sh --check build/qemu build/deb || status=1
		run make -s check-qemu || status=1
	else
		echo "not ok - make qemu builds QEMU with the kqemu accelerator" | tee -a "$out"
	fi
fi

echo "# the full-system test: the Debian packages on a booted Debian 12, a kernel upgrade, a purge"
if [ "${KQEMU_SKIP_SYSTEM:-0}" = 1 ]; then
	echo "# skipped (KQEMU_SKIP_SYSTEM=1)"
elif [ "$(id -u)" -ne 0 ]; then
	echo "not ok - the full-system test needs root (debootstrap, chroot): run make check as root" | tee -a "$out"
	status=1
else
	run tests/system/run.sh || status=1
fi

# Under the debug kernel only where it is cached: building it takes about 30
# minutes on 2 cores, more than a CI run should spend.  Here the engine suite
# (every guest, guest memory, KVM beside kqemu) and the debug suite, whose
# fuzzer makes 200,000 calls; make check-debug alone runs every suite, the
# la57 boot too, and 1,000,000 calls.  Not the la57 boot here: under the
# debug kernel it takes 8 minutes, and QEMU 7.2 itself died of SIGSEGV in it
# twice (in CI and here, both while KVM ran debug.bin; boot.sh boots again
# then), while the la57 boots of all three stock kernels above pass.
echo "# make check-debug: the VM suites and the debug suite under KASAN, UBSAN, lockdep and kmemleak"
if [ "${KQEMU_SKIP_DEBUG:-0}" = 1 ]; then
	echo "# skipped (KQEMU_SKIP_DEBUG=1)"
elif ! tests/debug/build-kernel.sh --cached >/dev/null 2>&1; then
	echo "# skipped: the debug kernel is not built (make check-debug builds it once, about 30 minutes on 2 cores)"
elif [ "$(id -u)" -ne 0 ]; then
	echo "not ok - make check-debug needs root: run make check as root" | tee -a "$out"
	status=1
else
	run env SFUZZ_CALLS=200000 KQEMU_LA57_SUITES= make -s check-debug DEBUG_SUITES="engine debug" || status=1
fi

# The VM suite prints its own subtotal; count every verdict line once here.
passed=$(grep -c '^ok - ' "$out")
failed=$(grep -c '^not ok - ' "$out")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
	echo "not ok - a test step failed without a verdict line (see above)"
	failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
