/*
 * test_charset_hold.c - struct anon_charset_hold keeps iconv converter
 * modules loaded. What is loaded is read from /proc/self/maps (the gconv
 * module files glibc maps); the decoded text is checked against Python's
 * codecs (bytes.decode('iso8859_7'), 'euc_jp'), whose results are written
 * out below.
 */
#include "rf_test.h"

#include <string.h>

#include "anon_dicom.h"

/* Is a file whose path ends in name mapped into this process? */
static int mapped(const char *name)
{
	char line[1024];
	size_t n = strlen(name), len;
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	while (!found && fgets(line, sizeof line, f)) {
		len = strcspn(line, "\n");
		found = len >= n && memcmp(line + len - n, name, n) == 0;
	}
	fclose(f);
	return found;
}

/* Decodes p (n bytes) in cs and checks the UTF-8 result. */
static void decode_is(enum anon_charset cs, const char *p, size_t n,
		      const char *want)
{
	struct rf_buf out = RF_BUF_INIT(4096);

	RF_ASSERT_OK(anon_charset_decode(cs, (const uint8_t *)p, n, &out,
					 NULL));
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.data, want, out.len);
	rf_buf_release(&out);
}

/* b'\xe1\xe2'.decode('iso8859_7') == 'αβ' */
static void greek(void)
{
	decode_is(ANON_CS_GREEK, "\xe1\xe2", 2, "\xce\xb1\xce\xb2");
}

/* One value in each of four other single-byte charsets: enough releases
 * for glibc to unload a module nobody holds (it waits for a few). */
static void others(void)
{
	/* b'\xd0'.decode('iso8859_5') == 'а' (U+0430) */
	decode_is(ANON_CS_CYRILLIC, "\xd0", 1, "\xd0\xb0");
	/* b'\xe0'.decode('iso8859_8') == 'א' (U+05D0) */
	decode_is(ANON_CS_HEBREW, "\xe0", 1, "\xd7\x90");
	/* b'\xc7'.decode('iso8859_6') == 'ا' (U+0627) */
	decode_is(ANON_CS_ARABIC, "\xc7", 1, "\xd8\xa7");
	/* b'\xa1'.decode('tis_620') == 'ก' (U+0E01) */
	decode_is(ANON_CS_THAI, "\xa1", 1, "\xe0\xb8\x81");
}

#define GREEK_SO "/gconv/ISO8859-7.so"

static void test_hold_keeps_module_loaded(void **state)
{
	struct anon_charset_hold h;

	(void)state;
	/* without a hold: loaded for the value, gone a few values later */
	greek();
	others();
	assert_false(mapped(GREEK_SO));

	anon_charset_hold_init(&h);
	anon_charset_hold_add(&h, ANON_CS_GREEK);
	assert_true(mapped(GREEK_SO));
	greek();
	others();
	greek();
	others();
	assert_true(mapped(GREEK_SO));

	anon_charset_hold_release(&h);
	others();
	assert_false(mapped(GREEK_SO));
}

static void test_hold_iso2022(void **state)
{
	struct anon_charset_hold h;

	(void)state;
	anon_charset_hold_init(&h);
	anon_charset_hold_add(&h, ANON_CS_ISO2022_JIS);
	assert_true(mapped("/gconv/EUC-JP.so"));
	/* ESC $ B then JIS X 0208 0x3b 0x33:
	 * b'\xbb\xb3'.decode('euc_jp') == '山' (U+5C71) */
	decode_is(ANON_CS_ISO2022_JIS, "\x1b$B;3", 5, "\xe5\xb1\xb1");
	anon_charset_hold_add(&h, ANON_CS_ISO2022);
	assert_true(mapped("/gconv/EUC-JP.so"));
	assert_true(mapped("/gconv/EUC-KR.so"));
	assert_true(mapped("/gconv/EUC-CN.so")); /* GB 2312 */
	anon_charset_hold_release(&h);
}

/* Charsets decoded without iconv hold nothing; a slot is opened once. */
static void test_hold_slots(void **state)
{
	static const enum anon_charset none[] = {
		ANON_CS_DEFAULT, ANON_CS_LATIN1, ANON_CS_UTF8, ANON_CS_UNKNOWN,
	};
	struct anon_charset_hold h;
	iconv_t cd[ANON_CHARSET_HOLD_SLOTS];
	size_t i, open_n = 0;

	(void)state;
	anon_charset_hold_init(&h);
	for (i = 0; i < sizeof none / sizeof none[0]; i++)
		anon_charset_hold_add(&h, none[i]);
	assert_int_equal(h.tried, 0);
	for (i = 0; i < ANON_CHARSET_HOLD_SLOTS; i++)
		assert_true(h.cd[i] == (iconv_t)-1);

	anon_charset_hold_add(&h, ANON_CS_GREEK);
	anon_charset_hold_add(&h, ANON_CS_GBK);
	memcpy(cd, h.cd, sizeof cd);
	anon_charset_hold_add(&h, ANON_CS_GREEK);
	anon_charset_hold_add(&h, ANON_CS_GBK);
	assert_memory_equal(cd, h.cd, sizeof cd);
	for (i = 0; i < ANON_CHARSET_HOLD_SLOTS; i++)
		open_n += h.cd[i] != (iconv_t)-1;
	assert_int_equal(open_n, 2);

	anon_charset_hold_release(&h);
	assert_int_equal(h.tried, 0);
	for (i = 0; i < ANON_CHARSET_HOLD_SLOTS; i++)
		assert_true(h.cd[i] == (iconv_t)-1);
	anon_charset_hold_release(&h); /* twice: nothing left to close */
	anon_charset_hold_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_keeps_module_loaded),
		cmocka_unit_test(test_hold_iso2022),
		cmocka_unit_test(test_hold_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
