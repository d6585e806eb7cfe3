#!/bin/sh
# anon.sh - de-identification throughput of `radfed anon` beside gdcmanon
# (GDCM) and dcmdump (DCMTK), printed side by side from one run.
#
# usage: bench/anon.sh [BUILD_DIR]
#   BUILD_DIR  the CMake build folder holding the radfed binary
#              (default: build, next to this folder's parent)
#
# Needs /usr/bin/python3 with pydicom and numpy, and the Debian packages
# python3-pydicom, libgdcm-tools, dcmtk and openssl. Inputs are made in a
# temporary folder below $TMPDIR (default /tmp) and on /dev/shm, and are
# removed at the end. Method and results: docs/benchmarks.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-"$here/../build"}
radfed=
for cand in "$build/radfed" "$build/cli/radfed"; do
	if [ -x "$cand" ]; then
		radfed=$cand
		break
	fi
done
if [ -z "$radfed" ]; then
	echo "anon.sh: no radfed binary in '$build'" >&2
	exit 2
fi
exec /usr/bin/python3 "$here/anon_bench.py" "$radfed"
