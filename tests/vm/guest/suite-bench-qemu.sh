# make bench's QEMU leg: make qemu's QEMU boots this very kernel with the
# small initramfs of tests/vm/qemu-guest on kqemu (as a kvm-users member),
# on the kernel's KVM and on plain TCG, in this one boot, and the guest
# times its own work (qemu-guest/bench.c).  Prints the numbers and the
# ratios: kqemu / KVM (below 1: kqemu is faster) and TCG / kqemu (what the
# accelerator buys).
# Each run's limit: TCG's take about 110 s here; kvm_amd's sometimes stall.
limit=${qemu_limit:-300}
need_qemu || return 0 2>/dev/null || exit 0

load_kqemu allow_groups=990
for m in $(cat /lib/kvm/order); do
	/lib/kvm/insmod "/lib/kvm/$m"
done
[ -d /sys/module/kvm_amd ] || echo "not ok - kvm_amd does not load"

# uptime_cs: the test VM's uptime in hundredths of a second.
uptime_cs() {
	cut -d' ' -f1 /proc/uptime | tr -d .
}

# qemu_run ACCEL MODE: one boot of the guest in kq_mode MODE; its serial
# console in /tmp/bench.serial, its wall time in $run_ms, its status in $rc.
qemu_run() {
	local accel=$1 mode=$2 as= cpu=host t0
	[ "$accel" = kqemu ] && as="/bin/runas member"
	[ "$accel" = tcg ] && cpu=max
	: >/tmp/bench.serial
	chown member /tmp/bench.serial
	t0=$(uptime_cs)
	timeout "$limit" $as $Q -accel "$accel" -cpu $cpu -smp 1 -m 256 \
		-nodefaults -no-user-config -display none -serial file:/tmp/bench.serial \
		-device pci-testdev -kernel /opt/guest/vmlinuz -initrd /opt/guest/initrd.gz \
		-append "console=ttyS0 panic=-1 loglevel=4 kq_mode=$mode" >/tmp/bench.out 2>&1
	rc=$?
	run_ms=$((($(uptime_cs) - t0) * 10))
	echo "# bench: $accel, kq_mode=$mode: QEMU ran for $run_ms ms, status $rc"
	if [ $rc != 0 ] || ! grep -q '^kqemu-guest: powering off' /tmp/bench.serial; then
		echo "# $accel, kq_mode=$mode: status $rc; QEMU and the guest said:"
		tail -n 5 /tmp/bench.out | sed 's/^/#   /'
		tr -d '\r' </tmp/bench.serial | tail -n 10 | sed 's/^/#   /'
		rc=1
	fi
}

# said NAME: the guest's ns per operation for bench NAME, in the last run.
said() {
	tr -d '\r' </tmp/bench.serial | sed -n "s/^kqemu-guest: bench $1 \([0-9.]*\) ns per .*/\1/p" | head -n 1
}

# best ACCEL RUNS: the least of RUNS boots to init (boot_ms) and runs of
# the guest's work (cpu, pio, mmio: ns per operation), for ACCEL.
best() {
	local accel=$1 runs=$2 i v b
	eval "boot_$accel= cpu_$accel= pio_$accel= mmio_$accel="
	for i in $(seq "$runs"); do
		qemu_run "$accel" run || return 1
		b=$(eval echo "\$boot_$accel")
		[ -z "$b" ] || [ "$run_ms" -lt "$b" ] && eval "boot_$accel=$run_ms"
		qemu_run "$accel" bench || return 1
		tr -d '\r' </tmp/bench.serial | grep '^kqemu-guest: bench' | sed "s/^kqemu-guest: /# bench: $accel: /"
		for w in cpu pio mmio; do
			v=$(said $w)
			if [ -z "$v" ]; then
				echo "# $accel: the guest timed no $w; it said:"
				tr -d '\r' </tmp/bench.serial | tail -n 12 | sed 's/^/#   /'
				return 1
			fi
			b=$(eval echo "\$${w}_$accel")
			if [ -z "$b" ] || awk "BEGIN { exit !($v < $b) }"; then
				eval "${w}_$accel=$v"
			fi
		done
	done
}

ratio() {
	if [ -n "$1" ] && [ -n "$2" ]; then
		awk "BEGIN { printf \"%.2f\", $1 / $2 }"
	else
		echo -
	fi
}

# report WHAT UNIT NAME [GOAL]: kqemu, KVM and TCG for NAME, and the ratios
# ("-" where one did not finish).
report() {
	local what=$1 unit=$2 name=$3 goal=${4:-} k v t
	k=$(eval echo "\$${name}_kqemu") v=$(eval echo "\$${name}_kvm") t=$(eval echo "\$${name}_tcg")
	printf '# bench: %-28s kqemu %9s %s  KVM %9s %s  TCG %9s %s  kqemu/KVM %s%s  TCG/kqemu %s\n' \
		"$what" "${k:--}" "$unit" "${v:--}" "$unit" "${t:--}" "$unit" "$(ratio "$k" "$v")" \
		"${goal:+ (goal <= $goal)}" "$(ratio "$t" "$k")"
}

echo "# bench: QEMU $($Q --version | head -n 1 | sed 's/.*version //'), guest kernel $(uname -r), 1 vCPU, 256 MiB, best of 2 (TCG: 1)"
for accel in kqemu kvm tcg; do
	runs=2
	[ $accel = tcg ] && runs=1
	if best $accel $runs; then
		echo "ok - bench: QEMU's guest booted and timed its work on $accel"
	else
		echo "not ok - bench: QEMU's guest booted and timed its work on $accel"
	fi
done
report "boot to init and power-off" ms boot 1.2
report "CPU-bound loop (no exit)" ns/round cpu 1.0
report "port I/O reads (exits)" ns/read pio 1.2
report "MMIO reads (exits)" ns/read mmio 1.2
rmmod kvm_amd kvm
rmmod kqemu
