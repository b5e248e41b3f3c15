# What only the debug kernel (make check-debug) can show: the structured
# fuzzer under KASAN/lockdep while the policy flips, fault injection on
# every allocation, unload/reload racing opens, and a kmemleak scan.
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
load_kqemu allow_groups=990
# kmemleak scans when we ask (part 4), not in the background meanwhile.
echo scan=off >/sys/kernel/debug/kmemleak 2>/dev/null
stats_zero() {
	[ "$(cat /sys/class/misc/kqemu/stats/vms)" = 0 ] &&
		[ "$(cat /sys/class/misc/kqemu/stats/vcpus)" = 0 ] &&
		[ "$(cat /sys/class/misc/kqemu/stats/mapped_bytes)" = 0 ] &&
		[ "$(cat /sys/class/misc/kqemu/stats/page_tables)" = 0 ]
}
# val KEY TEXT: the number after "KEY=" in sfuzz's "# ...: k=v ..." lines.
val() {
	printf '%s\n' "$2" | grep '^# ' | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# 1. The structured fuzzer, while root rewrites the policy (the member
# stays allowed, but every fd must re-check) and toggles strict.
calls=${sfuzz_calls:-1000000}
touch /tmp/flip
(
	p=/sys/module/kqemu/parameters
	while [ -e /tmp/flip ]; do
		echo 990,1002 >$p/allow_groups
		echo 1 >$p/strict
		echo 990 >$p/allow_groups
		echo 0 >$p/strict
		sleep 0.2
	done
) &
flipper=$!
# sfuzz's times (run_max_at, stall_cpuN_at) count from here in the kernel log.
echo "kqemu-vm: sfuzz starts" >/dev/kmsg
# The RTC's periodic interrupt ends QEMU's hold-backs (sfuzz.c, rtc_beat).
chmod 0666 /dev/rtc0
start=$(date +%s)
out=$(/bin/runas member /bin/sfuzz "$calls" 1 2>&1)
rc=$?
chmod 0600 /dev/rtc0
rm /tmp/flip
wait $flipper
printf '%s\n' "$out"
echo "# sfuzz took $(($(date +%s) - start)) s (status $rc)"
got=$(val calls "$out")
check "sfuzz made $got ioctl calls (wanted $calls) and exited cleanly" \
	'[ $rc = 0 ] && [ "${got:-0}" -ge "$calls" ] && [ "$(val workers_failed "$out")" = 0 ]'
check "sfuzz: $(val run_ok "$out") RUNs came back with an exit (at least 1 in 20 calls)" \
	'[ "$(val run_ok "$out")" -ge $((calls / 20)) ]'
check "sfuzz: every exit kind but FAIL_ENTRY and UNKNOWN came back" '(
	for e in 1 2 3 4 5 6 7 9 10; do [ "$(val exit$e "$out")" -gt 0 ] || exit 1; done)'
# Every exit the hardware gives is one kqemu knows.  A RUN through an fd
# that another thread closed meanwhile may have run another vCPU, whose
# exit the owner's run area does not hold: those are counted, not judged.
check "sfuzz: no RUN came back KQEMU_EXIT_UNKNOWN (codes: $(val unknown_codes "$out"); $(val runs_on_stolen "$out") RUNs on an fd closed by another thread not judged)" \
	'[ "$(val exit0 "$out")" = 0 ]'
check "sfuzz: $(val slot_add_ok "$out") slots added, $(val slot_del_ok "$out") deleted (at least 1 in 200 calls each)" \
	'[ "$(val slot_add_ok "$out")" -ge $((calls / 200)) ] && [ "$(val slot_del_ok "$out")" -ge $((calls / 200)) ]'
check "sfuzz: $(val vms "$out") VMs and $(val vcpus "$out") vCPUs created, $(val stolen_closes "$out") vCPU fds closed under their runner, $(val arena_swaps "$out") guest memory unmaps under live slots" \
	'[ "$(val vms "$out")" -ge 10 ] && [ "$(val vcpus "$out")" -ge $((calls / 2000)) ] &&
	 [ "$(val stolen_closes "$out")" -gt 0 ] && [ "$(val arena_swaps "$out")" -gt 0 ]'
check "sfuzz: guest memory changed under running guests: $(val arena_madvise "$out") madvise (DONTNEED, FREE), $(val arena_mprotect "$out") mprotect and back, $(val arena_forks "$out") forks" \
	'[ "$(val arena_madvise "$out")" -gt 0 ] && [ "$(val arena_mprotect "$out")" -gt 0 ] &&
	 [ "$(val arena_forks "$out")" -gt 0 ]'
