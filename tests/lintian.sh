#!/bin/bash
# The Debian packages as they would be uploaded: build source and binaries
# with dpkg-buildpackage (in a copy of the tree), then lintian -EvIL
# +pedantic on the .changes.  Any error or warning fails; every override
# is in debian/*.lintian-overrides with its reason.  Prints ok/not ok.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v lintian >/dev/null; then
	echo "not ok - lintian is not installed (apt-get install lintian; it is in tests/deps.txt)"
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/kqemu"
"$top/tests/system/tree.sh" | tar -x -C "$work/kqemu"
if ! (cd "$work/kqemu" && dpkg-buildpackage -us -uc) >"$work/build.log" 2>&1; then
	tail -n 40 "$work/build.log" | sed 's/^/#   /'
	echo "not ok - dpkg-buildpackage builds the source and binary packages"
	exit 1
fi
echo "ok - dpkg-buildpackage builds the source and binary packages (and its dh_auto_test passed)"
changes=$(ls "$work"/kqemu_*.changes)
lintian -EvIL +pedantic --profile debian --tag-display-limit 0 "$changes" >"$work/lintian.log" 2>&1
grep -E '^[EWIPX]: ' "$work/lintian.log" | sed 's/^/#   /'
if grep -qE '^[EW]: ' "$work/lintian.log"; then
	echo "not ok - lintian -EvIL +pedantic: no error and no warning on $(basename "$changes")"
	exit 1
fi
echo "ok - lintian -EvIL +pedantic: no error and no warning on $(basename "$changes")"
