/* test_ingest.c - `radfed site ingest` on a `radfed synth` set, end to end
 * with the real binary: dataset.h5 checked record by record against the
 * synthetic set's truth by an independent h5py + pydicom script
 * (tests/node/ref/ingest_check.py), idempotence, a bad labels file leaving
 * dataset.h5 untouched; and the resampling and scaling against hand-worked
 * values. */
#include "rf_test.h"

#include <math.h>

#include "node_ingest.h"

#define PY "/usr/bin/python3"

static char tmp[512];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof tmp, "%s", rf_test_tmpdir("ingest"));
	if (rf_sh(
		"'%s' synth --out '%s/synth' --patients 6 --seed 11 --size 64 "
		"> /dev/null",
		RF_TEST_RADFED, tmp))
		return -1;
	if (rf_sh("cd '%s/synth' && find . -type f | sort | xargs sha256sum "
		  "> '%s/before.sha'",
		  tmp, tmp))
		return -1;
	return rf_sh(
	    "'%s' site init --dir '%s/site' --name test-site > /dev/null",
	    RF_TEST_RADFED, tmp);
}

static void test_dataset_matches_truth(void **state)
{
	(void)state;
	/* the synthetic set has images to quarantine: partial, status 3 */
	assert_int_equal(rf_sh("'%s' site ingest --site '%s/site' --labels "
			       "'%s/synth/labels.csv' --json '%s/synth/dicom' "
			       "'%s/synth/reports' > '%s/run1.json'",
			       RF_TEST_RADFED, tmp, tmp, tmp, tmp, tmp),
			 3);
	assert_int_equal(rf_sh(PY " '%s/tests/node/ref/ingest_check.py' "
				  "'%s/synth' '%s/site' 64",
			       RF_TEST_SRCDIR, tmp, tmp),
			 0);
	/* the summary agrees: every record labelled, some positive */
	assert_int_equal(
	    rf_sh(PY " -c 'import json,sys; s=json.load(open(sys."
		     "argv[1])); assert s[\"records\"] > 0 and "
		     "s[\"records\"] == s[\"labelled\"] == s[\"images\"]"
		     " and 0 < s[\"positives\"] < s[\"records\"] and "
		     "s[\"quarantined\"] > 0 and s[\"inputs\"] == "
		     "s[\"written\"] + s[\"quarantined\"]' "
		     "'%s/run1.json'",
		  tmp),
	    0);
	/* the originals were not modified */
	assert_int_equal(rf_sh("cd '%s/synth' && sha256sum --quiet -c "
			       "'%s/before.sha'",
			       tmp, tmp),
			 0);
	/* one log line per input, plus none for the dataset (all decoded) */
	assert_int_equal(
	    rf_sh("test $(wc -l < '%s/site/logs/ingest.jsonl') -eq "
		  "$(find '%s/synth/dicom' '%s/synth/reports' "
		  "-type f | wc -l)",
		  tmp, tmp, tmp),
	    0);
}

static void test_twice_same_records(void **state)
{
	(void)state;
	assert_int_equal(
	    rf_sh("cp '%s/site/store/dataset.h5' '%s/first.h5'", tmp, tmp), 0);
	assert_int_equal(rf_sh("'%s' site ingest --site '%s/site' --labels "
			       "'%s/synth/labels.csv' --json '%s/synth' "
			       "> '%s/run2.json'",
			       RF_TEST_RADFED, tmp, tmp, tmp, tmp),
			 3);
	assert_int_equal(rf_sh(PY " '%s/tests/node/ref/ingest_check.py' "
				  "'%s/synth' '%s/site' 64",
			       RF_TEST_SRCDIR, tmp, tmp),
			 0);
	assert_int_equal(rf_sh(PY " '%s/tests/node/ref/ingest_check.py' --same "
				  "'%s/first.h5' '%s/site/store/dataset.h5'",
			       RF_TEST_SRCDIR, tmp, tmp),
			 0);
	assert_int_equal(rf_sh(PY " -c 'import json,sys; a=json.load(open(sys."
				  "argv[1])); b=json.load(open(sys.argv[2])); "
				  "assert a[\"records\"] == b[\"records\"]' "
				  "'%s/run1.json' '%s/run2.json'",
			       tmp, tmp),
			 0);
	/* a later ingest without --labels keeps the labels (by pseudonym) */
	assert_int_equal(rf_sh("'%s' site ingest --site '%s/site' --json "
			       "'%s/synth/dicom' > '%s/run3.json'",
			       RF_TEST_RADFED, tmp, tmp, tmp),
			 3);
	assert_int_equal(rf_sh(PY " '%s/tests/node/ref/ingest_check.py' --same "
				  "'%s/first.h5' '%s/site/store/dataset.h5'",
			       RF_TEST_SRCDIR, tmp, tmp),
			 0);
	assert_int_equal(
	    rf_sh("! grep -q -e '%s' '%s/site/store/labels.tsv' && "
		  "test $(wc -l < '%s/site/store/labels.tsv') -gt 0",
		  "\\(TDM\\|RX\\)[0-9]\\{9\\}", tmp, tmp),
	    0);
	/* no temporary file is left beside dataset.h5 */
	assert_int_equal(
	    rf_sh("test -z \"$(ls '%s/site/store' | grep tmp)\"", tmp), 0);
}

