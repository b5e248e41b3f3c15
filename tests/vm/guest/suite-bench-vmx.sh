# make bench-vmx: make bench's measurements on the VMX backend against
# kvm_intel, under Bochs's Sandy Bridge (QEMU has no VT-x).  Only the ratios
# mean anything there.
KQEMU_BACKEND=vmx
. /lib/suite-bench.sh
