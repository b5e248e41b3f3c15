# The static node and load-on-open, as a host gets them: depmod writes
# modules.devname from kqemu's devname:kqemu and char-major-10-250 aliases,
# systemd-tmpfiles creates the node from `kmod static-nodes` before kqemu is
# loaded, and the first open makes the kernel run modprobe for the minor.
moddir=/lib/modules/$(uname -r)
install_module_tree
check "depmod lists kqemu in modules.devname as c10:250" \
	'grep -qx "kqemu kqemu c10:250" "$moddir/modules.devname"'
nodes=$(/usr/bin/kmod static-nodes --format=tmpfiles 2>&1)
echo "# static-nodes: $nodes"
check "kmod static-nodes asks for /dev/kqemu, 10:250" \
	'echo "$nodes" | grep -q "^c! /dev/kqemu 0600 - - - 10:250$"'
rm -f /dev/kqemu
mknod -m 0600 /dev/kqemu c 10 250
check "kqemu is not loaded before the node is opened" '[ ! -d /sys/module/kqemu ]'
check "opening the static node succeeds" 'exec 3<>/dev/kqemu'
exec 3<&-
check "the first open loaded kqemu" '[ -d /sys/module/kqemu ]'
check "the loaded kqemu owns the node's minor" \
	'[ "$(cat /sys/class/misc/kqemu/dev)" = 10:250 ]'
