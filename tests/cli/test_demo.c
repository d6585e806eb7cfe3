/* test_demo.c - `radfed demo`, small (30 patients per set, 2 iterations):
 * it refuses a folder it did not make, replaces one it made, runs the
 * whole federation to the end and leaves what it says it leaves, with no
 * server left running. */
#include "rf_test.h"

#include <sys/wait.h>

static int run(const char *dir, const char *out)
{
	return rf_sh("'%s' demo --dir '%s' --patients 30 --rounds 2 "
		     "> '%s' 2>&1",
		     RF_TEST_RADFED, dir, out);
}

static void test_demo(void **state)
{
	const char *tmp = rf_test_tmpdir("demo");
	char dir[600], out[600];

	(void)state;
	snprintf(dir, sizeof dir, "%s/d", tmp);
	snprintf(out, sizeof out, "%s/out.txt", tmp);
	/* a non-empty folder that no demo made: refused, untouched */
	assert_int_equal(rf_sh("mkdir -p '%s' && touch '%s/mine'", dir, dir),
			 0);
	assert_int_equal(run(dir, out), 1);
	assert_int_equal(rf_sh("grep -q 'not a previous demo folder' '%s'",
			       out),
			 0);
	assert_int_equal(rf_sh("test -f '%s/mine'", dir), 0);
	/* a previous demo folder: emptied, then the demo runs */
	assert_int_equal(rf_sh("touch '%s/.radfed-demo'", dir), 0);
	assert_int_equal(run(dir, out), 0);
	assert_int_equal(rf_sh("test ! -e '%s/mine'", dir), 0);
	/* the table: the initial model and two iterations, each with three
	 * sites */
	assert_int_equal(rf_sh("grep -Eq '^ +0 +0 +0 ' '%s' && "
			       "grep -Eq '^ +1 +3 +[0-9]+ ' '%s' && "
			       "grep -Eq '^ +2 +3 +[0-9]+ ' '%s'",
			       out, out, out),
			 0);
	assert_int_equal(rf_sh("grep -q 'demo complete' '%s'", out), 0);
	/* what it leaves: logs, models, linked and verified audit logs */
	assert_int_equal(rf_sh("cd '%s' && test -f models/iteration-2.h5 && "
			       "test -f logs/agg.log && "
			       "test -f audit/crosscheck.txt && "
			       "for n in agg hopital-nord hopital-sud "
			       "hopital-est; do test -s audit/$n.jsonl && "
			       "test -f audit/$n.pub || exit 1; done",
			       dir),
			 0);
	/* the crosscheck it ran agrees when run again here */
	assert_int_equal(rf_sh("cd '%s/audit' && '%s' audit crosscheck "
			       "agg.jsonl hopital-nord.jsonl hopital-sud.jsonl "
			       "hopital-est.jsonl --key agg.pub "
			       "--key hopital-nord.pub --key hopital-sud.pub "
			       "--key hopital-est.pub > /dev/null",
			       dir, RF_TEST_RADFED),
			 0);
	/* no server of this demo is left running (the brackets keep the
	 * pattern from matching this shell's own command line) */
	assert_int_equal(rf_sh("pgrep -f -- '--di[r] %s/' > /dev/null", dir),
			 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
