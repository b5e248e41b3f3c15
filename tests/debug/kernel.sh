#!/bin/bash
# tests/vm/run.sh's kernel.sh for the "debug" release: the debug kernel,
# laid out as kernel.sh lays out Debian's (vmlinuz, release, root/).
set -euo pipefail
out=$("$(dirname "$0")/build-kernel.sh")
[ -e "$out/root" ] || ln -s modroot "$out/root"
echo "$out"
