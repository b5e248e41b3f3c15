# kqemu's manifest (/var/lib/kqemu/install.manifest), from sh: the same
# records kqemuctl keeps (helper/manifest.c), so that a file has one owner
# record whichever way kqemu came.  Sourced by configure.sh, and copied
# into the package's postrm at build time (debian/rules), which runs when
# configure.sh is gone already.  Paths are under $KQEMU_ROOT ("" is /).
kqemu_manifest=/var/lib/kqemu/install.manifest

kqemu_sha256() { sha256sum <"$KQEMU_ROOT$1" | cut -d' ' -f1; }

# kqemu_record PATH: PATH (written just now by configure.sh) is kqemu's,
# first written by configure.sh; and so are the directories made for it,
# listed in DIRS (parents first).
kqemu_record() {
	path=$1
	shift
	m=$KQEMU_ROOT$kqemu_manifest
	for d in /var /var/lib /var/lib/kqemu; do
		if [ ! -d "$KQEMU_ROOT$d" ]; then
			mkdir "$KQEMU_ROOT$d"
			set -- "$@" "$d"
		fi
	done
	{
		if [ -f "$m" ]; then
			grep -v "^file $path " "$m" || true
		else
			echo "# What kqemu did here (kqemuctl, and the package or make install);"
			echo "# kqemuctl uninstall and apt-get purge (or make uninstall) undo it."
		fi
		for d in "$@"; do echo "dir $d"; done
		echo "file $path $(kqemu_sha256 "$path") - configure"
	} >"$m.tmp"
	mv "$m.tmp" "$m"
}

# kqemu_listed PATH: the manifest has PATH.
kqemu_listed() {
	[ -f "$KQEMU_ROOT$kqemu_manifest" ] && grep -q "^file $1 " "$KQEMU_ROOT$kqemu_manifest"
}

# kqemu_purge: remove every file the manifest lists that is still as kqemu
# wrote it (kqemuctl's too: nothing could undo them once kqemuctl is
# gone), put back the admin's files kqemuctl --force moved aside, keep and
# name a file edited since, then remove the manifest and the directories
# kqemu made that are empty now.  The group stays: it may own files.
kqemu_purge() {
	m=$KQEMU_ROOT$kqemu_manifest
	[ -f "$m" ] || return 0
	dirs=
	while read -r kind path hash backup _; do
		case $kind in
		file)
			if [ -e "$KQEMU_ROOT$path" ] && [ ${#hash} -ne 64 ]; then
				echo "kqemu: keeping $path: kqemuctl 1.0 recorded it in a form this cannot check (delete it yourself if it is not wanted)" >&2
			elif [ -e "$KQEMU_ROOT$path" ]; then
				if [ "$(kqemu_sha256 "$path")" = "$hash" ]; then
					rm -f "$KQEMU_ROOT$path"
				else
					echo "kqemu: keeping $path: it was edited since kqemu wrote it (delete it yourself if it is not wanted)" >&2
				fi
			fi
			if [ "$backup" != - ] && [ -e "$KQEMU_ROOT$backup" ]; then
				if [ -e "$KQEMU_ROOT$path" ]; then
					echo "kqemu: keeping $backup: $path is there (yours); merge them by hand" >&2
				else
					mv "$KQEMU_ROOT$backup" "$KQEMU_ROOT$path"
				fi
			fi
			;;
		dir)
			dirs="$path $dirs"
			;;
		esac
	done <"$m"
	rm -f "$m"
	for d in $dirs; do
		rmdir "$KQEMU_ROOT$d" 2>/dev/null || true
	done
}
