#!/bin/sh
# fixture_check.sh SCRATCH FIXTURE COMMAND [ARG...]
# Runs COMMAND (the script that produced FIXTURE) into SCRATCH and fails
# unless its output equals the committed FIXTURE, comment lines (#) aside:
# a fixture is only as good as the independent script that made it.
set -eu
scratch=$1 fixture=$2
shift 2
"$@" > "$scratch"
grep -v '^#' "$scratch" > "$scratch.cmp" || true
grep -v '^#' "$fixture" | diff -u - "$scratch.cmp"
echo "fixture $(basename "$fixture") reproduced by its script"
