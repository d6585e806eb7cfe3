/* test_demo.c - `radfed demo` runs, twice in the same folder, and leaves
 * what it says it leaves. */
#include "rf_test.h"

#include <sys/wait.h>

static int run(const char *dir, const char *out)
{
	char cmd[2048];
	int st;

	snprintf(cmd, sizeof cmd, "'%s' demo --dir '%s' > '%s' 2>&1",
		 RF_TEST_RADFED, dir, out);
	st = system(cmd);
	assert_true(st != -1 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_demo(void **state)
{
	const char *tmp = rf_test_tmpdir("demo");
	char dir[600], out[600], cmd[4096];
	FILE *f;
	char text[65536];
	size_t n;

	(void)state;
	snprintf(dir, sizeof dir, "%s/d", tmp);
	snprintf(out, sizeof out, "%s/out.txt", tmp);
	assert_int_equal(run(dir, out), 0);
	f = fopen(out, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_non_null(strstr(text, "the same report after radfed"));
	assert_non_null(strstr(text, "after radfed (keyed pseudonyms"));
	assert_non_null(strstr(text, "0 failed"));
	assert_non_null(strstr(text, "dataset.h5: 45 images of 64x64"));
	/* the reports and the site's store are there */
	snprintf(cmd, sizeof cmd,
		 "test -f '%s/reports/deidentified/report-0200.txt' && "
		 "test -f '%s/site-a/keys/site.secret' && "
		 "test -f '%s/site-a/store/dataset.h5' && "
		 "ls '%s/site-a/store/deidentified' | grep -q '^P'",
		 dir, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	/* again: reuses what it made */
	assert_int_equal(run(dir, out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
