# The kernel's own KVM (kvm, kvm_amd or kvm_intel and what they need), so the engine
# suite and the benchmark can run the same guest on both in one boot; and zram.
# Needs $KQEMU_KDIR: the folder kernel.sh made for this kernel ($mods).
if [ -n "$mods" ]; then
	mkdir -p "$root/lib/kvm"
	ln -sf /usr/bin/kmod "$root/lib/kvm/insmod"	# kmod is packed by pack-kmod.sh
	# /lib/kvm/order for AMD (SVM), /lib/kvm/order-intel for Intel (VMX).
	: >"$root/lib/kvm/order"
	pack_module "$mods" kvm_amd /lib/kvm order
	pack_module "$mods" kvm-amd /lib/kvm order
	: >"$root/lib/kvm/order-intel"
	pack_module "$mods" kvm_intel /lib/kvm order-intel
	pack_module "$mods" kvm-intel /lib/kvm order-intel
	# zram and what it needs: swap inside the test VM, for guestmem's
	# guest that is larger than its memory cgroup (/lib/kvm/order-zram).
	: >"$root/lib/kvm/order-zram"
	pack_module "$mods" zram /lib/kvm order-zram
fi
