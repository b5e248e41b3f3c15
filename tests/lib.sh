# Sourced by the test runners: one verdict line each, counted for the
# closing "N passed, N failed" (tests/check.sh counts the lines again).
passed=0 failed=0

# say ok|fail TEXT: print the verdict and count it.
say() {
	local verdict=$1
	shift
	if [ "$verdict" = ok ]; then
		passed=$((passed + 1))
		echo "ok - $*"
	else
		failed=$((failed + 1))
		echo "not ok - $*"
	fi
}
