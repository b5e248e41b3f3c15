# kqemuctl and what it drives in the helper suite: a real systemd-udevd
# with systemd's default rules, and the shadow tools (groupadd, groupdel,
# usermod) that kqemuctl falls back to where systemd-sysusers is absent,
# as it is here.  Sourced by mkinitramfs.sh with $root and $bindir set.
helper=$bindir/../helper/kqemuctl
mkdir -p "$root/usr/bin"
cp "$helper" "$root/usr/bin/kqemuctl"
for lib in $(ldd "$helper" | grep -o '/[^ ]*'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
add_binary /bin/udevadm
mkdir -p "$root/lib/systemd" "$root/lib/udev/rules.d" "$root/etc/udev/rules.d"
ln -sf /bin/udevadm "$root/lib/systemd/systemd-udevd"
cp /lib/udev/rules.d/50-udev-default.rules "$root/lib/udev/rules.d/"
for tool in groupadd groupdel usermod; do
	add_binary /usr/sbin/$tool
done
[ -f /etc/login.defs ] && cp /etc/login.defs "$root/etc/"
