/* test_anon.c - `radfed anon` on a `radfed synth` corpus, end to end with
 * the real binary: no planted identifier survives (checked by an
 * independent pydicom script), pixel data unchanged, pseudonyms stable
 * across runs and thread counts, distinct patients distinct, originals
 * untouched, one log line per input. */
#include "rf_test.h"

#define PY "/usr/bin/python3"

static char tmp[512];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof tmp, "%s", rf_test_tmpdir("anon_synth"));
	/* a fixed site secret: 32 bytes */
	if (rf_sh("printf 'radfed-test-site-secret-32-bytes' > '%s/key'",
		  tmp) ||
	    rf_sh("printf 'another-site-secret-of-32-bytes!' > '%s/key2'", tmp))
		return -1;
	if (rf_sh("'%s' synth --out '%s/synth' --patients 8 --seed 5 --size 64 "
		  "--json > '%s/synth.json'",
		  RF_TEST_RADFED, tmp, tmp))
		return -1;
	return rf_sh("cd '%s/synth' && find . -type f | sort | xargs sha256sum "
		     "> '%s/before.sha'",
		     tmp, tmp);
}

static void test_no_identifier_survives(void **state)
{
	(void)state;
	/* quarantined burned-in images make the status 3 (partial) */
	assert_int_equal(rf_sh("'%s' anon --key '%s/key' --out '%s/out1' "
			       "--jobs 2 '%s/synth/dicom' '%s/synth/reports' "
			       "> '%s/anon1.txt'",
			       RF_TEST_RADFED, tmp, tmp, tmp, tmp, tmp),
			 3);
	assert_int_equal(rf_sh(PY " '%s/tests/cli/ref/anon_check.py' "
				  "'%s/synth' '%s/out1'",
			       RF_TEST_SRCDIR, tmp, tmp),
			 0);
	/* the originals were not modified */
	assert_int_equal(rf_sh("cd '%s/synth' && sha256sum --quiet -c "
			       "'%s/before.sha'",
			       tmp, tmp),
			 0);
}

static void test_log_one_line_per_input(void **state)
{
	(void)state;
	/* one JSON line per input, whose input is a keyed hash, not a path */
	assert_int_equal(rf_sh(PY " '%s/tests/cli/ref/anon_log_check.py' '%s'",
			       RF_TEST_SRCDIR, tmp),
			 0);
}

static void test_stable_across_runs_and_threads(void **state)
{
	(void)state;
	/* same secret, one thread instead of two: the same files, byte for
	 * byte (log lines may come in another order) */
	assert_int_equal(
	    rf_sh("'%s' anon --key '%s/key' --out '%s/out2' "
		  "'%s/synth/dicom' '%s/synth/reports' > /dev/null",
		  RF_TEST_RADFED, tmp, tmp, tmp, tmp),
	    3);
	assert_int_equal(
	    rf_sh("diff -r -x anon-log.jsonl '%s/out1' '%s/out2'", tmp, tmp),
	    0);
	assert_int_equal(rf_sh("sort '%s/out1/anon-log.jsonl' > '%s/l1' && "
			       "sort '%s/out2/anon-log.jsonl' > '%s/l2' && "
			       "cmp '%s/l1' '%s/l2'",
			       tmp, tmp, tmp, tmp, tmp, tmp),
			 0);
	/* again into the same folder: idempotent, same files */
	assert_int_equal(rf_sh("'%s' anon --key '%s/key' --out '%s/out2' "
			       "--log '%s/log3' '%s/synth' > /dev/null",
			       RF_TEST_RADFED, tmp, tmp, tmp, tmp),
			 3);
	assert_int_equal(
	    rf_sh("diff -r -x anon-log.jsonl '%s/out1' '%s/out2'", tmp, tmp),
	    0);
	/* another site's secret: other pseudonyms everywhere */
	assert_int_equal(rf_sh("'%s' anon --key '%s/key2' --out '%s/out3' "
			       "'%s/synth/dicom' > /dev/null",
			       RF_TEST_RADFED, tmp, tmp, tmp),
			 3);
	assert_int_equal(rf_sh("cd '%s/out1' && for p in P*; do "
			       "test ! -e '%s/out3/'$p || exit 1; done",
			       tmp, tmp),
			 0);
}

static void test_bad_inputs(void **state)
{
	(void)state;
	/* a short key, a missing input, an unknown option name: clear
	 * errors, nothing written */
	assert_int_equal(rf_sh("printf 'short' > '%s/shortkey' && '%s' anon "
			       "--key '%s/shortkey' --out '%s/bad' '%s/synth' "
			       "2> '%s/err1'",
			       tmp, RF_TEST_RADFED, tmp, tmp, tmp, tmp),
			 1);
	assert_int_equal(rf_sh("grep -q 'at least 32' '%s/err1'", tmp), 0);
	assert_int_equal(rf_sh("test ! -e '%s/bad'", tmp), 0);
	assert_int_equal(rf_sh("'%s' anon --key '%s/key' --out '%s/bad' "
			       "'%s/nosuch' 2> '%s/err2'",
			       RF_TEST_RADFED, tmp, tmp, tmp, tmp),
			 1);
	assert_int_equal(rf_sh("grep -q nosuch '%s/err2'", tmp), 0);
	assert_int_equal(rf_sh("'%s' anon --key '%s/key' --out '%s/bad' "
			       "--option retain-names '%s/synth' 2> /dev/null",
			       RF_TEST_RADFED, tmp, tmp, tmp),
			 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_identifier_survives),
		cmocka_unit_test(test_log_one_line_per_input),
		cmocka_unit_test(test_stable_across_runs_and_threads),
		cmocka_unit_test(test_bad_inputs),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
