# The demo VMM and the guest programs, for the engine suite.
mkdir -p "$root/guests"
cp "$bindir/../tools/kqemu-run" "$bindir/../tools/kqemu-run32" "$root/bin/"
cp "$bindir"/../guests/*.bin "$root/guests/"
# Its AddressSanitizer and ThreadSanitizer builds, and the shared libraries
# they need: the sanitizers cannot link libc statically.
for tool in kqemu-run-asan kqemu-run-tsan; do
	cp "$bindir/../tools/$tool" "$root/bin/"
	for lib in $(ldd "$bindir/../tools/$tool" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
done
