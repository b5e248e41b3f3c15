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
# The debug suite (make check-debug) gets a thread per vCPU, where its
# fuzzer runs three times as fast: it does not load kvm_amd.  In both modes
# QEMU 7.2 sometimes leaves a vCPU's LAPIC timer interrupt pending in its
# IRR, deliverable (PPR 0x10), without taking it: across a VMRUN with
# V_INTR_MASKING and the INTR intercept set, which must #VMEXIT at once, and
# in the host's own code too, until an IPI reaches that vCPU (7-35 s under
# the fuzzer, reported as soft lockups).
thread=single
case " $* " in *" kqemu_suite=debug "*) thread=multi ;; esac
timeout --foreground "$limit" qemu-system-x86_64 -accel "tcg,thread=${KQEMU_TCG_THREAD:-$thread}" \
	-cpu EPYC -smp 2 -m 2048 \
	-nographic -no-reboot -monitor none -serial stdio \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 loglevel=4 $*" </dev/null >"$log" 2>&1 || {
	rc=$?
	[ $rc -eq 124 ] && echo "boot.sh: the VM did not finish within ${limit}s" >>"$log"
	exit $rc
}
