/* test_train.c - `radfed train` and `radfed eval` end to end with the real
 * binary on a `radfed synth` corpus ingested by `radfed site ingest`:
 * about 2,000 training and 500 validation images (20 % of the patients
 * held out), cnn-small reaches a validation ROC AUC of at least 0.95
 * within 5 epochs; the same seed gives the same weights; eval's counts
 * agree with the dataset's labels; bad input fails cleanly. */
#include "rf_test.h"

#define PY "/usr/bin/python3"

static char tmp[512];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof tmp, "%s", rf_test_tmpdir("train_cli"));
	/* 660 patients: about 850 studies of 3 images, 2,500 images; synth
	 * creates the missing parent folder in/ itself */
	if (rf_sh("'%s' synth --out '%s/in/synth' --patients 660 --seed 11 "
		  "--size 64 > /dev/null", RF_TEST_RADFED, tmp) ||
	    rf_sh("'%s' site init --dir '%s/site' --name train-test "
		  "> /dev/null", RF_TEST_RADFED, tmp))
		return -1;
	/* exit 3: the burned-in images planted by synth are quarantined */
	if (rf_sh("'%s' site ingest --site '%s/site' --labels "
		  "'%s/in/synth/labels.csv' '%s/in/synth/dicom' > /dev/null",
		  RF_TEST_RADFED, tmp, tmp, tmp) != 3)
		return -1;
	return 0;
}

static void test_cnn_small_learns(void **state)
{
	(void)state;
	assert_int_equal(rf_sh("'%s' train --data '%s/site/store/dataset.h5' "
			       "--model cnn-small --epochs 5 --seed 1 --json "
			       "--out '%s/m1.h5' > '%s/train1.jsonl'",
			       RF_TEST_RADFED, tmp, tmp, tmp),
			 0);
	/* every epoch's object has the documented keys; the split holds
	 * about 2,000 and 500 images; the last epoch's AUC is >= 0.95 */
	assert_int_equal(rf_sh(PY " '%s/tests/cli/ref/train_check.py' "
				  "'%s/train1.jsonl' 5 0.95",
			       RF_TEST_SRCDIR, tmp),
			 0);
}

static void test_same_seed_same_weights(void **state)
{
	(void)state;
	/* two short runs with one seed: identical parameters, bit for bit;
	 * another seed: different ones */
	for (int i = 0; i < 2; i++)
		assert_int_equal(rf_sh("'%s' train --data "
				       "'%s/site/store/dataset.h5' --model "
				       "cnn-small --epochs 1 --seed 9 --out "
				       "'%s/d%d.h5' > /dev/null",
				       RF_TEST_RADFED, tmp, tmp, i),
				 0);
	assert_int_equal(rf_sh("'%s' train --data '%s/site/store/dataset.h5' "
			       "--model cnn-small --epochs 1 --seed 10 "
			       "--out '%s/d2.h5' > /dev/null",
			       RF_TEST_RADFED, tmp, tmp),
			 0);
	assert_int_equal(rf_sh(PY " '%s/tests/cli/ref/params_equal.py' "
				  "'%s/d0.h5' '%s/d1.h5'",
			       RF_TEST_SRCDIR, tmp, tmp),
			 0);
	assert_int_equal(rf_sh(PY " '%s/tests/cli/ref/params_equal.py' "
				  "'%s/d0.h5' '%s/d2.h5'",
			       RF_TEST_SRCDIR, tmp, tmp),
			 1);
	/* and the same file bytes: no timestamps in the HDF5 objects, so a
	 * model rewritten from the same weights (an aggregator redoing an
	 * iteration after a crash) keeps its file hash */
	assert_int_equal(rf_sh("cmp -s '%s/d0.h5' '%s/d1.h5'", tmp, tmp), 0);
}

static void test_eval(void **state)
{
	(void)state;
	assert_int_equal(rf_sh("'%s' eval --data '%s/site/store/dataset.h5' "
			       "--model '%s/d0.h5' --json > '%s/eval.json'",
			       RF_TEST_RADFED, tmp, tmp, tmp),
			 0);
	/* the object is complete and its confusion matrix adds up to the
	 * images evaluated, with accuracy = trace / images */
	assert_int_equal(rf_sh(PY " '%s/tests/cli/ref/eval_check.py' "
				  "'%s/eval.json' '%s/site/store/dataset.h5'",
			       RF_TEST_SRCDIR, tmp, tmp),
			 0);
}

static void test_bad_input(void **state)
{
	(void)state;
	/* missing file: exit 1, the message names it */
	assert_int_equal(rf_sh("'%s' train --data '%s/none.h5' --model "
			       "cnn-small --out '%s/x.h5' 2> '%s/err1'",
			       RF_TEST_RADFED, tmp, tmp, tmp),
			 1);
	assert_int_equal(rf_sh("grep -q 'none.h5' '%s/err1'", tmp), 0);
	/* unknown model: exit 1, known ones listed in the help */
	assert_int_equal(rf_sh("'%s' train --data '%s/site/store/dataset.h5' "
			       "--model vgg --out '%s/x.h5' 2> '%s/err2'",
			       RF_TEST_RADFED, tmp, tmp, tmp),
			 1);
	assert_int_equal(rf_sh("grep -q \"unknown model 'vgg'\" '%s/err2'",
			       tmp), 0);
	/* usage errors: exit 2 */
	assert_int_equal(rf_sh("'%s' train --data x --model cnn-small --out y "
			       "--epochs 0 2> /dev/null", RF_TEST_RADFED),
			 2);
	assert_int_equal(rf_sh("'%s' train --data x --model cnn-small --out y "
			       "--optimizer lbfgs 2> /dev/null",
			       RF_TEST_RADFED),
			 2);
	/* a model file that is not one: refused, nothing written */
	assert_int_equal(rf_sh("head -c 3000 '%s/d0.h5' > '%s/trunc.h5' && "
			       "'%s' eval --data '%s/site/store/dataset.h5' "
			       "--model '%s/trunc.h5' 2> '%s/err3'",
			       tmp, tmp, RF_TEST_RADFED, tmp, tmp, tmp),
			 1);
	assert_int_equal(rf_sh("grep -q 'trunc.h5' '%s/err3'", tmp), 0);
	/* a failed run leaves no output file */
	assert_int_equal(rf_sh("test ! -e '%s/x.h5'", tmp), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cnn_small_learns),
		cmocka_unit_test(test_same_seed_same_weights),
		cmocka_unit_test(test_eval),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
