#!/bin/bash
# disk-test.service of the disk QEMU boots on kqemu (mkdisk.sh): on the
# first boot, fetch a word from 10.0.2.2:8000 (QEMU's user-mode network
# maps it to the test VM's own loopback, where suite-qemu serves it) and
# keep it on the disk; on the next boot, say what the disk holds.  Then
# power off.  Every line is for suite-qemu, on the serial port.
set -u
kept=/var/lib/disk-test/word
say() { echo "kqemu-disk: $*"; }

say "Debian $(cat /etc/debian_version) up under systemd $(systemctl --version | head -n 1 | cut -d' ' -f2), root on $(findmnt -no SOURCE /)"
if [ -s "$kept" ]; then
	say "the disk holds '$(cat "$kept")' from the boot before"
else
	say "network: $(ip -4 -o addr show scope global | awk '{ print $2, $4 }' | head -n 1)"
	word=
	if exec 3<>/dev/tcp/10.0.2.2/8000; then
		read -r -t 30 word <&3 || true
		exec 3<&-
	fi
	if [ -n "$word" ]; then
		say "fetched '$word' from 10.0.2.2:8000 over slirp"
		mkdir -p "${kept%/*}"
		echo "$word" >"$kept.tmp" && sync "$kept.tmp" && mv "$kept.tmp" "$kept" && sync &&
			say "wrote '$word' to $kept"
	else
		say "fetched nothing from 10.0.2.2:8000"
	fi
fi
say "powering off"
systemctl --no-block poweroff
