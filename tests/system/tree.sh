#!/bin/sh
# Write the source tree as a tar stream to stdout: what git tracks plus new
# files it does not ignore, or, outside a git checkout, everything but build
# outputs.
cd "$(dirname "$0")/../.." || exit 1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -co --exclude-standard -z | xargs -0 tar -c
else
	tar -c --exclude=./build --exclude=./tests/unit/build --exclude='*.o' --exclude='*.ko' .
fi
