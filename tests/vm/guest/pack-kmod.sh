# kmod (depmod, modprobe, static-nodes) for the autoload suite: the kernel
# runs /sbin/modprobe when a node without a driver is opened.
add_binary /usr/bin/kmod
mkdir -p "$root/sbin"
for tool in depmod modprobe; do
	ln -sf /usr/bin/kmod "$root/sbin/$tool"
done
