# What every suite may use; /init sources this before the suite.

# check NAME EXPR: a verdict line on a shell expression.
check() {
	if eval "$2"; then echo "ok - $1"; else echo "not ok - $1"; fi
}

# load_kqemu PARAMS...: insmod kqemu.ko with PARAMS, and make /dev/kqemu
# the group's (the initramfs has no udev to apply the rule).
load_kqemu() {
	insmod /lib/kqemu.ko "$@" || echo "not ok - insmod kqemu.ko $*"
	chgrp 990 /dev/kqemu
	chmod 0660 /dev/kqemu
}

# run_guest NAME STATUS PATTERN USER ARGS...: kqemu-run ARGS as USER must
# exit with STATUS, print a line matching PATTERN, and print no sanitizer
# report.  kqemu_run=PATH runs another build of it (/bin/kqemu-run32, the
# 32-bit one; /bin/kqemu-run-asan and -tsan, whose runtimes name themselves
# in every report: "ERROR: AddressSanitizer", "WARNING: ThreadSanitizer",
# UBSan's "runtime error:"; kqemu-run never says "Sanitizer" itself).
run_guest() {
	local name=$1 want=$2 pattern=$3 user=$4 out rc
	shift 4
	out=$(/bin/runas "$user" "${kqemu_run:-/bin/kqemu-run}" "$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ] && printf '%s\n' "$out" | grep -q -- "$pattern" &&
	   ! printf '%s\n' "$out" | grep -qE 'Sanitizer|runtime error:'; then
		echo "ok - $name (status $rc)"
	else
		echo "not ok - $name: status $rc (wanted $want), output:"
		# A report's first lines say what and where; its end, little.
		if printf '%s\n' "$out" | grep -qE 'Sanitizer|runtime error:'; then
			printf '%s\n' "$out" | grep -m 1 -A 30 -E 'Sanitizer|runtime error:' | sed 's/^/#   /'
		else
			printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 15
		fi
	fi
}

# run_watched FILE CMD...: CMD's output into FILE, its "...: progress: ..."
# lines shown as they come, for a step that runs for minutes under Bochs,
# whose host stops a VM that prints nothing for long (bochs.sh); $rc is
# CMD's status.
run_watched() {
	local file=$1 shown=0 n pid
	shift
	"$@" >"$file" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		n=$(grep -c ': progress: ' "$file")
		if [ "$n" -gt "$shown" ]; then
			grep ': progress: ' "$file" | tail -n $((n - shown))
			shown=$n
		fi
	done
	wait "$pid"
	rc=$?
}

# need_qemu: $Q, the command that runs make qemu's QEMU, packed with its
# own libraries and loader in /opt/qemu (pack-qemu.sh); or, where it is
# not there, a "not ok" line and status 1.
need_qemu() {
	if [ ! -x /opt/qemu/bin/qemu-system-x86_64 ]; then
		echo "not ok - QEMU with kqemu is in the initramfs (run make qemu first)"
		return 1
	fi
	Q="/opt/qemu/lib/ld-linux-x86-64.so.2 --library-path /opt/qemu/lib /opt/qemu/bin/qemu-system-x86_64 -L /opt/qemu/share"
}

# kqemu.ko where libkmod and modprobe find it by name, as `make
# modules_install` and DKMS put it.
install_module_tree() {
	local moddir=/lib/modules/$(uname -r)
	mkdir -p "$moddir/extra"
	cp /lib/kqemu.ko "$moddir/extra/"
	: >"$moddir/modules.order"
	: >"$moddir/modules.builtin"
	: >"$moddir/modules.builtin.modinfo"
	/sbin/depmod -a 2>&1 | sed 's/^/# depmod: /'
}
