# The engine suite on the VMX backend, under Bochs's corei7_sandy_bridge_2600k
# (VT-x with EPT, VPID and unrestricted guest; QEMU does not emulate VT-x):
# every guest program, the ACL and quota errors, and kvm_intel and kqemu one
# after the other in one boot; then the structured fuzzer of make
# check-debug on VMX (runs racing slot changes, munmap, fd closes and fd
# passing, random SET_SREGS states), which must leave a clean kernel log.
KQEMU_BACKEND=vmx
if grep -qw vmx /proc/cpuinfo; then
	. /lib/suite-engine.sh

	load_kqemu allow_groups=990
	run_watched /tmp/sfuzz.out /bin/runas member /bin/sfuzz "${vmx_sfuzz_calls:-100000}" 1
	out=$(cat /tmp/sfuzz.out)
	printf '%s\n' "$out" | grep '^# sfuzz:' | grep -v ': progress: '
	check "the structured fuzzer on VMX (${vmx_sfuzz_calls:-100000} calls) ends cleanly" '[ $rc = 0 ]'
	check "the fuzzer on VMX: no RUN came back KQEMU_EXIT_UNKNOWN" \
		'printf "%s\n" "$out" | grep -q "^# sfuzz: exits: exit0=0 "'
	check "kqemu unloads after the fuzzer" 'rmmod kqemu'
else
	echo "# skipped: this CPU has no VT-x (make check-vmx runs this suite under Bochs)"
fi
