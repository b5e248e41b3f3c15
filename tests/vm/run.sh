#!/bin/bash
# The VM suite: for each supported Debian kernel, build kqemu.ko against its
# headers in that release's chroot, boot it under QEMU TCG with the test
# initramfs, and collect the "ok"/"not ok" lines of the programs inside.
# Also judges what only the host can see: that each build was warning-free,
# that each VM ran to its end, and that each kernel log is clean.
# Usage: run.sh [RELEASE...]     (default: bookworm trixie sid)
# Environment: KQEMU_CACHE (downloads, chroots), FUZZ_CALLS, KQEMU_BUILD.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${KQEMU_BUILD:-$top/build}
releases=${*:-bookworm trixie sid}
fuzz_calls=${FUZZ_CALLS:-100000}

# What a clean kernel log must not contain.
bad_log='BUG:|WARNING: CPU|cut here|Oops|general protection fault|refcount_t:|list_(add|del) corruption|kernel BUG|Call Trace:|UBSAN:|KASAN:|scheduling while atomic|possible recursive locking|circular locking|unreferenced object|blocked for more than'

passed=0 failed=0
say() {
	local verdict=$1
	shift
	if [ "$verdict" = ok ]; then
		passed=$((passed + 1))
		echo "ok - $*"
	else
		failed=$((failed + 1))
		echo "not ok - $*"
	fi
}

make -s -C "$top" guest || { echo "not ok - guest programs build"; echo "0 passed, 1 failed"; exit 1; }

for release in $releases; do
	work=$build/vm/$release
	rm -rf "$work"
	mkdir -p "$work"
	if ! kdir=$("$here/kernel.sh" "$release" 2>"$work/kernel.log"); then
		cat "$work/kernel.log"
		say fail "[$release] fetch the kernel"
		continue
	fi
	abi=$(cat "$kdir/release")
	if "$here/build.sh" "$release" "$work" >"$work/build.log" 2>&1; then
		say ok "[$abi] kqemu.ko builds with W=1 and no warning"
	else
		tail -n 30 "$work/build.log"
		say fail "[$abi] kqemu.ko builds with W=1 and no warning"
		continue
	fi
	"$here/mkinitramfs.sh" "$work/initrd.gz" "$work" "$build/guest"
	start=$SECONDS
	"$here/boot.sh" "$kdir/vmlinuz" "$work/initrd.gz" "$work/serial.log" 900 \
		kqemu_suite=device fuzz_calls="$fuzz_calls"
	echo "# [$abi] VM ran for $((SECONDS - start)) s; serial log: $work/serial.log"

	while IFS= read -r line; do
		case "$line" in
		"ok - "*) say ok "[$abi] ${line#ok - }" ;;
		"not ok - "*) say fail "[$abi] ${line#not ok - }" ;;
		"# "*) echo "# [$abi] ${line#\# }" ;;
		esac
	done < <(tr -d '\r' <"$work/serial.log" | sed -n '/^=== kqemu-vm: kernel log ===/q;p')

	if grep -q '^=== kqemu-vm: done ===' <(tr -d '\r' <"$work/serial.log"); then
		say ok "[$abi] the VM ran its suite to the end"
	else
		tail -n 40 "$work/serial.log"
		say fail "[$abi] the VM ran its suite to the end"
	fi
	if tr -d '\r' <"$work/serial.log" | grep -E "$bad_log" >"$work/bad.log"; then
		cat "$work/bad.log"
		say fail "[$abi] the kernel log holds no BUG, WARNING, Oops or corruption report"
	else
		say ok "[$abi] the kernel log holds no BUG, WARNING, Oops or corruption report"
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
