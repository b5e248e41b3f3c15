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
# vdso32=0: Bochs's SYSRET keeps SS's cached attributes (as AMD's CPUs do)
# on every model, Intel's too, where the kernel does not reload SS before
# it (it does only on AMD, X86_BUG_SYSRET_SS_ATTRS).  A 32-bit process that
# returns from SYSENTER by SYSRETL after the kernel switched to it from a
# task that entered by an interrupt (SS null, D/B clear) then runs on with
# a 16-bit stack: a segfault at SP's low 16 bits, at the POP after the
# vDSO's SYSENTER.  On corei7_sandy_bridge_2600k, in one boot, 2 of 60
# runs of the 32-bit VMM on kqemu and 3 of 30 on kvm_intel died so.
# Without the 32-bit vDSO such processes use INT 0x80, whose IRET loads SS
# from the GDT.
# A stalled VM is stopped and booted once more, the first log kept; a
# second stall fails the run.  Bochs runs one CPU, so no watchdog inside
# can say so (once in CI, while kvm_intel ran a guest), and its speed is
# the host's: on a slow one a step that prints nothing for a few minutes
# of the VM's time (a fuzzer's run, say) takes many more of the host's.
# So the VM's own heartbeat (kqemu_heartbeat, tests/vm/guest/init) says,
# every 15 s of the VM's time while the suite is silent, for how long in
# that time it has been.  Stalled means: a serial log silent for
# KQEMU_BOCHS_QUIET seconds (300) of the host's, heartbeats included (the
# kernel is wedged), or a heartbeat that says the suite has been silent for
# KQEMU_BOCHS_STUCK seconds (180) of the VM's (a task is stuck).
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
  APPEND initrd=/initrd.gz console=ttyS0 panic=-1 loglevel=4 kqemu_drain=300 kqemu_heartbeat=15 printk.devkmsg=on vdso32=0 $*
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
quiet=${KQEMU_BOCHS_QUIET:-300}
stuck=${KQEMU_BOCHS_STUCK:-180}

# suite_silence: for how long the last heartbeat says the suite has been
# silent, in seconds of the VM's time (0 before any).
suite_silence() {
	grep -ao 'kqemu-vm heartbeat: silent for [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || echo 0
}

# boot: one run of Bochs; status 0, or 124 past the limit, or 125 stalled.
boot() {
	local bochs size=-1 now still=0 rc=0 why
	: >"$log"
	# Bochs in its own session, so that it can be stopped with what runs it
	# once the VM has said it is done (its power-off is a panic, which with
	# "report" would leave it running).
	(cd "$dir" && exec setsid timeout "$limit" script -qfec "bochs -q -f $dir/bochsrc -rc $dir/rc" /dev/null) \
		</dev/null >/dev/null 2>&1 &
	bochs=$!
	while kill -0 $bochs 2>/dev/null; do
		if grep -q '=== kqemu-vm: done ===' "$log"; then
			kill -- -$bochs 2>/dev/null
			break
		fi
		now=$(stat -c %s "$log")
		if [ "$now" = "$size" ]; then
			still=$((still + 1))
		else
			size=$now still=0
		fi
		why=
		if [ $still -ge "$quiet" ]; then
			why="the VM printed nothing, not even its heartbeat, for ${quiet}s"
		elif [ "$(suite_silence)" -ge "$stuck" ]; then
			why="the suite printed nothing for ${stuck}s of the VM's time"
			# The rest of that beat, its tasks' stacks, before the stop.
			sleep 10
		fi
		if [ -n "$why" ]; then
			kill -- -$bochs 2>/dev/null
			wait $bochs 2>/dev/null || true
			# On a line of its own: Bochs may have stopped in the middle of one.
			printf '\nbochs.sh: %s: stopped\n' "$why" >>"$log"
			return 125
		fi
		sleep 1
	done
	wait $bochs || rc=$?
	[ $rc -eq 124 ] && echo "bochs.sh: the VM did not finish within ${limit}s" >>"$log"
	return $rc
}

rc=0
boot || rc=$?
cp "$dir/bochs.log" "$log.bochs" 2>/dev/null || true
if [ $rc -eq 125 ]; then
	mv "$log" "$log.stalled"
	mv "$log.bochs" "$log.stalled.bochs" 2>/dev/null || true
	echo "bochs.sh: $(tail -n 1 "$log.stalled" | sed 's/^bochs.sh: //'), booting once more; its log: $log.stalled" >&2
	# (|| true: under pipefail a grep that finds nothing would end the
	# script here, before the second boot.)
	echo "# the stalled boot's last lines:" >&2
	{ grep -av 'kqemu-vm heartbeat:' "$log.stalled" || true; } | tail -n 5 | sed 's/^/#   /' >&2
	echo "# its last heartbeat lines (none where the kernel never beat):" >&2
	{ grep -a 'kqemu-vm heartbeat:' "$log.stalled" || true; } | tail -n 12 | sed 's/^/#   /' >&2
	echo "# Bochs's own log:" >&2
	{ tail -n 10 "$log.stalled.bochs" 2>/dev/null || true; } | sed 's/^/#   /' >&2
	boot || true
	cp "$dir/bochs.log" "$log.bochs" 2>/dev/null || true
fi
exit 0