static void test_bad_labels_keep_dataset(void **state)
{
	(void)state;
	assert_int_equal(rf_sh("sha256sum '%s/site/store/dataset.h5' > "
			       "'%s/ds.sha' && printf 'accession_number,"
			       "study_instance_uid,label\\nA1,1.2.3,yes\\n' > "
			       "'%s/bad.csv'",
			       tmp, tmp, tmp),
			 0);
	assert_int_equal(rf_sh("'%s' site ingest --site '%s/site' --labels "
			       "'%s/bad.csv' '%s/synth' 2> '%s/err'",
			       RF_TEST_RADFED, tmp, tmp, tmp, tmp),
			 1);
	assert_int_equal(
	    rf_sh("grep -q \"bad.csv':2: the label\" '%s/err'", tmp), 0);
	assert_int_equal(rf_sh("sha256sum --quiet -c '%s/ds.sha'", tmp), 0);
	/* usage errors */
	assert_int_equal(rf_sh("'%s' site ingest '%s/synth' 2> /dev/null",
			       RF_TEST_RADFED, tmp),
			 2);
	assert_int_equal(rf_sh("'%s' site ingest --site '%s/site' 2> /dev/null",
			       RF_TEST_RADFED, tmp),
			 2);
}

static void test_undecodable_left_out(void **state)
{
	(void)state;
	/* a store file that is not an image: left out, counted, logged */
	assert_int_equal(
	    rf_sh("mkdir -p '%s/site/store/deidentified/PX/1.2' && "
		  "printf 'not dicom' > "
		  "'%s/site/store/deidentified/PX/1.2/1.2.3.dcm'",
		  tmp, tmp),
	    0);
	assert_int_equal(rf_sh("'%s' site ingest --dir '%s/site' --labels "
			       "'%s/synth/labels.csv' --json "
			       "'%s/synth/labels.csv' > '%s/run3.json'",
			       RF_TEST_RADFED, tmp, tmp, tmp, tmp),
			 3);
	assert_int_equal(rf_sh(PY " -c 'import json,sys; a=json.load(open(sys."
				  "argv[1])); b=json.load(open(sys.argv[2])); "
				  "assert b[\"undecodable\"] == 1 and "
				  "b[\"records\"] == a[\"records\"] == "
				  "b[\"images\"] - 1' "
				  "'%s/run1.json' '%s/run3.json'",
			       tmp, tmp),
			 0);
	assert_int_equal(rf_sh("tail -1 '%s/site/logs/ingest.jsonl' | grep -q "
			       "'\"outcome\": \"undecodable\"'",
			       tmp),
			 0);
	assert_int_equal(rf_sh(PY " '%s/tests/node/ref/ingest_check.py' --same "
				  "'%s/first.h5' '%s/site/store/dataset.h5'",
			       RF_TEST_SRCDIR, tmp, tmp),
			 0);
}

static void assert_near(const float *got, const float *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fabsf(got[i] - want[i]) > 1e-6f)
			fail_msg("value %zu: %g, want %g", i, (double)got[i],
				 (double)want[i]);
}

static void test_resample(void **state)
{
	/* 4x4 -> 2x2: means of the 2x2 blocks */
	static const float a[16] = { 1, 2,  3,  4,  5,  6,  7,  8,
				     9, 10, 11, 12, 13, 14, 15, 16 };
	static const float a2[4] = { 3.5f, 5.5f, 11.5f, 13.5f };
	/* 3 -> 2 columns: [0, 1.5) and [1.5, 3): (1*1 + 2*0.5) / 1.5 */
	static const float b[3] = { 1, 2, 4 };
	static const float b2[2] = { 4.0f / 3, 10.0f / 3 };
	/* 2 -> 4 columns, bilinear between centres (PyTorch,
	 * align_corners=False): 0, 0.25, 0.75, 1 of the way */
	static const float c[2] = { 0, 4 };
	static const float c4[4] = { 0, 1, 3, 4 };
	float out[16], tmpb[16];
	struct rf_err e = { 0 };

	(void)state;
	RF_ASSERT_OK_E(node_ingest_resample(a, 4, 4, out, 2, 2, tmpb, &e), &e);
	assert_near(out, a2, 4);
	RF_ASSERT_OK_E(node_ingest_resample(a, 4, 4, out, 4, 4, tmpb, &e), &e);
	assert_near(out, a, 16);
	RF_ASSERT_OK_E(node_ingest_resample(b, 1, 3, out, 1, 2, tmpb, &e), &e);
	assert_near(out, b2, 2);
	RF_ASSERT_OK_E(node_ingest_resample(c, 1, 2, out, 1, 4, tmpb, &e), &e);
	assert_near(out, c4, 4);
	/* the same along the rows */
	RF_ASSERT_OK_E(node_ingest_resample(c, 2, 1, out, 4, 1, tmpb, &e), &e);
	assert_near(out, c4, 4);
	RF_ASSERT_RC(node_ingest_resample(a, 0, 4, out, 2, 2, tmpb, &e),
		     RF_EINVAL);
}

static void test_normalise(void **state)
{
	float v[4] = { -1000, 0, 1000, 500 };
	static const float w[4] = { 0, 0.5f, 1, 0.75f };
	float k[3] = { 7, 7, 7 };
	static const float z[3] = { 0, 0, 0 };

	(void)state;
	node_ingest_normalise(v, 4);
	assert_near(v, w, 4);
	node_ingest_normalise(k, 3);
	assert_near(k, z, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resample),
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_dataset_matches_truth),
		cmocka_unit_test(test_twice_same_records),
		cmocka_unit_test(test_bad_labels_keep_dataset),
		cmocka_unit_test(test_undecodable_left_out),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
