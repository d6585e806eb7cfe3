/* test_deid_corpus.c - every file of pydicom's test corpus that the reader
 * parses is de-identified with the default options and written to a
 * temporary directory, or quarantined with a reason; then
 * tests/anonymizer/ref/deid_check.py has pydicom and dcmdump read every
 * output and checks that no name, PatientID, AccessionNumber or original
 * UID survives, that the pixel data is unchanged, and that dciodvfy finds
 * no error in an output that it does not find in its original (the
 * profile's actions keep the output as valid as the input). Needs
 * /usr/bin/python3 with pydicom, dcmtk's dcmdump and dicom3tools'
 * dciodvfy: the test fails without them. */
#include "rf_test.h"

#include <sys/stat.h>

#include "anon_deid.h"

#define MAX_FILE ((size_t)256 << 20)

static int have_tools(void)
{
	return system("/usr/bin/python3 -c 'import pydicom' && "
		      "command -v dcmdump >/dev/null && "
		      "command -v dciodvfy >/dev/null") == 0;
}

static void test_corpus(void **state)
{
	static const uint8_t secret[32] = "radfed corpus test secret 0123!";
	char line[4096], out_path[600], manifest[600], cmd[1400];
	const char *dir = rf_test_tmpdir("deid_corpus");
	size_t nfiles = 0, nwritten = 0, nquar = 0, nunread = 0, len;
	struct anon_deid_config cfg = {0};
	struct anon_pseudo *keys = NULL;
	FILE *list, *man;
	struct stat st;
	int status;

	(void)state;
	if (!have_tools())
		fail_msg("pydicom (/usr/bin/python3), dcmdump or dciodvfy is "
			 "missing");
	RF_ASSERT_OK(anon_pseudo_create(secret, sizeof secret, &keys, NULL));
	cfg.pseudo = keys;
	cfg.software = "radfed test";
	snprintf(manifest, sizeof manifest, "%s/manifest.tsv", dir);
	man = fopen(manifest, "w");
	assert_non_null(man);
	list = popen("dpkg -L python3-pydicom | grep /data/ | sort", "r");
	assert_non_null(list);
	while (fgets(line, sizeof line, list)) {
		struct anon_dicom *d = NULL;
		struct anon_deid_result r;
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
			nunread++;
			fprintf(man, "%s\tunreadable\n", line);
			continue;
		}
		anon_deid_result_init(&r);
		rc = anon_deid_apply(&cfg, d, &r, &err);
		if (rc != RF_OK)
			fail_msg("'%s': %s", line, rf_err_msg(&err));
		if (r.outcome == ANON_DEID_QUARANTINED) {
			assert_true(r.reason[0] != 0);
			nquar++;
			fprintf(man, "%s\tquarantined\t%s\n", line, r.reason);
		} else {
			nwritten++;
			snprintf(out_path, sizeof out_path, "%s/%zu.dcm", dir,
				 nfiles);
			RF_ASSERT_OK_E(anon_dicom_write_file(d, out_path,
							     &err),
				       &err);
			fprintf(man, "%s\t%s\n", line, out_path);
		}
		anon_deid_result_release(&r);
		anon_dicom_destroy(d);
	}
	pclose(list);
	fclose(man);
	anon_pseudo_destroy(keys);
	print_message("deid corpus: %zu files: %zu written, %zu quarantined, "
		      "%zu unreadable\n", nfiles, nwritten, nquar, nunread);
	assert_true(nfiles > 50);
	assert_true(nwritten > nfiles / 2);

	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/anonymizer/ref/"
		 "deid_check.py' '%s'", RF_TEST_SRCDIR, manifest);
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
