# The engine suite on Bochs's trinity_apu, an AMD CPU with NRIP-save that
# QEMU does not emulate: every exit that skips an instruction (CPUID, MSR,
# INVD/WBINVD, HLT) takes the next RIP from the CPU here, where under QEMU
# kqemu computes it.
check "kqemu finds NRIP-save on this CPU" \
	'insmod /lib/kqemu.ko && dmesg | grep -q "kqemu: AMD SVM with nested paging.*NRIP save yes" && rmmod kqemu'
bochs_svm=trinity_apu
. /lib/suite-engine.sh
