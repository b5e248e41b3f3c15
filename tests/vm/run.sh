#!/bin/bash
# The VM suite: for each supported Debian kernel, build kqemu.ko against its
# headers in that release's chroot, boot it under QEMU TCG with the test
# initramfs, and collect the "ok"/"not ok" lines of the programs inside.
# Also judges what only the host can see: that each build was warning-free,
# that each VM ran to its end, and that each kernel log is clean.
# Usage: run.sh [RELEASE...]     (default: bookworm trixie sid)
# Environment: KQEMU_CACHE (downloads, chroots), FUZZ_CALLS, KQEMU_BUILD,
# KQEMU_SUITES (default: every tests/vm/guest/suite-*.sh but those below;
# one boot each).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${KQEMU_BUILD:-$top/build}
releases=${*:-bookworm trixie sid}
fuzz_calls=${FUZZ_CALLS:-100000}
# bench, bench-vmx and bench-qemu are not tests (`make bench` asks for them
# by name);
# debug needs the debug kernel (`make check-debug`); nrip needs Bochs's AMD
# CPU (`make check-bochs`); vmx Bochs's Intel CPU (`make check-vmx`); qemu
# the QEMU that `make qemu` builds (`make check-qemu`).
# KQEMU_KERNEL_SH and KQEMU_BUILD_SH replace kernel.sh and build.sh (the
# debug kernel has its own).
kernel_sh=${KQEMU_KERNEL_SH:-$here/kernel.sh}
build_sh=${KQEMU_BUILD_SH:-$here/build.sh}
# KQEMU_BOOT_SH replaces boot.sh (bochs.sh: the CPU models QEMU lacks).
boot_sh=${KQEMU_BOOT_SH:-$here/boot.sh}
boot_limit=${KQEMU_BOOT_LIMIT:-900}
# In KQEMU_SUITES, the word "default" stands for that list (make check-debug
# asks for "default debug").
default_suites=$(cd "$here/guest" && ls suite-*.sh | sed 's/^suite-//; s/\.sh$//' | grep -vxE 'bench|bench-vmx|bench-qemu|debug|nrip|vmx|qemu')
suites=$(for s in ${KQEMU_SUITES:-default}; do
	if [ "$s" = default ]; then echo "$default_suites"; else echo "$s"; fi
done)

# The suites booted once more on a host with 5-level paging (QEMU's
# `-cpu EPYC,+la57`), where the SVM backend's nested table has 5 levels:
# under boot.sh only (Bochs's CPU models have no LA57).  Empty: none.
la57_suites=${KQEMU_LA57_SUITES-engine}
[ -n "${KQEMU_BOOT_SH:-}" ] && la57_suites=

# What a clean kernel log must not contain.
bad_log='BUG:|WARNING: CPU|cut here|Oops|general protection fault|refcount_t:|list_(add|del) corruption|kernel BUG|Call Trace:|UBSAN:|KASAN:|scheduling while atomic|possible recursive locking|circular locking|unreferenced object|blocked for more than'

. "$top/tests/lib.sh"

