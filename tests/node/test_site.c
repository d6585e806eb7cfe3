/* test_site.c - the site folder: init, open, configuration errors. */
#include "rf_test.h"

#include <dirent.h>

#include "node_site.h"
#include "rf_file.h"

static char site_dir[600];

static void write_yaml(const char *dir, const char *text)
{
	char p[700];

	snprintf(p, sizeof p, "%s/site.yaml", dir);
	RF_ASSERT_OK(rf_file_write_atomic(p, text, strlen(text), 0644, NULL));
}

static int leftovers(const char *parent)
{
	struct dirent *d;
	DIR *dp = opendir(parent);
	int n = 0;

	assert_non_null(dp);
	while ((d = readdir(dp)))
		if (strstr(d->d_name, ".init-"))
			n++;
	closedir(dp);
	return n;
}

static void test_init_and_open_defaults(void **state)
{
	const char *tmp = rf_test_tmpdir("site_init");
	struct node_site *s = NULL;
	struct rf_buf secret = RF_BUF_INIT(1024);
	struct rf_err e = { 0 };
	struct stat st;
	char p[700];

	(void)state;
	snprintf(site_dir, sizeof site_dir, "%s/site-a", tmp);
	RF_ASSERT_OK_E(node_site_init(site_dir, "chu-a", &e), &e);
	snprintf(p, sizeof p, "%s/keys/site.secret", site_dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, NODE_SITE_SECRET_LEN);
	snprintf(p, sizeof p, "%s/keys", site_dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(p, sizeof p, "%s/store", site_dir);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	RF_ASSERT_OK_E(node_site_open(site_dir, &s, &e), &e);
	assert_string_equal(s->name, "chu-a");
	assert_int_equal(s->options, ANON_DEID_DEFAULT_OPTIONS);
	assert_int_equal(s->image_size, 64);
	assert_int_equal(s->jobs, 2);
	assert_int_equal(s->n_masks, 0);
	RF_ASSERT_OK_E(node_site_secret(s, &secret, &e), &e);
	assert_int_equal(secret.len, NODE_SITE_SECRET_LEN);

	/* a secret others can read is refused */
	snprintf(p, sizeof p, "%s/keys/site.secret", site_dir);
	chmod(p, 0644);
	rf_buf_reset(&secret);
	RF_ASSERT_RC(node_site_secret(s, &secret, &e), RF_EAUTH);
	assert_non_null(strstr(e.msg, "chmod 600"));
	chmod(p, 0600);
	rf_buf_release_secret(&secret);
	node_site_close(s);

	/* twice: refused, the first site untouched, nothing left behind */
	RF_ASSERT_RC(node_site_init(site_dir, "chu-b", &e), RF_EEXIST);
	assert_non_null(strstr(e.msg, "not an empty folder"));
	assert_int_equal(leftovers(tmp), 0);
	RF_ASSERT_OK(node_site_open(site_dir, &s, NULL));
	assert_string_equal(s->name, "chu-a");
	node_site_close(s);

	/* bad names */
	snprintf(p, sizeof p, "%s/site-x", tmp);
	RF_ASSERT_RC(node_site_init(p, "CHU A", &e), RF_EINVAL);
	RF_ASSERT_RC(node_site_init(p, "-a", &e), RF_EINVAL);
	RF_ASSERT_RC(node_site_init(p, "", &e), RF_EINVAL);
	assert_int_equal(stat(p, &st), -1);
	/* an empty existing folder is fine */
	assert_int_equal(mkdir(p, 0700), 0);
	RF_ASSERT_OK_E(node_site_init(p, "chu-x", &e), &e);
}

static void test_config(void **state)
{
	const char *tmp = rf_test_tmpdir("site_cfg");
	struct node_site *s = NULL;
	struct rf_err e = { 0 };
	char dir[600];

	(void)state;
	snprintf(dir, sizeof dir, "%s/s", tmp);
	RF_ASSERT_OK(node_site_init(dir, "chu-c", NULL));

	write_yaml(dir, "site:\n  name: chu-c\n"
			"deidentification:\n"
			"  options: [retain-full-dates, retain-uids]\n"
			"  safe-private:\n"
			"    - {creator: \"ACME CT 2.1\", group: 0x0019, "
			"element: 0x10}\n"
			"  burned-in-masks:\n"
			"    - {modality: US, manufacturer: ACME, "
			"region: [0, 0, 640, 48]}\n"
			"ingest:\n  image-size: 128\n  jobs: 4\n");
	RF_ASSERT_OK_E(node_site_open(dir, &s, &e), &e);
	assert_int_equal(s->options,
			 ANON_OPT_RETAIN_FULL_DATES | ANON_OPT_RETAIN_UIDS);
	assert_int_equal(s->n_safe_private, 1);
	assert_string_equal(s->safe_private[0].creator, "ACME CT 2.1");
	assert_int_equal(s->safe_private[0].group, 0x19);
	assert_int_equal(s->safe_private[0].elem, 0x10);
	assert_int_equal(s->n_masks, 1);
	assert_string_equal(s->masks[0].modality, "US");
	assert_string_equal(s->masks[0].manufacturer, "ACME");
	assert_null(s->masks[0].model);
	assert_int_equal(s->masks[0].w, 640);
	assert_int_equal(s->image_size, 128);
	assert_int_equal(s->jobs, 4);
	node_site_close(s);

	/* typo: position and suggestion (line 4, column 3) */
	write_yaml(dir, "site:\n  name: chu-c\ningest:\n  image-szie: 64\n");
	RF_ASSERT_RC(node_site_open(dir, &s, &e), RF_ECONFIG);
	assert_null(s);
	assert_non_null(strstr(e.msg, "site.yaml:4:3:"));
	assert_non_null(strstr(e.msg, "image-size"));

	/* an option that does not exist: line 3, column 13 */
	write_yaml(dir, "site: {name: chu-c}\ndeidentification:\n"
			"  options: [retain-names]\n");
	RF_ASSERT_RC(node_site_open(dir, &s, &e), RF_ECONFIG);
	assert_non_null(strstr(e.msg, "site.yaml:3:13:"));
	assert_non_null(strstr(e.msg, "options[0]"));

	/* both date options */
	write_yaml(dir,
		   "site: {name: chu-c}\ndeidentification:\n"
		   "  options: [retain-full-dates, retain-modified-dates]\n");
	RF_ASSERT_RC(node_site_open(dir, &s, &e), RF_ECONFIG);
	assert_non_null(strstr(e.msg, "exclude each other"));

	/* a private group that is not private; a region of 3 numbers */
	write_yaml(dir, "site: {name: chu-c}\ndeidentification:\n"
			"  safe-private: [{creator: X, group: 0x0010, "
			"element: 1}]\n");
	RF_ASSERT_RC(node_site_open(dir, &s, &e), RF_ECONFIG);
	assert_non_null(strstr(e.msg, "not a private (odd) group"));
	write_yaml(dir,
		   "site: {name: chu-c}\ndeidentification:\n"
		   "  burned-in-masks: [{modality: US, region: [1, 2, 3]}]\n");
	RF_ASSERT_RC(node_site_open(dir, &s, &e), RF_ECONFIG);
	assert_non_null(strstr(e.msg, "got 3 numbers"));

	/* out of range, bad name, not a site */
	write_yaml(dir, "site: {name: chu-c}\ningest: {image-size: 8}\n");
	RF_ASSERT_RC(node_site_open(dir, &s, &e), RF_ECONFIG);
	assert_non_null(strstr(e.msg, "ingest.image-size"));
	write_yaml(dir, "site: {name: Chu C}\n");
	RF_ASSERT_RC(node_site_open(dir, &s, &e), RF_ECONFIG);
	RF_ASSERT_RC(node_site_open(tmp, &s, &e), RF_ENOTFOUND);
	assert_non_null(strstr(e.msg, "not a site folder"));
}

static void test_open_oom(void **state)
{
	struct node_site *s = NULL;
	enum rf_rc rc;

	(void)state;
	assert_true(site_dir[0]);
	RF_TEST_OOM_LOOP(rc, rc = node_site_open(site_dir, &s, NULL),
			 node_site_close(s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_and_open_defaults),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_open_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
