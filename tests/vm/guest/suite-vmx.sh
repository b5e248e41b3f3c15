# The engine suite on the VMX backend, under Bochs's corei7_sandy_bridge_2600k
# (VT-x with EPT, VPID and unrestricted guest; QEMU does not emulate VT-x):
# every guest program, the ACL and quota errors, and kvm_intel and kqemu one
# after the other in one boot.
KQEMU_BACKEND=vmx
if grep -qw vmx /proc/cpuinfo; then
	. /lib/suite-engine.sh
else
	echo "# skipped: this CPU has no VT-x (make check-vmx runs this suite under Bochs)"
fi
