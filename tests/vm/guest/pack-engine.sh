# The demo VMM and the guest programs, for the engine suite.
mkdir -p "$root/guests"
cp "$bindir/../tools/kqemu-run" "$bindir/../tools/kqemu-run32" "$root/bin/"
cp "$bindir"/../guests/*.bin "$root/guests/"
