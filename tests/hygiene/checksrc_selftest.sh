#!/bin/sh
# Proves scripts/checksrc can fail: plants one violation of each rule in a
# scratch tree and expects each to be reported, and a clean tree to pass.
#   checksrc_selftest.sh PYTHON CHECKSRC SCRATCH_DIR
set -eu
py=$1 check=$2 dir=$3
rm -rf "$dir"
mkdir -p "$dir/common" "$dir/node" "$dir/aggregator"
cat > "$dir/common/rf_ok.h" <<'C'
/* mentions sprintf(buf) and strcpy( only in a comment */
static const char *s = "atoi(x) in a string";
C
cat > "$dir/aggregator/agg.h" <<'C'
int agg_x(void);
C
"$py" "$check" "$dir" >/dev/null || { echo "clean tree refused"; exit 1; }

cat > "$dir/node/node_bad.c" <<'C'
#include "agg.h"
void f(char *d, const char *s) { strcpy(d, s); sprintf(d, "%d", atoi(s)); }
static int a = (int)sizeof(gets); char *t(char *x) { return strtok(x, ","); }
int vs(char *b) { return vsprintf(b, "x", 0) + strcat(b, "y") != 0; }
/* a line that is much too long for the eighty-column rule of radfed, surely, yes */
C
out=$("$py" "$check" "$dir" 2>&1) && { echo "violations passed"; exit 1; }
for want in "must not include agg.h" "banned call strcpy()" \
    "banned call sprintf()" "banned call atoi()" "banned call strtok()" \
    "banned call vsprintf()" "banned call strcat()" \
    "line longer than 80 columns"; do
	case "$out" in
	*"$want"*) ;;
	*) echo "not reported: $want"; echo "$out"; exit 1 ;;
	esac
done
echo "checksrc selftest: every rule reported"
