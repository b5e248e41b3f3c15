# What only the debug kernel (make check-debug) can show: the structured
# fuzzer under KASAN/lockdep while the policy flips, fault injection on
# every allocation, unload/reload racing opens, and a kmemleak scan.
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
insmod /lib/kqemu.ko allow_groups=990 || echo "not ok - insmod kqemu.ko"
chgrp 990 /dev/kqemu
chmod 0660 /dev/kqemu
stats_zero() {
	[ "$(cat /sys/class/misc/kqemu/stats/vms)" = 0 ] &&
		[ "$(cat /sys/class/misc/kqemu/stats/vcpus)" = 0 ] &&
		[ "$(cat /sys/class/misc/kqemu/stats/pinned_bytes)" = 0 ]
}

# 1. The structured fuzzer, while root rewrites the policy (the member
# stays allowed, but every fd must re-check) and toggles strict.
touch /tmp/flip
(
	p=/sys/module/kqemu/parameters
	while [ -e /tmp/flip ]; do
		echo 990,1002 >$p/allow_groups
		echo 1 >$p/strict
		echo 990 >$p/allow_groups
		echo 0 >$p/strict
	done
) &
flipper=$!
start=$(date +%s)
/bin/runas member /bin/sfuzz "${sfuzz_calls:-1000000}" 1
rm /tmp/flip
wait $flipper
echo "# sfuzz took $(($(date +%s) - start)) s"
check "after the structured fuzzer nothing is left (vms, vcpus, pinned)" stats_zero

# 2. Fault injection: every kmalloc (failslab) and page allocation
# (fail_page_alloc; user pages exempt) of a process may fail.  Each guest
# run must end cleanly, and nothing may be left behind.
for f in failslab fail_page_alloc; do
	d=/sys/kernel/debug/$f
	echo Y >$d/task-filter
	echo 10 >$d/probability
	echo 1 >$d/interval
	echo -1 >$d/times
	echo 0 >$d/verbose
	echo N >$d/ignore-gfp-wait
done
echo Y >/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem
ok=0 clean_fail=0 other=0 i=0
while [ $i -lt 300 ]; do
	out=$(sh -c 'echo 1 >/proc/self/make-it-fail; exec /bin/runas member /bin/kqemu-run --quiet /guests/hello.bin' 2>&1)
	case $? in
	0) ok=$((ok + 1)) ;;
	125) clean_fail=$((clean_fail + 1)) ;;
	*) other=$((other + 1)); echo "# fault run $i: $out" ;;
	esac
	i=$((i + 1))
done
for f in failslab fail_page_alloc; do echo 0 >/sys/kernel/debug/$f/probability; done
echo "# fault injection: 300 runs, $ok succeeded, $clean_fail failed with a sentence, $other otherwise"
check "fault injection: every failed allocation unwinds to a clean error" '[ $other = 0 ] && [ $clean_fail -gt 0 ]'
check "fault injection: nothing is left behind" stats_zero

# 3. Unload and reload in a loop while other processes race to open.
touch /tmp/race
for n in 1 2; do
	( while [ -e /tmp/race ]; do /bin/kqemu-run --quiet /guests/hello.bin >/dev/null 2>&1; done ) &
done
loaded=0 i=0
while [ $i -lt 100 ]; do
	rmmod kqemu 2>/dev/null
	insmod /lib/kqemu.ko allow_groups=990 2>/dev/null && loaded=$((loaded + 1))
	i=$((i + 1))
done
rm /tmp/race
wait
echo "# unload/reload: 100 rounds, $loaded loads succeeded"
check "unload/reload racing opens: the module is still usable" \
	'[ -d /sys/module/kqemu ] || insmod /lib/kqemu.ko; /bin/kqemu-run --quiet /guests/hello.bin'

# 4. kmemleak: two scans (it wants an object to look lost twice).
if [ -e /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	leaks=$(grep -c "unreferenced object" /sys/kernel/debug/kmemleak)
	ours=$(grep -A30 "unreferenced object" /sys/kernel/debug/kmemleak | grep -c "kqemu")
	grep -A30 "unreferenced object" /sys/kernel/debug/kmemleak | grep -B30 kqemu | sed 's/^/# /'
	echo "# kmemleak: $leaks unreferenced objects, $ours of them from kqemu"
	check "kmemleak finds nothing of kqemu's" '[ "$ours" = 0 ]'
else
	echo "not ok - kmemleak is not in this kernel"
fi