check "sfuzz: no invalid slot or VM was accepted" '[ "$(val slot_bad_ok "$out")" = 0 ]'
check "sfuzz: the RTC's interrupt woke it $(val rtc_beats "$out") times" '[ "$(val rtc_beats "$out")" -gt 0 ]'
# A spinning guest's RUN ends at its thread's 5 ms kick, through the host
# interrupt that the kick's IPI or the tick brings; seconds mean one was lost.
check "sfuzz: the longest RUN took $(val run_max_ms "$out") ms (under 5 s; longest stall per CPU: $(val stall_cpu0_ms "$out") and $(val stall_cpu1_ms "$out") ms)" \
	'[ "$(val run_max_ms "$out")" -lt 5000 ]'
check "sfuzz: $(val eio_got "$out") VM and vCPU fds passed to another process all answered EIO there" \
	'[ "$(val eio_got "$out")" -gt 0 ] && [ "$(val eio_wrong "$out")" = 0 ]'
check "after the structured fuzzer nothing is left (vms, vcpus, mapped guest memory, page-table pages)" stats_zero

# 2. Fault injection: fail the 1st, 2nd, ... fault point (slab, page
# allocator, user copies) of each call of a guest's life (fail-nth); each
# must unwind to ENOMEM/EFAULT and leave the VM usable and nothing behind.
# Nothing fails otherwise (probability 0), and nothing is printed.
for f in failslab fail_page_alloc fail_usercopy; do
	d=/sys/kernel/debug/$f
	echo 0 >$d/probability
	echo 0 >$d/verbose
	echo N >$d/task-filter
	[ -e $d/ignore-gfp-wait ] && echo N >$d/ignore-gfp-wait
done
echo Y >/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem
start=$(date +%s)
out=$(/bin/runas member /bin/sfuzz --faults 2>&1)
rc=$?
printf '%s\n' "$out"
echo "# fault injection took $(($(date +%s) - start)) s (status $rc)"
check "fault injection: $(val points "$out") fault points failed ($(val enomem "$out") ENOMEM, $(val efault "$out") EFAULT, $(val tolerated "$out") absorbed), none otherwise" \
	'[ $rc = 0 ] && [ "$(val points "$out")" -ge 20 ] && [ "$(val other "$out")" = 0 ] && [ "$(val setup_bad "$out")" = 0 ]'
check "fault injection: after each, the same call works and the guest runs to its HLT" \
	'[ "$(val retry_bad "$out")" = 0 ] && [ "$(val guest_bad "$out")" = 0 ]'
check "fault injection: closing everything leaves nothing, every time" \
	'[ "$(val left "$out")" = 0 ] && stats_zero'

# 3. Unload and reload in a loop while other processes race to open and to
# read the parameter files.
touch /tmp/race
: >/tmp/races
for n in 1 2; do
	( while [ -e /tmp/race ]; do
		/bin/kqemu-run --quiet /guests/hello.bin >/dev/null 2>&1 && echo . >>/tmp/races
	done ) &
done
# And a reader of the ACL's parameter files and stats/recent, which stay
# readable while the module's exit frees what they show.
( while [ -e /tmp/race ]; do
	cat /sys/module/kqemu/parameters/allow_groups /sys/module/kqemu/parameters/allow_users \
		/sys/class/misc/kqemu/stats/recent >/dev/null 2>&1
done ) &
# rmmod fails while a guest holds the module, more often the slower the
# host: the loop goes on until 15 reloads (or 400 rounds), not a fixed 100.
start=$(date +%s)
loaded=0 i=0
while [ $i -lt 400 ] && [ $loaded -lt 15 ]; do
	rmmod kqemu 2>/dev/null
	insmod /lib/kqemu.ko allow_groups=990 2>/dev/null && loaded=$((loaded + 1))
	i=$((i + 1))
done
rm /tmp/race
wait
races=$(wc -l </tmp/races)
echo "# unload/reload: $i rounds, $loaded reloads, $races guest runs finished meanwhile, $(($(date +%s) - start)) s"
check "unload/reload: $loaded of $i rounds unloaded and reloaded while $races guests ran" \
	'[ $loaded -ge 10 ] && [ $races -ge 1 ]'
check "unload/reload racing opens: the module is still usable" \
	'[ -d /sys/module/kqemu ] || insmod /lib/kqemu.ko; /bin/kqemu-run --quiet /guests/hello.bin'

# 4. kmemleak: two scans (it wants an object to look lost twice).
if [ -e /sys/kernel/debug/kmemleak ]; then
	start=$(date +%s)
	echo scan >/sys/kernel/debug/kmemleak
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	leaks=$(grep -c "unreferenced object" /sys/kernel/debug/kmemleak)
	ours=$(grep -A30 "unreferenced object" /sys/kernel/debug/kmemleak | grep -c "kqemu")
	grep -A30 "unreferenced object" /sys/kernel/debug/kmemleak | grep -B30 kqemu | sed 's/^/# /'
	echo "# kmemleak: $leaks leak reports, $ours lines of them name kqemu; $(($(date +%s) - start)) s"
	check "kmemleak finds nothing of kqemu's after all of the above" '[ "$ours" = 0 ]'
else
	echo "not ok - kmemleak is not in this kernel"
fi
