# The device suite: ACL, revocation, quotas, validation, unload, fuzzer.
if insmod /lib/kqemu.ko allow_groups=990; then
	/bin/vmtest /lib/kqemu.ko /lib/kqemu_squat.ko "${fuzz_calls:-100000}"
else
	echo "not ok - insmod kqemu.ko allow_groups=990"
fi