# boot_suite SUITE [la57]: one boot of $kdir with $work/initrd.gz (on a
# 5-level-paging CPU with la57); judge its log.
boot_suite() {
	local suite=$1 variant=${2:-} start=$SECONDS line
	local name=$suite${variant:+-$variant}
	local log=$work/serial-$name.log tag="[$abi $suite${variant:+ $variant}]"
	local cpu=${KQEMU_CPU:-EPYC} extra=
	if [ "$variant" = la57 ]; then
		cpu=$cpu,+la57 extra=kqemu_la57=1
	fi
	KQEMU_CPU=$cpu "$boot_sh" "$kdir/vmlinuz" "$work/initrd.gz" "$log" "$boot_limit" \
		kqemu_suite="$suite" fuzz_calls="$fuzz_calls" sfuzz_calls="${SFUZZ_CALLS:-1000000}" \
		$extra ${KQEMU_CMDLINE:-}
	echo "# $tag VM ran for $((SECONDS - start)) s; serial log: $log"

	while IFS= read -r line; do
		case "$line" in
		"ok - "*) say ok "$tag ${line#ok - }" ;;
		"not ok - "*) say fail "$tag ${line#not ok - }" ;;
		"# bench: "*) echo "${line#\# }" ;;
		"# "*) echo "# $tag ${line#\# }" ;;
		esac
	done < <(tr -d '\r' <"$log" | sed -n '/^=== kqemu-vm: kernel log ===/q;p')

	if grep -q '^=== kqemu-vm: done ===' <(tr -d '\r' <"$log"); then
		say ok "$tag the VM ran its suite to the end"
	else
		tail -n 40 "$log"
		say fail "$tag the VM ran its suite to the end"
	fi
	# The kernel's own boot is judged apart: what it reports before init
	# starts the suite (an emulated CPU model the kernel dislikes, say) is
	# shown, but cannot be kqemu's, which nothing has loaded yet.
	tr -d '\r' <"$log" | awk -v boot="$work/boot-$name.log" '
		/^=== kqemu-vm: kernel log ===/ { judged = 0 }
		judged { print; next }
		{ print >boot }
		/kqemu-vm: kernel .*, suite |kqemu-vm: the suite starts/ { judged = 1 }' >"$work/judged-$name.log"
	if grep -E "$bad_log" "$work/boot-$name.log" >"$work/bad-boot-$name.log"; then
		echo "# $tag before the suite started, the kernel's own boot reported:"
		sed -n '1,/end trace/p' "$work/bad-boot-$name.log" | head -n 5 | sed 's/^/#   /'
	fi
	if grep -E "$bad_log" "$work/judged-$name.log" >"$work/bad-$name.log"; then
		cat "$work/bad-$name.log"
		say fail "$tag the kernel log holds no BUG, WARNING, Oops or corruption report"
	else
		say ok "$tag the kernel log holds no BUG, WARNING, Oops or corruption report"
	fi
}

make -s -C "$top" BUILD="$build" guest helper tools || { echo "not ok - guest programs build"; echo "0 passed, 1 failed"; exit 1; }

for release in $releases; do
	work=$build/vm/$release
	rm -rf "$work"
	mkdir -p "$work"
	if ! kdir=$("$kernel_sh" "$release" 2>"$work/kernel.log"); then
		cat "$work/kernel.log"
		say fail "[$release] fetch the kernel"
		continue
	fi
	abi=$(cat "$kdir/release")
	if "$build_sh" "$release" "$work" >"$work/build.log" 2>&1; then
		say ok "[$abi] kqemu.ko builds with W=1 and no warning"
	else
		tail -n 30 "$work/build.log"
		say fail "[$abi] kqemu.ko builds with W=1 and no warning"
		continue
	fi
	# The speculation checklist, read off the module (spec-check.sh), where
	# build.sh built it in the release's chroot (not the debug kernel's).
	headers=
	[ -z "${KQEMU_BUILD_SH:-}" ] &&
		headers=$("$here/chroot.sh" "$release" 2>/dev/null)/usr/src/linux-headers-$abi
	if [ -n "$headers" ] && [ -f "$headers/Module.symvers" ]; then
		while IFS= read -r line; do
			case "$line" in
			"ok - "*) say ok "${line#ok - }" ;;
			"not ok - "*) say fail "${line#not ok - }" ;;
			*) echo "$line" ;;
			esac
		done < <("$here/spec-check.sh" "$work/kqemu.ko" "$headers" "[$abi]")
	fi
	KQEMU_KDIR=$kdir "$here/mkinitramfs.sh" "$work/initrd.gz" "$work" "$build/guest" || {
		say fail "[$abi] pack the initramfs"
		continue
	}
	for suite in $suites; do
		boot_suite "$suite"
		case " $la57_suites " in
		*" $suite "*) boot_suite "$suite" la57 ;;
		esac
	done
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
