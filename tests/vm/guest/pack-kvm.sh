# The kernel's own KVM (kvm, kvm_amd or kvm_intel and what they need), so the engine
# suite and the benchmark can run the same guest on both in one boot; and zram.
# Needs $KQEMU_KDIR: the folder kernel.sh made for this kernel.
if [ -n "${KQEMU_KDIR:-}" ]; then
	abi=$(cat "$KQEMU_KDIR/release")
	for mods in "$KQEMU_KDIR"/root/lib/modules/"$abi" "$KQEMU_KDIR"/root/usr/lib/modules/"$abi"; do
		[ -d "$mods" ] && break
	done
	mkdir -p "$root/lib/kvm"
	: >"$root/lib/kvm/order"
	# pack_module NAME: NAME and what it needs, in load order, into $order.
	pack_module() {
		local name=$1 file dep
		grep -qx "$name" "$root/lib/kvm/names-$order" 2>/dev/null && return 0
		file=$(find "$mods/kernel" -name "$name.ko*" | head -n 1)
		[ -n "$file" ] || return 0	# built in
		for dep in $(modinfo -F depends "$file" | tr ',' ' '); do
			pack_module "$dep"
		done
		echo "$name" >>"$root/lib/kvm/names-$order"
		cp "$file" "$root/lib/kvm/"
		echo "${file##*/}" >>"$root/lib/kvm/$order"
	}
	ln -sf /usr/bin/kmod "$root/lib/kvm/insmod"	# kmod is packed by pack-kmod.sh
	# /lib/kvm/order for AMD (SVM), /lib/kvm/order-intel for Intel (VMX).
	order=order
	pack_module kvm_amd
	pack_module kvm-amd
	order=order-intel
	: >"$root/lib/kvm/$order"
	pack_module kvm_intel
	pack_module kvm-intel
	# zram and what it needs: swap inside the test VM, for guestmem's
	# guest that is larger than its memory cgroup (/lib/kvm/order-zram).
	order=order-zram
	: >"$root/lib/kvm/$order"
	pack_module zram
fi
