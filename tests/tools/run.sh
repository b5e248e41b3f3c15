#!/bin/bash
# kqemu-run's builds on the host, without kqemu (make check-tools): each
# must start, the sanitized ones with their runtimes (on the host's kernel:
# gcc 12's TSan stops at start-up where ASLR has more bits than it allows),
# and end in the sentence for a missing module, status 125, without a
# sanitizer report (LeakSanitizer's included: die() exits here).  Its
# threads run only on /dev/kqemu: the VM's engine suite runs them.
# Usage: run.sh [BUILD]    (default: build)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
. "$top/tests/lib.sh"

if [ -e /dev/kqemu ]; then
	echo "# skipped: /dev/kqemu exists here, so kqemu-run would run the guest (the VM suite covers that)"
	echo "$passed passed, $failed failed"
	exit 0
fi
for tool in kqemu-run kqemu-run32 kqemu-run-asan kqemu-run-tsan; do
	out=$("$build/tools/$tool" --smp 16 "$build/guests/hello.bin" 2>&1)
	rc=$?
	if [ "$rc" = 125 ] && printf '%s\n' "$out" | grep -q "^kqemu-run: /dev/kqemu does not exist: the kqemu module is not loaded" &&
	   ! printf '%s\n' "$out" | grep -qE 'Sanitizer|runtime error:'; then
		say ok "$tool without the module: status 125, the sentence, no sanitizer report"
	else
		say fail "$tool without the module: status $rc (wanted 125), output:"
		printf '%s\n' "$out" | head -n 20 | sed 's/^/#   /'
	fi
done
case "$(ASAN_OPTIONS=help=1 "$build/tools/kqemu-run-asan" --help 2>&1)" in
*"Available flags for AddressSanitizer:"*) say ok "kqemu-run-asan carries AddressSanitizer's runtime" ;;
*) say fail "kqemu-run-asan carries AddressSanitizer's runtime" ;;
esac
case "$(TSAN_OPTIONS=help=1 "$build/tools/kqemu-run-tsan" --help 2>&1)" in
*"Available flags for ThreadSanitizer:"*) say ok "kqemu-run-tsan carries ThreadSanitizer's runtime" ;;
*) say fail "kqemu-run-tsan carries ThreadSanitizer's runtime" ;;
esac
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
