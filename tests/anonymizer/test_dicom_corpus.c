/* test_dicom_corpus.c - every file of pydicom's test corpus: read it (or
 * fail cleanly naming the file), write it back, and have pydicom and dcmdump
 * check the output against the original (tests/anonymizer/ref/compare.py).
 * Needs /usr/bin/python3 with pydicom, and dcmtk's dcmdump: the test fails
 * without them. */
#include "rf_test.h"

#include <sys/stat.h>

#include "anon_dicom.h"

#define MAX_FILE ((size_t)256 << 20)

static int have_tools(void)
{
	return system("/usr/bin/python3 -c 'import pydicom' && "
		      "command -v dcmdump >/dev/null") == 0;
}

static enum rf_rc read_lenient(const char *path, struct anon_dicom **d,
				struct rf_err *e)
{
	struct anon_read_opts o = {ANON_READ_LENIENT, 0, 0, 0};

	return anon_dicom_read_file(path, MAX_FILE, &o, d, e);
}

static void test_corpus(void **state)
{
	char line[4096], out_path[600], manifest[600], cmd[1400];
	const char *dir = rf_test_tmpdir("dicom_corpus");
	size_t nfiles = 0, nok = 0, nrej = 0, nlenient = 0, len;
	FILE *list, *man;
	struct stat st;
	int status;

	(void)state;
	if (!have_tools())
		fail_msg("pydicom (/usr/bin/python3) or dcmdump is missing");
	snprintf(manifest, sizeof manifest, "%s/manifest.tsv", dir);
	man = fopen(manifest, "w");
	assert_non_null(man);
	list = popen("dpkg -L python3-pydicom | grep /data/ | sort", "r");
	assert_non_null(list);
	while (fgets(line, sizeof line, list)) {
		struct anon_dicom *d = NULL;
		struct rf_err err = {0};
		enum rf_rc rc;

		len = strlen(line);
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (stat(line, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		nfiles++;
		rc = anon_dicom_read_file(line, MAX_FILE, NULL, &d, &err);
		if (rc != RF_OK) {
			if (rc != RF_EPROTO && rc != RF_EINVAL &&
			    rc != RF_ETOOBIG)
				fail_msg("'%s': unexpected %s: %s", line,
					 rf_rc_name(rc), rf_err_msg(&err));
			if (!strstr(err.msg, line))
				fail_msg("message does not name the file: %s",
					 err.msg);
			assert_null(d);
			nrej++;
			/* the lenient reader keeps what precedes the damage */
			rc = read_lenient(line, &d, &err);
			if (rc != RF_OK && rc != RF_EPROTO &&
			    rc != RF_EINVAL && rc != RF_ETOOBIG)
				fail_msg("'%s' (lenient): unexpected %s: %s",
					 line, rf_rc_name(rc),
					 rf_err_msg(&err));
			if (rc != RF_OK || anon_ds_count(&d->ds) == 0) {
				anon_dicom_destroy(d);
				fprintf(man, "%s\t-\n", line);
				continue;
			}
			nlenient++;
			snprintf(out_path, sizeof out_path, "%s/%zu.dcm", dir,
				 nfiles);
			RF_ASSERT_OK_E(anon_dicom_write_file(d, out_path,
							     &err),
				       &err);
			fprintf(man, "%s\t%s\tlenient\n", line, out_path);
			anon_dicom_destroy(d);
			continue;
		}
		nok++;
		snprintf(out_path, sizeof out_path, "%s/%zu.dcm", dir, nfiles);
		RF_ASSERT_OK_E(anon_dicom_write_file(d, out_path, &err),
			       &err);
		fprintf(man, "%s\t%s\n", line, out_path);
		anon_dicom_destroy(d);

		/* the lenient reader accepts it too, and sees no damage */
		RF_ASSERT_OK_E(read_lenient(line, &d, &err), &err);
		assert_int_equal(d->truncated, 0);
		anon_dicom_destroy(d);
	}
	pclose(list);
	fclose(man);
	printf("corpus: %zu files, %zu read and written, %zu rejected (%zu of "
	       "them read in lenient mode and written)\n", nfiles, nok, nrej,
	       nlenient);
	assert_true(nfiles >= 150);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/anonymizer/ref/"
		 "compare.py' '%s'", RF_TEST_SRCDIR, manifest);
	fflush(stdout);
	status = system(cmd);
	assert_int_equal(status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
