/* test_file.c - atomic writes, capped reads, mkdir -p. */
#include "rf_test.h"

#include <dirent.h>

#include "rf_file.h"

static int count_entries(const char *dir)
{
	struct dirent *d;
	DIR *dp = opendir(dir);
	int n = 0;

	assert_non_null(dp);
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			n++;
	closedir(dp);
	return n;
}

static void test_write_atomic_and_read(void **state)
{
	const char *dir = rf_test_tmpdir("file_rw");
	char path[600], bad[600];
	struct rf_buf b = RF_BUF_INIT(64);
	struct rf_err e = {0};
	struct stat st;

	(void)state;
	snprintf(path, sizeof path, "%s/key", dir);
	RF_ASSERT_OK_E(rf_file_write_atomic(path, "secret!", 7, 0600, &e), &e);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 7);
	/* replacing keeps one file and no temporary */
	RF_ASSERT_OK_E(rf_file_write_atomic(path, "public", 6, 0644, &e), &e);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(count_entries(dir), 1);
	RF_ASSERT_OK_E(rf_file_read(path, &b, &e), &e);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "public", 6);

	/* exactly at the cap, then one byte over it */
	rf_buf_release(&b);
	rf_buf_init(&b, 6);
	RF_ASSERT_OK_E(rf_file_read(path, &b, &e), &e);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "public", 6);
	rf_buf_release(&b);
	rf_buf_init(&b, 5);
	RF_ASSERT_RC(rf_file_read(path, &b, &e), RF_ETOOBIG);
	/* appending to what a buffer holds */
	rf_buf_release(&b);
	rf_buf_init(&b, 64);
	RF_ASSERT_OK(rf_buf_puts(&b, "key=", NULL));
	RF_ASSERT_OK_E(rf_file_read(path, &b, &e), &e);
	assert_string_equal(rf_buf_str(&b), "key=public");

	/* over the cap */
	rf_buf_release(&b);
	rf_buf_init(&b, 3);
	RF_ASSERT_RC(rf_file_read(path, &b, &e), RF_ETOOBIG);
	assert_non_null(strstr(e.msg, path));
	rf_buf_release(&b);

	/* a missing directory: error naming the path, nothing left */
	snprintf(bad, sizeof bad, "%s/nodir/key", dir);
	RF_ASSERT_RC(rf_file_write_atomic(bad, "x", 1, 0600, &e), RF_EIO);
	assert_non_null(strstr(e.msg, bad));
	RF_ASSERT_RC(rf_file_read(bad, &b, &e), RF_EIO);
	assert_non_null(strstr(e.msg, "No such file"));
	/* a directory is not a file */
	RF_ASSERT_RC(rf_file_read(dir, &b, &e), RF_EIO);
	assert_non_null(strstr(e.msg, "not a file"));
	assert_int_equal(count_entries(dir), 1);
}

static void test_mkdirs(void **state)
{
	const char *dir = rf_test_tmpdir("file_mkdirs");
	char path[600], file[600];
	struct rf_err e = {0};
	struct stat st;
	enum rf_rc rc;

	(void)state;
	snprintf(path, sizeof path, "%s/a/b//c/", dir);
	RF_ASSERT_OK_E(rf_mkdirs(path, 0700, &e), &e);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	RF_ASSERT_OK_E(rf_mkdirs(path, 0700, &e), &e); /* exists: fine */

	snprintf(file, sizeof file, "%s/a/f", dir);
	RF_ASSERT_OK(rf_file_write_atomic(file, "x", 1, 0600, NULL));
	snprintf(path, sizeof path, "%s/a/f/g", dir);
	RF_ASSERT_RC(rf_mkdirs(path, 0700, &e), RF_EEXIST);
	assert_non_null(strstr(e.msg, "/a/f"));
	RF_ASSERT_RC(rf_mkdirs("", 0700, &e), RF_EINVAL);

	snprintf(path, sizeof path, "%s/oom/x", dir);
	RF_TEST_OOM_LOOP(rc, rc = rf_mkdirs(path, 0700, NULL), {});
}

static void test_write_flags_and_dir_sync(void **state)
{
	const char *dir = rf_test_tmpdir("file_flags");
	char path[600], missing[600];
	struct rf_buf b = RF_BUF_INIT(64);
	struct rf_err e = {0};
	struct stat st;

	(void)state;
	snprintf(path, sizeof path, "%s/out.dcm", dir);
	RF_ASSERT_OK_E(rf_file_write_atomic_flags(path, "abc", 3, 0600,
						  RF_FILE_NO_DIR_SYNC, &e),
		       &e);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	RF_ASSERT_OK_E(rf_file_read(path, &b, &e), &e);
	assert_string_equal(rf_buf_str(&b), "abc");
	assert_int_equal(count_entries(dir), 1);
	/* an unknown flag: refused, nothing written, the old file kept */
	RF_ASSERT_RC(rf_file_write_atomic_flags(path, "x", 1, 0600, 0x80, &e),
		     RF_EINVAL);
	assert_non_null(strstr(e.msg, "unknown flags"));
	assert_int_equal(count_entries(dir), 1);
	rf_buf_reset(&b);
	RF_ASSERT_OK_E(rf_file_read(path, &b, &e), &e);
	assert_string_equal(rf_buf_str(&b), "abc");
	/* syncing the folder; a missing folder or a file is an error */
	RF_ASSERT_OK_E(rf_dir_sync(dir, &e), &e);
	snprintf(missing, sizeof missing, "%s/none", dir);
	RF_ASSERT_RC(rf_dir_sync(missing, &e), RF_EIO);
	assert_non_null(strstr(e.msg, "'"));
	RF_ASSERT_RC(rf_dir_sync(path, &e), RF_EIO);
	rf_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_atomic_and_read),
		cmocka_unit_test(test_write_flags_and_dir_sync),
		cmocka_unit_test(test_mkdirs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
