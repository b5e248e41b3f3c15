#!/bin/bash
# boot.sh's twin for Bochs, which (unlike QEMU) emulates NRIP-save on AMD
# and VT-x on Intel: boot a kernel + initramfs, serial console to LOG.
# Usage: bochs.sh VMLINUZ INITRD LOG TIMEOUT [a=b ...]
# KQEMU_BOCHS_CPU picks the CPU model (default trinity_apu, an AMD APU
# with NRIP-save; corei7_sandy_bridge_2600k has VMX with EPT).
# Debian's Bochs starts in its debugger (the rc file says "continue"), has
# no headless display (the term one, under script), drains its serial port
# slowly, and ends every power-off in a PANIC: judge by the serial log.
# reset_on_triple_fault=0 and panics reported: a guest's triple fault must
# reach the hypervisor (a SHUTDOWN intercept), not reset or stop Bochs.
set -euo pipefail
model=${KQEMU_BOCHS_CPU:-trinity_apu}
kernel=$1 initrd=$2 log=$3 limit=$4
shift 4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

mkdir -p "$dir/iso/isolinux"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$dir/iso/isolinux/"
cp "$kernel" "$dir/iso/vmlinuz"
cp "$initrd" "$dir/iso/initrd.gz"
cat >"$dir/iso/isolinux/isolinux.cfg" <<EOC
DEFAULT kqemu
LABEL kqemu
  KERNEL /vmlinuz
  APPEND initrd=/initrd.gz console=ttyS0 panic=-1 loglevel=4 kqemu_drain=300 $*
EOC
xorriso -as mkisofs -quiet -o "$dir/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
	-no-emul-boot -boot-load-size 4 -boot-info-table "$dir/iso" 2>/dev/null

cat >"$dir/bochsrc" <<EOC
megs: 1024
cpu: model=$model, count=1, ips=200000000, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$dir/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$log
clock: sync=none
display_library: term
log: $dir/bochs.log
panic: action=report
EOC
# Its debugger also takes over at every panic and triple fault: each "c"
# in the rc file goes on once.
printf "c\n%.0s" $(seq 1000) >"$dir/rc"
: >"$log"
cd "$dir"
# Bochs in its own session, so that it can be stopped with what runs it
# once the VM has said it is done (its power-off is a panic, which with
# "report" would leave it running).
setsid timeout "$limit" script -qfec "bochs -q -f $dir/bochsrc -rc $dir/rc" /dev/null \
	</dev/null >/dev/null 2>&1 &
bochs=$!
while kill -0 $bochs 2>/dev/null; do
	if grep -q '=== kqemu-vm: done ===' "$log"; then
		kill -- -$bochs 2>/dev/null
		break
	fi
	sleep 1
done
rc=0
wait $bochs || rc=$?
[ $rc -eq 124 ] && echo "bochs.sh: the VM did not finish within ${limit}s" >>"$log"
cp "$dir/bochs.log" "$log.bochs" 2>/dev/null
exit 0
