/* test_buf.c - the capped growable buffer. */
#include "rf_test.h"

#include "rf_buf.h"

static void test_append_and_cap(void **state)
{
	struct rf_buf b = RF_BUF_INIT(10);
	struct rf_err e = {0};

	(void)state;
	assert_string_equal(rf_buf_str(&b), "");
	RF_ASSERT_OK(rf_buf_append(&b, "hello", 5, &e));
	RF_ASSERT_OK(rf_buf_putc(&b, ' ', &e));
	RF_ASSERT_OK(rf_buf_puts(&b, "wor", &e));
	assert_int_equal(b.len, 9);
	assert_string_equal(rf_buf_str(&b), "hello wor");
	/* one byte over the cap: refused, buffer unchanged */
	RF_ASSERT_RC(rf_buf_puts(&b, "ld", &e), RF_ETOOBIG);
	assert_non_null(strstr(e.msg, "10 bytes"));
	assert_int_equal(b.len, 9);
	assert_string_equal(rf_buf_str(&b), "hello wor");
	/* exactly at the cap is fine */
	RF_ASSERT_OK(rf_buf_putc(&b, 'l', &e));
	assert_int_equal(b.len, 10);
	assert_true(b.cap <= 10);
	/* a hostile size cannot wrap the arithmetic */
	RF_ASSERT_RC(rf_buf_reserve(&b, SIZE_MAX, &e), RF_ETOOBIG);
	RF_ASSERT_RC(rf_buf_reserve(&b, SIZE_MAX - 5, &e), RF_ETOOBIG);
	rf_buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.max, 10);
}

static void test_printf_truncate_detach(void **state)
{
	struct rf_buf b;
	uint8_t *p;
	size_t n;

	(void)state;
	rf_buf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++)
		RF_ASSERT_OK(rf_buf_printf(&b, NULL, "%04d,", i));
	assert_int_equal(b.len, 5000);
	assert_memory_equal(b.data + 4995, "0999,", 5);
	rf_buf_truncate(&b, 4);
	assert_string_equal(rf_buf_str(&b), "0000");
	rf_buf_truncate(&b, 100); /* longer than len: no-op */
	assert_int_equal(b.len, 4);
	p = rf_buf_detach(&b, &n);
	assert_int_equal(n, 4);
	assert_string_equal((char *)p, "0000");
	assert_null(b.data);
	rf_free(p);

	/* detaching an empty buffer still gives a string */
	p = rf_buf_detach(&b, &n);
	assert_non_null(p);
	assert_int_equal(n, 0);
	assert_int_equal(p[0], 0);
	rf_free(p);

	/* printf past the cap fails and leaves the buffer as it was */
	rf_buf_init(&b, 8);
	RF_ASSERT_OK(rf_buf_printf(&b, NULL, "%s", "1234"));
	RF_ASSERT_RC(rf_buf_printf(&b, NULL, "%s", "56789"), RF_ETOOBIG);
	assert_string_equal(rf_buf_str(&b), "1234");
	rf_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(rf_buf_str(&b), "");
	rf_buf_release_secret(&b);
}

static enum rf_rc build_text(struct rf_buf *b)
{
	enum rf_rc rc;

	rf_buf_init(b, 1 << 16);
	for (int i = 0; i < 200; i++) {
		rc = rf_buf_printf(b, NULL, "line %d\n", i);
		if (rc) {
			rf_buf_release(b);
			return rc;
		}
	}
	return RF_OK;
}

static void test_oom(void **state)
{
	struct rf_buf b;
	enum rf_rc rc;

	(void)state;
	RF_TEST_OOM_LOOP(rc, rc = build_text(&b), {
		assert_int_equal(b.len, 1690);
		rf_buf_release(&b);
	});
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_cap),
		cmocka_unit_test(test_printf_truncate_detach),
		cmocka_unit_test(test_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
