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
timeout --foreground "$limit" qemu-system-x86_64 -accel "tcg,thread=${KQEMU_TCG_THREAD:-single}" \
	-cpu EPYC -smp 2 -m 2048 \
	-nographic -no-reboot -monitor none -serial stdio \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 loglevel=4 $*" </dev/null >"$log" 2>&1 || {
	rc=$?
	[ $rc -eq 124 ] && echo "boot.sh: the VM did not finish within ${limit}s" >>"$log"
	exit $rc
}
