#!/bin/sh
# run_test.sh NAME EXE [ARG...] - runs one test executable with a
# temporary folder of its own, $RF_TEST_TMPDIR/NAME (rf_test_tmpdir makes
# its directories there), removed when the test passes and kept for
# inspection when it fails. ctest runs every test through it.
set -u
name=$1
shift
base=${RF_TEST_TMPDIR:-/tmp}
RF_TEST_TMPDIR=$base/$name
export RF_TEST_TMPDIR
rm -rf "$RF_TEST_TMPDIR"
mkdir -p "$RF_TEST_TMPDIR" || exit 1
"$@"
rc=$?
if [ "$rc" -eq 0 ]; then
	rm -rf "$RF_TEST_TMPDIR"
else
	echo "run_test.sh: $name failed (exit $rc); its files are in" \
		"$RF_TEST_TMPDIR" >&2
fi
exit "$rc"
