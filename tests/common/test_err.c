/* test_err.c - error codes, messages and the allocator hook. */
#include "rf_test.h"

static void test_strerror_covers_every_code(void **state)
{
	(void)state;
	for (int rc = 0; rc < RF_RC_COUNT_; rc++) {
		assert_non_null(rf_strerror(rc));
		assert_string_not_equal(rf_strerror(rc), "unknown error");
		assert_true(rf_rc_name(rc)[0] == 'E' || rc == RF_OK);
	}
	assert_string_equal(rf_strerror(RF_RC_COUNT_), "unknown error");
	assert_string_equal(rf_strerror((enum rf_rc)-1), "unknown error");
	assert_string_equal(rf_rc_name(RF_ENOMEM), "ENOMEM");
}

static void test_codes_never_renumbered(void **state)
{
	(void)state;
	/* exit statuses and JSON output depend on these values */
	assert_int_equal(RF_OK, 0);
	assert_int_equal(RF_ENOMEM, 1);
	assert_int_equal(RF_EINVAL, 2);
	assert_int_equal(RF_EIO, 3);
	assert_int_equal(RF_EPROTO, 4);
	assert_int_equal(RF_ECRYPTO, 5);
	assert_int_equal(RF_EPOLICY, 6);
	assert_int_equal(RF_EINTERNAL, 14);
	assert_int_equal(RF_EINTEGRITY, 15);
}

static void test_err_set_and_prefix(void **state)
{
	struct rf_err e = {0};
	char big[600];

	(void)state;
	assert_string_equal(rf_err_msg(&e), "success");
	assert_int_equal(rf_err_set(&e, RF_EIO, "cannot open '%s'", "x.h5"),
			 RF_EIO);
	assert_int_equal(e.rc, RF_EIO);
	assert_string_equal(rf_err_msg(&e), "cannot open 'x.h5'");
	assert_int_equal(rf_err_prefix(&e, "loading %s", "model"), RF_EIO);
	assert_string_equal(e.msg, "loading model: cannot open 'x.h5'");

	/* NULL error buffers are allowed and the code still comes back */
	assert_int_equal(rf_err_set(NULL, RF_EPROTO, "x"), RF_EPROTO);

	/* over-long messages are truncated, never overflow */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	rf_err_set(&e, RF_EINVAL, "%s", big);
	assert_int_equal(strlen(e.msg), RF_ERR_MSG_MAX - 1);

	/* a prefix on an empty message names the code */
	rf_err_clear(&e);
	assert_int_equal(e.rc, RF_OK);
	e.rc = RF_ENOMEM;
	rf_err_prefix(&e, "reading");
	assert_string_equal(e.msg, "reading: out of memory");
}

static void test_alloc_hook_and_overflow(void **state)
{
	char *s;

	(void)state;
	assert_null(rf_mallocarray(SIZE_MAX / 2, 3));
	assert_null(rf_calloc(SIZE_MAX / 8, 16));
	s = rf_malloc(0);
	assert_non_null(s);
	rf_free(s);
	rf_free(NULL);

	rf_test_fail_alloc_after(1);
	s = rf_strdup("abc");
	assert_non_null(s);
	assert_string_equal(s, "abc");
	assert_null(rf_strdup("def"));
	assert_int_equal(rf_test_alloc_live(), 1);
	rf_free_secret(s, 4);
	assert_int_equal(rf_test_alloc_live(), 0);
	rf_test_alloc_reset();

	s = rf_strndup("abcdef", 3);
	assert_string_equal(s, "abc");
	rf_free(s);
}

static void test_zeroize(void **state)
{
	unsigned char key[32];

	(void)state;
	memset(key, 0xa5, sizeof key);
	rf_zeroize(key, sizeof key);
	for (size_t i = 0; i < sizeof key; i++)
		assert_int_equal(key[i], 0);
	rf_zeroize(NULL, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror_covers_every_code),
		cmocka_unit_test(test_codes_never_renumbered),
		cmocka_unit_test(test_err_set_and_prefix),
		cmocka_unit_test(test_alloc_hook_and_overflow),
		cmocka_unit_test(test_zeroize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
