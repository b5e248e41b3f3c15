#!/bin/bash
# bochs.sh's stall watchdog, on the host, with a stand-in for Bochs that
# writes a scripted serial log: a VM that prints nothing at all is stopped
# and booted once more; one whose heartbeat says the suite has been silent
# for too long in the VM's time is too; one whose heartbeat goes on while
# the suite is silent for a short while (a slow host) is left to finish.
# Runs in seconds: KQEMU_BOCHS_QUIET and KQEMU_BOCHS_STUCK are made small.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/lib.sh"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/bin"
: >"$dir/vmlinuz"
: >"$dir/initrd"
# The stand-in: boot N of a plan plays $plan.N, one "sleep S" or "say TEXT"
# per line, into the serial log the bochsrc names; then it idles, as Bochs
# does after a power-off.
cat >"$dir/bin/bochs" <<'EOF'
#!/bin/bash
while [ $# -gt 0 ] && [ "$1" != -f ]; do shift; done
log=$(sed -n 's/^com1:.* dev=\(.*\)$/\1/p' "$2")
n=$(($(cat "$FAKE_BOCHS_PLAN.count" 2>/dev/null || echo 0) + 1))
echo $n >"$FAKE_BOCHS_PLAN.count"
while read -r what arg; do
	case "$what" in
	sleep) sleep "$arg" ;;
	say) echo "$arg" >>"$log" ;;
	esac
done <"$FAKE_BOCHS_PLAN.$n"
sleep 1000
EOF
chmod +x "$dir/bin/bochs"

# watch NAME: bochs.sh on the plan $dir/NAME.*; its log is $dir/NAME.log.
watch() {
	rm -f "$dir/$1.count"
	PATH=$dir/bin:$PATH FAKE_BOCHS_PLAN=$dir/$1 KQEMU_BOCHS_QUIET=3 KQEMU_BOCHS_STUCK=90 \
		"$here/bochs.sh" "$dir/vmlinuz" "$dir/initrd" "$dir/$1.log" 60 >"$dir/$1.out" 2>&1
}
done_line='=== kqemu-vm: done ==='

# A kernel that wedges once: nothing, not even a heartbeat.
printf 'say ok - one\n' >"$dir/wedged.1"
printf 'say ok - two\nsay %s\n' "$done_line" >"$dir/wedged.2"
watch wedged
if grep -q 'the VM printed nothing, not even its heartbeat, for 3s: stopped' "$dir/wedged.log.stalled" &&
   grep -q "$done_line" "$dir/wedged.log" && [ "$(cat "$dir/wedged.count")" = 2 ] &&
   grep -q 'booting once more' "$dir/wedged.out" && grep -q '^#   ok - one' "$dir/wedged.out"; then
	say ok "bochs.sh: a VM silent for KQEMU_BOCHS_QUIET, heartbeat too, is stopped and booted once more"
else
	say fail "bochs.sh: a VM silent for KQEMU_BOCHS_QUIET, heartbeat too, is stopped and booted once more"
	sed 's/^/#   /' "$dir/wedged.out"
fi

# A suite stuck in a task twice: the heartbeat goes on, its silence grows.
for n in 1 2; do
	{
		echo "say ok - one"
		for s in 30 60 90 120 150; do
			echo "sleep 1"
			echo "say [   9.000000] kqemu-vm heartbeat: silent for $s s; up 9 s; 0: uart:16550A"
			echo "say [   9.000000] kqemu-vm heartbeat: task 77 D sfuzz in kqemu_run: kqemu_run"
		done
	} >"$dir/stuck.$n"
done
watch stuck
if grep -q "the suite printed nothing for 90s of the VM's time: stopped" "$dir/stuck.log.stalled" &&
   grep -q "the suite printed nothing for 90s of the VM's time: stopped" "$dir/stuck.log" &&
   grep -q '^#   .*kqemu-vm heartbeat: task 77 D sfuzz' "$dir/stuck.out"; then
	say ok "bochs.sh: a heartbeat that says the suite was silent for KQEMU_BOCHS_STUCK stops the VM, twice at most, and shows the stuck task"
else
	say fail "bochs.sh: a heartbeat that says the suite was silent for KQEMU_BOCHS_STUCK stops the VM, twice at most, and shows the stuck task"
	sed 's/^/#   /' "$dir/stuck.out"
fi

# A slow host: the suite is silent for longer than KQEMU_BOCHS_QUIET on the
# host's clock, for less than KQEMU_BOCHS_STUCK on the VM's.
{
	echo "say ok - one"
	for s in 30 60 30 60; do
		echo "sleep 2"
		echo "say [   9.000000] kqemu-vm heartbeat: silent for $s s; up 9 s"
	done
	echo "sleep 2"
	echo "say ok - two"
	echo "say $done_line"
} >"$dir/slow.1"
watch slow
if [ ! -e "$dir/slow.log.stalled" ] && grep -q "$done_line" "$dir/slow.log" && [ "$(cat "$dir/slow.count")" = 1 ]; then
	say ok "bochs.sh: a VM that beats while its suite is briefly silent is left to finish"
else
	say fail "bochs.sh: a VM that beats while its suite is briefly silent is left to finish"
	sed 's/^/#   /' "$dir/slow.out"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
