#!/bin/bash
# Boot a kernel + initramfs under QEMU TCG with an AMD CPU (SVM + NPT) and
# write its serial console to LOG.  Extra arguments go on the kernel command
# line (our /init reads a=b ones from its environment).
# Usage: boot.sh VMLINUZ INITRD LOG TIMEOUT [a=b ...]
set -euo pipefail
kernel=$1 initrd=$2 log=$3 limit=$4
shift 4
# -accel tcg: this machine's /dev/kvm is a paravirtual one that hangs stock kernels.
# thread=single: with one host thread per vCPU (QEMU 7.2's default), a vCPU
# sometimes runs a stale translation of kernel text that another vCPU is
# patching, and the kernel dies on the patch's int3 ("Oops: int3" in
# __schedule when kvm_amd creates a VM, without kqemu loaded at all).  Two
# vCPUs on one thread still interleave.
# The debug suite too, though its fuzzer runs three times as fast with a
# thread per vCPU (it does not load kvm_amd): there, under the fuzzer, a
# vCPU once took the LAPIC timer interrupt with IF clear (EFLAGS 0x46, in
# __schedule with the runqueue locked: "BUG: spinlock recursion"), which no
# CPU does.  In both modes QEMU 7.2 sometimes leaves a vCPU's LAPIC timer
# interrupt pending in its IRR, deliverable (PPR 0x10), without taking it:
# across a VMRUN with V_INTR_MASKING and the INTR intercept set, which must
# #VMEXIT at once, and in the host's own code too, until an IPI reaches
# that vCPU (7-35 s under the fuzzer, reported as soft lockups).  The fuzzer
# therefore sends such IPIs itself, every 10 ms (sfuzz.c, the heartbeat).
# KQEMU_TCG_THREAD=multi overrides.  KQEMU_CPU replaces the CPU model
# (run.sh's la57 leg: EPYC,+la57, a host with 5-level paging).
boot() {
	timeout --foreground "$limit" qemu-system-x86_64 -accel "tcg,thread=${KQEMU_TCG_THREAD:-single}" \
		-cpu "${KQEMU_CPU:-EPYC}" -smp 2 -m 2048 \
		-nographic -no-reboot -monitor none -serial stdio \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 loglevel=4 $*" </dev/null >"$log" 2>&1 &
	vm=$!
	# A kernel that has reported a bug may be wedged for good (a CPU spinning
	# with interrupts off, say), and the VM would then sit out its whole limit:
	# once the log holds a report, stop the VM when it prints nothing for
	# $quiet seconds.  The report itself is what fails the suite.
	quiet=120
	(
		while sleep 5; do
			grep -qaE '(BUG|Oops|Kernel panic)[: ]' "$log" && break
		done
		size=-1
		while [ "$(stat -c %s "$log")" != "$size" ]; do
			size=$(stat -c %s "$log")
			sleep "$quiet"
		done
		echo "boot.sh: the kernel reported a bug, then printed nothing for ${quiet}s: VM stopped" >>"$log"
		kill "$vm"
	) </dev/null >/dev/null 2>&1 &
	watcher=$!
	rc=0
	wait "$vm" || rc=$?
	kill "$watcher" 2>/dev/null || true
	wait "$watcher" 2>/dev/null || true
	[ $rc -eq 124 ] && echo "boot.sh: the VM did not finish within ${limit}s" >>"$log"
	return $rc
}

# QEMU 7.2's TCG itself once died of SIGSEGV in a CI run, midway through a
# debug-kernel boot whose suite had passed up to there (the same suite
# passed in every other run, here and in CI): an emulator defect, not the
# guest's, since nothing a guest does may crash its emulator.  Then boot
# once more, keeping the first log; a second crash fails as before.
rc=0
boot "$@" || rc=$?
if [ $rc -eq 139 ] || [ $rc -eq 134 ]; then
	mv "$log" "$log.qemu-crashed"
	echo "boot.sh: qemu-system-x86_64 itself crashed (status $rc), booting once more; its log: $log.qemu-crashed" >&2
	rc=0
	boot "$@" || rc=$?
fi
exit $rc
