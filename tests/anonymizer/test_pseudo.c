/*
 * test_pseudo.c - keyed pseudonyms, date shifting and age grouping.
 *
 * Known answers come from ref/pseudo_ref.py, which recomputes every rule of
 * docs/deidentification.md with Python's hmac, hashlib, base64, uuid and
 * datetime (HKDF written out per RFC 5869 and checked against its vectors)
 * for the secret 00 01 ... 1f, into data/pseudo_ref.tsv. The calendar is
 * also checked day by day over 0001-9999 against a plain day counter.
 */
#include "rf_test.h"

#include "anon_pseudo.h"
#include "rf_crypto.h"

#define DATA_DIR RF_TEST_SRCDIR "/tests/anonymizer/data/"

static uint8_t test_secret[32];

static void secret_init(uint8_t s[32], uint8_t first)
{
	for (int i = 0; i < 32; i++)
		s[i] = (uint8_t)(first + i);
}

static struct anon_pseudo *pseudo_new(const uint8_t *secret, size_t len)
{
	struct anon_pseudo *p = NULL;
	struct rf_err e = { 0 };

	RF_ASSERT_OK_E(anon_pseudo_create(secret, len, &p, &e), &e);
	assert_non_null(p);
	return p;
}

/* ---- the reference fixture ---------------------------------------------- */

/* Splits a TSV line in place into at most n fields; returns the count. */
static int split_tabs(char *line, char **f, int n)
{
	int k = 0;

	line[strcspn(line, "\r\n")] = '\0';
	f[k++] = line;
	for (char *p = line; *p && k < n; p++) {
		if (*p == '\t') {
			*p = '\0';
			f[k++] = p + 1;
		}
	}
	return k;
}

static enum anon_id_kind kind_from_name(const char *s)
{
	static const char *const names[ANON_ID_KIND_COUNT_] = {
		[ANON_ID_PATIENT] = "patient",
		[ANON_ID_OTHER_PATIENT] = "other_patient",
		[ANON_ID_ACCESSION] = "accession",
		[ANON_ID_STUDY] = "study",
		[ANON_ID_OTHER] = "other",
	};

	for (int i = 0; i < ANON_ID_KIND_COUNT_; i++)
		if (strcmp(s, names[i]) == 0)
			return (enum anon_id_kind)i;
	fail_msg("unknown kind '%s' in the fixture", s);
	return ANON_ID_KIND_COUNT_;
}

/* Compares a call's result with the fixture's: "!EINVAL" or the text. */
static void check_result(const char *what, const char *in, enum rf_rc rc,
			 const struct rf_err *e, const char *got,
			 const char *want)
{
	if (strcmp(want, "!EINVAL") == 0) {
		if (rc != RF_EINVAL)
			fail_msg("%s '%s': got %s '%s', want EINVAL", what, in,
				 rf_rc_name(rc), got ? got : "");
		if (got)
			assert_string_equal(got, "");
		return;
	}
	if (rc != RF_OK)
		fail_msg("%s '%s': %s", what, in, rf_err_msg(e));
	if (got && strcmp(got, want) != 0)
		fail_msg("%s '%s': got '%s', want '%s'", what, in, got, want);
}

static void test_reference_fixture(void **state)
{
	FILE *f = fopen(DATA_DIR "pseudo_ref.tsv", "r");
	struct anon_pseudo *p = NULL;
	char line[1024];
	int counts[8] = { 0 };

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		char *fl[5];
		struct rf_err e = { 0 };
		enum rf_rc rc;
		int n;

		if (line[0] == '#')
			continue;
		n = split_tabs(line, fl, 5);
		if (strcmp(fl[0], "secret") == 0) {
			size_t len = 0;

			assert_int_equal(n, 2);
			RF_ASSERT_OK(
			    rf_hex_decode(fl[1], strlen(fl[1]), test_secret,
					  sizeof test_secret, &len, NULL));
			assert_int_equal(len, 32);
			p = pseudo_new(test_secret, sizeof test_secret);
			continue;
		}
		assert_int_equal(n, fl[0][0] == 'k' ? 3 : 4);
		assert_non_null(p);
		if (strcmp(fl[0], "key") == 0) {
			/* the HKDF labels, as the module derives its keys */
			uint8_t k[32];
			char hex[65];

			RF_ASSERT_OK(rf_hkdf_sha256(NULL, 0, test_secret, 32,
						    fl[1], strlen(fl[1]), k,
						    sizeof k, NULL));
			RF_ASSERT_OK(
			    rf_hex_encode(k, sizeof k, hex, sizeof hex, NULL));
			assert_string_equal(hex, fl[2]);
			counts[0]++;
		} else if (strcmp(fl[0], "uid") == 0) {
			char out[ANON_UID_SIZE];

			rc = anon_pseudo_uid(p, fl[1], strlen(fl[1]), out,
					     sizeof out, &e);
			check_result("uid", fl[1], rc, &e, out, fl[3]);
			counts[1]++;
		} else if (strcmp(fl[0], "id") == 0) {
			char out[ANON_ID_SIZE];

			rc = anon_pseudo_id(p, kind_from_name(fl[1]), fl[2],
					    strlen(fl[2]), out, sizeof out, &e);
			check_result("id", fl[2], rc, &e, out, fl[3]);
			counts[2]++;
		} else if (strcmp(fl[0], "shift") == 0) {
			int days = 0;
			char got[16];

			rc = anon_pseudo_day_shift(p, fl[1], strlen(fl[1]),
						   &days, &e);
			snprintf(got, sizeof got, "%d", days);
			check_result("shift", fl[1], rc, &e, got, fl[3]);
			counts[3]++;
		} else if (strcmp(fl[0], "da") == 0 ||
			   strcmp(fl[0], "dt") == 0) {
			/* in_len + 1 bytes always suffice */
			size_t in_len = strlen(fl[1]);
			char *out = malloc(in_len + 1);
			long days = strtol(fl[2], NULL, 10);

			assert_non_null(out);
			if (fl[0][1] == 'a')
				rc = anon_da_shift(fl[1], in_len, days, out,
						   in_len + 1, &e);
			else
				rc = anon_dt_shift(fl[1], in_len, days, out,
						   in_len + 1, &e);
			check_result(fl[0], fl[1], rc, &e, out, fl[3]);
			free(out);
			counts[fl[0][1] == 'a' ? 4 : 5]++;
		} else if (strcmp(fl[0], "tm") == 0) {
			rc = anon_tm_check(fl[1], strlen(fl[1]), &e);
			check_result("tm", fl[1], rc, &e, NULL, fl[3]);
			counts[6]++;
		} else if (strcmp(fl[0], "as") == 0) {
			char out[5];

			rc = anon_as_group(fl[1], strlen(fl[1]), out,
					   sizeof out, &e);
			check_result("as", fl[1], rc, &e, out, fl[3]);
			counts[7]++;
		} else {
			fail_msg("unknown row '%s' in the fixture", fl[0]);
		}
	}
	fclose(f);
	anon_pseudo_destroy(p);
	/* every kind of row is there, at least a dozen of most */
	assert_int_equal(counts[0], 3);
	for (int i = 1; i < 8; i++)
		assert_true(counts[i] >= 12);
}

/* ---- determinism and secret sensitivity -------------------------------- */

static const char *const sample_ids[] = {
	"123456",
	"DUPONT^JEAN",
	"IPP-000001",
	"1.2.840.10008.1.2.1",
	"",
	"z",
	"0000000000",
	"123457",
	"ACC-2024-0001",
	"2.16.840.1",
	"x y",
	"\xc3\xa9t\xc3\xa9",
};
#define N_SAMPLES (sizeof sample_ids / sizeof sample_ids[0])

static void test_determinism(void **state)
{
	uint8_t s2[32];
	struct anon_pseudo *a, *b, *c;
	unsigned same_shift = 0;

	(void)state;
	secret_init(test_secret, 0);
	secret_init(s2, 1);
	a = pseudo_new(test_secret, 32);
	b = pseudo_new(test_secret, 32);
	c = pseudo_new(s2, 32);
	for (size_t i = 0; i < N_SAMPLES; i++) {
		const char *v = sample_ids[i];
		size_t n = strlen(v);
		char ua[ANON_UID_SIZE], ub[ANON_UID_SIZE], uc[ANON_UID_SIZE];
		char ia[ANON_ID_SIZE], ib[ANON_ID_SIZE], ic[ANON_ID_SIZE];
		int da, db, dc;

		RF_ASSERT_OK(anon_pseudo_uid(a, v, n, ua, sizeof ua, NULL));
		RF_ASSERT_OK(anon_pseudo_uid(b, v, n, ub, sizeof ub, NULL));
		RF_ASSERT_OK(anon_pseudo_uid(c, v, n, uc, sizeof uc, NULL));
		assert_string_equal(ua, ub);
		assert_string_not_equal(ua, uc);
		for (int k = 0; k < ANON_ID_KIND_COUNT_; k++) {
			RF_ASSERT_OK(
			    anon_pseudo_id(a, k, v, n, ia, sizeof ia, NULL));
			RF_ASSERT_OK(
			    anon_pseudo_id(b, k, v, n, ib, sizeof ib, NULL));
			RF_ASSERT_OK(
			    anon_pseudo_id(c, k, v, n, ic, sizeof ic, NULL));
			assert_string_equal(ia, ib);
			if (n > 0)
				assert_string_not_equal(ia, ic);
		}
		RF_ASSERT_OK(anon_pseudo_day_shift(a, v, n, &da, NULL));
		RF_ASSERT_OK(anon_pseudo_day_shift(b, v, n, &db, NULL));
		RF_ASSERT_OK(anon_pseudo_day_shift(c, v, n, &dc, NULL));
		assert_int_equal(da, db);
		same_shift += da == dc; /* 1 in 3650 by chance */
	}
	assert_true(same_shift < 3);
	anon_pseudo_destroy(a);
	anon_pseudo_destroy(b);
	anon_pseudo_destroy(c);
}

/* Padding is not part of the value; everything else is. */
static void test_padding(void **state)
{
	struct anon_pseudo *p;
	char a[ANON_UID_SIZE], b[ANON_UID_SIZE];
	char ia[ANON_ID_SIZE], ib[ANON_ID_SIZE];
	int da, db;

	(void)state;
	secret_init(test_secret, 0);
	p = pseudo_new(test_secret, 32);
	RF_ASSERT_OK(anon_pseudo_uid(p, "1.2.3.4", 7, a, sizeof a, NULL));
	RF_ASSERT_OK(anon_pseudo_uid(p, "1.2.3.4\0", 8, b, sizeof b, NULL));
	assert_string_equal(a, b);
	RF_ASSERT_OK(anon_pseudo_uid(p, " 1.2.3.4", 8, b, sizeof b, NULL));
	assert_string_not_equal(a, b);
	RF_ASSERT_OK(anon_pseudo_uid(p, NULL, 0, a, sizeof a, NULL));
	RF_ASSERT_OK(anon_pseudo_uid(p, "\0\0 ", 3, b, sizeof b, NULL));
	assert_string_equal(a, b);

	RF_ASSERT_OK(anon_pseudo_id(p, ANON_ID_PATIENT, "123456", 6, ia,
				    sizeof ia, NULL));
	RF_ASSERT_OK(anon_pseudo_id(p, ANON_ID_PATIENT, " 123456 \0", 9, ib,
				    sizeof ib, NULL));
	assert_string_equal(ia, ib);
	assert_string_equal(ia, "PG9H390AA5ZM1QKH9"); /* as in the fixture */
	RF_ASSERT_OK(anon_pseudo_id(p, ANON_ID_PATIENT, "12 3456", 7, ib,
				    sizeof ib, NULL));
	assert_string_not_equal(ia, ib);

	RF_ASSERT_OK(anon_pseudo_day_shift(p, "123456", 6, &da, NULL));
	RF_ASSERT_OK(anon_pseudo_day_shift(p, "123456\0", 7, &db, NULL));
	assert_int_equal(da, db);
	assert_int_equal(da, -1868); /* as in the fixture */
	anon_pseudo_destroy(p);
}

/* The forms fit their VRs and the identifiers stay in Crockford base32. */
static void test_id_forms(void **state)
{
	static const struct {
		enum anon_id_kind kind;
		char prefix;
		size_t len;
	} forms[] = {
		{ ANON_ID_PATIENT, 'P', 17 },
		{ ANON_ID_OTHER_PATIENT, 'Q', 17 },
		{ ANON_ID_ACCESSION, 'A', 16 },
		{ ANON_ID_STUDY, 'S', 16 },
		{ ANON_ID_OTHER, 'X', 16 },
	};
	struct anon_pseudo *p;
	char out[ANON_ID_SIZE];
	char big[600];
	struct rf_err e = { 0 };

	(void)state;
	secret_init(test_secret, 0);
	p = pseudo_new(test_secret, 32);
	memset(big, '7', sizeof big);
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		for (size_t n = 1; n <= sizeof big; n += 37) {
			RF_ASSERT_OK(anon_pseudo_id(p, forms[i].kind, big, n,
						    out, sizeof out, NULL));
			assert_int_equal(strlen(out), forms[i].len);
			assert_int_equal(out[0], forms[i].prefix);
			assert_int_equal(strspn(out + 1, "0123456789ABCDEFGH"
							 "JKMNPQRSTVWXYZ"),
					 forms[i].len - 1);
		}
	}
	/* the SH kinds fit in 16 characters, LO ones in 64 */
	assert_true(ANON_ID_SIZE - 1 <= 64);
	RF_ASSERT_RC(
	    anon_pseudo_id(p, ANON_ID_KIND_COUNT_, "1", 1, out, sizeof out, &e),
	    RF_EINVAL);
	assert_string_equal(out, "");
	RF_ASSERT_RC(anon_pseudo_id(p, ANON_ID_PATIENT, "1", 1, out,
				    ANON_ID_SIZE - 1, &e),
		     RF_EINVAL);
	assert_string_equal(out, "");
	anon_pseudo_destroy(p);
}

/* ---- UIDs --------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_uid_random(void **state)
{
	struct anon_pseudo *p;
	uint64_t rng = 0x9e3779b97f4a7c15u;
	char in[128], out[ANON_UID_SIZE];
	size_t shortest = 100, longest = 0;

	(void)state;
	secret_init(test_secret, 0);
	p = pseudo_new(test_secret, 32);
	for (int i = 0; i < 10000; i++) {
		size_t n = (size_t)(xorshift(&rng) % sizeof in), len;

		for (size_t k = 0; k < n; k++)
			in[k] = (char)xorshift(&rng);
		RF_ASSERT_OK(anon_pseudo_uid(p, in, n, out, sizeof out, NULL));
		len = strlen(out);
		assert_true(len <= 44);
		assert_true(anon_uid_is_valid(out, len));
		assert_memory_equal(out, "2.25.", 5);
		shortest = len < shortest ? len : shortest;
		longest = len > longest ? len : longest;
	}
	/* most values have 38 or 39 digits */
	assert_int_equal(longest, 44);
	assert_true(shortest >= 5 + 24);
	anon_pseudo_destroy(p);
}

static void test_uid_syntax(void **state)
{
	static const char *const good[] = {
		"0",
		"1.2",
		"2.25.0",
		"1.2.840.10008.1.2.1",
		"1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23."
		"24.2", /* 64 */
	};
	static const char *const bad[] = {
		"",
		".",
		"1.",
		".1",
		"1..2",
		"01",
		"1.02",
		"1.2a",
		"1.2 ",
		"1.2\\3",
		"1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20."
		"21.22.23.24.25", /* 65 */
		"-1",
	};
	struct anon_pseudo *p;
	char out[ANON_UID_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!anon_uid_is_valid(good[i], strlen(good[i])))
			fail_msg("'%s' should be a valid uid", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (anon_uid_is_valid(bad[i], strlen(bad[i])))
			fail_msg("'%s' should not be a valid uid", bad[i]);
	assert_false(anon_uid_is_valid(NULL, 0));

	secret_init(test_secret, 0);
	p = pseudo_new(test_secret, 32);
	RF_ASSERT_RC(anon_pseudo_uid(p, "1.2", 3, out, 44, NULL), RF_EINVAL);
	assert_string_equal(out, "");
	anon_pseudo_destroy(p);
}

/* ---- keys: creation, failures, zeroization ------------------------------ */

static void test_create_errors(void **state)
{
	uint8_t big[ANON_PSEUDO_SECRET_MAX + 1] = { 0 };
	struct anon_pseudo *p = (struct anon_pseudo *)&p;
	struct rf_err e = { 0 };

	(void)state;
	RF_ASSERT_RC(anon_pseudo_create(big, 31, &p, &e), RF_EINVAL);
	assert_null(p);
	assert_non_null(strstr(e.msg, "31 bytes"));
	RF_ASSERT_RC(anon_pseudo_create(big, sizeof big, &p, &e), RF_EINVAL);
	assert_null(p);
	RF_ASSERT_RC(anon_pseudo_create(NULL, 32, &p, &e), RF_EINVAL);
	RF_ASSERT_OK(anon_pseudo_create(big, sizeof big - 1, &p, &e));
	anon_pseudo_destroy(p);
	anon_pseudo_destroy(NULL);
}

static void test_create_oom(void **state)
{
	struct anon_pseudo *p = NULL;
	enum rf_rc rc;

	(void)state;
	secret_init(test_secret, 0);
	RF_TEST_OOM_LOOP(rc, rc = anon_pseudo_create(test_secret, 32, &p, NULL),
			 anon_pseudo_destroy(p));
}

/* A long identifier takes the heap path. */
static void test_id_oom(void **state)
{
	struct anon_pseudo *p;
	char big[1000], out[ANON_ID_SIZE];
	enum rf_rc rc;

	(void)state;
	memset(big, 'Z', sizeof big);
	secret_init(test_secret, 0);
	p = pseudo_new(test_secret, 32);
	RF_TEST_OOM_LOOP(rc,
			 rc = anon_pseudo_id(p, ANON_ID_PATIENT, big,
					     sizeof big, out, sizeof out, NULL),
			 (void)0);
	assert_int_equal(strlen(out), 17);
	anon_pseudo_destroy(p);
}

/* An allocator that remembers the block it handed out and, when that block
 * comes back, whether all its bytes were zero. */
struct zero_watch {
	void *block;
	size_t size;
	int freed;
	int all_zero;
};

static void *zw_malloc(size_t n, void *ctx)
{
	struct zero_watch *z = ctx;
	void *p = malloc(n);

	if (p && !z->block) {
		z->block = p;
		z->size = n;
	}
	return p;
}

static void *zw_realloc(void *p, size_t n, void *ctx)
{
	(void)ctx;
	return realloc(p, n);
}

static void zw_free(void *p, void *ctx)
{
	struct zero_watch *z = ctx;

	if (p && p == z->block) {
		const uint8_t *b = p;

		z->all_zero = 1;
		for (size_t i = 0; i < z->size; i++)
			if (b[i])
				z->all_zero = 0;
		z->freed = 1;
		z->block = NULL;
	}
	free(p);
}

static void test_destroy_zeroizes(void **state)
{
	struct zero_watch z = { 0 };
	struct rf_alloc_hook h = { zw_malloc, zw_realloc, zw_free, &z };
	struct anon_pseudo *p = NULL;
	int nonzero = 0;

	(void)state;
	secret_init(test_secret, 0);
	rf_alloc_set_hook(&h);
	RF_ASSERT_OK(anon_pseudo_create(test_secret, 32, &p, NULL));
	assert_ptr_equal(z.block, p);
	/* the three keyed HMAC states (rf_hmac), each cleansed by OpenSSL
	 * when destroyed; radfed's own block is zeroized too */
	assert_true(z.size >= 3 * sizeof(void *));
	for (size_t i = 0; i < z.size; i++)
		nonzero += ((const uint8_t *)z.block)[i] != 0;
	assert_true(nonzero > 0);
	anon_pseudo_destroy(p);
	rf_alloc_set_hook(NULL);
	assert_true(z.freed);
	assert_true(z.all_zero);
}

/* ---- dates -------------------------------------------------------------- */

static int ref_leap(int y)
{
	return y % 400 == 0 || (y % 4 == 0 && y % 100 != 0);
}

static int ref_mdays(int y, int m)
{
	static const int md[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return md[m - 1] + (m == 2 && ref_leap(y));
}

/* Walks every day of 0001-01-01 .. 9999-12-31 with a plain counter and
 * checks +1, -1 and the offset from the first day. */
static void test_calendar_walk(void **state)
{
	int y = 1, m = 1, d = 1;
	long k = 0;
	int oy, om, od;

	(void)state;
	assert_false(anon_date_is_valid(1900, 2, 29));
	assert_true(anon_date_is_valid(2000, 2, 29));
	assert_true(anon_date_is_valid(2024, 2, 29));
	assert_false(anon_date_is_valid(2023, 2, 29));
	assert_false(anon_date_is_valid(0, 1, 1));
	assert_false(anon_date_is_valid(10000, 1, 1));
	assert_false(anon_date_is_valid(2024, 4, 31));
	assert_false(anon_date_is_valid(2024, 0, 1));
	assert_false(anon_date_is_valid(2024, 1, 0));
	for (;;) {
		int ny = y, nm = m, nd = d + 1;

		if (nd > ref_mdays(y, m)) {
			nd = 1;
			if (++nm > 12) {
				nm = 1;
				ny++;
			}
		}
		if (k % 997 == 0) {
			RF_ASSERT_OK(anon_date_add_days(1, 1, 1, k, &oy, &om,
							&od, NULL));
			assert_int_equal(oy * 10000 + om * 100 + od,
					 y * 10000 + m * 100 + d);
		}
		if (ny > 9999) {
			RF_ASSERT_RC(
			    anon_date_add_days(y, m, d, 1, &oy, &om, &od, NULL),
			    RF_EINVAL);
			break;
		}
		RF_ASSERT_OK(
		    anon_date_add_days(y, m, d, 1, &oy, &om, &od, NULL));
		if (oy != ny || om != nm || od != nd)
			fail_msg("%04d-%02d-%02d + 1 = %04d-%02d-%02d", y, m, d,
				 oy, om, od);
		RF_ASSERT_OK(
		    anon_date_add_days(ny, nm, nd, -1, &oy, &om, &od, NULL));
		assert_int_equal(oy * 10000 + om * 100 + od,
				 y * 10000 + m * 100 + d);
		y = ny;
		m = nm;
		d = nd;
		k++;
	}
	/* 9999-12-31 is day 3652058 after 0001-01-01 (as date.toordinal) */
	assert_int_equal(k, 3652058);
	RF_ASSERT_RC(anon_date_add_days(1, 1, 1, -1, &oy, &om, &od, NULL),
		     RF_EINVAL);
	RF_ASSERT_RC(
	    anon_date_add_days(2024, 1, 1, 0x7fffffffL, &oy, &om, &od, NULL),
	    RF_EINVAL);
	RF_ASSERT_RC(
	    anon_date_add_days(2024, 1, 1, -0x7fffffffL, &oy, &om, &od, NULL),
	    RF_EINVAL);
	RF_ASSERT_RC(anon_date_add_days(2023, 2, 29, 0, &oy, &om, &od, NULL),
		     RF_EINVAL);
}

static void test_shift_range(void **state)
{
	struct anon_pseudo *p;
	int lo = 0, hi = -10000;
	char id[32];

	(void)state;
	secret_init(test_secret, 0);
	p = pseudo_new(test_secret, 32);
	for (int i = 0; i < 20000; i++) {
		int days;
		int n = snprintf(id, sizeof id, "IPP%08d", i);

		RF_ASSERT_OK(
		    anon_pseudo_day_shift(p, id, (size_t)n, &days, NULL));
		assert_true(days >= -ANON_DAY_SHIFT_MAX && days <= -1);
		lo = days < lo ? days : lo;
		hi = days > hi ? days : hi;
	}
	/* 20000 draws over 3650 values reach both ends (1 - e^-5.5 each) or
	 * come within a few days of them */
	assert_true(lo <= -3640);
	assert_true(hi >= -10);
	anon_pseudo_destroy(p);
}

static void test_value_buffers(void **state)
{
	char out[32];
	struct rf_err e = { 0 };

	(void)state;
	/* too small an output, for each function */
	RF_ASSERT_RC(anon_da_shift("20240101", 8, -1, out, 8, &e), RF_EINVAL);
	assert_string_equal(out, "");
	RF_ASSERT_RC(anon_da_shift("20240101\\20240102", 17, -1, out, 17, &e),
		     RF_EINVAL);
	assert_string_equal(out, "");
	RF_ASSERT_OK(anon_da_shift("20240101\\20240102", 17, -1, out, 18, &e));
	assert_string_equal(out, "20231231\\20240101");
	RF_ASSERT_RC(anon_da_shift("20240101", 8, -1, NULL, 0, &e), RF_EINVAL);
	RF_ASSERT_RC(anon_dt_shift("2024+0100", 9, -1, out, 9, &e), RF_EINVAL);
	RF_ASSERT_RC(anon_as_group("045Y", 4, out, 4, &e), RF_EINVAL);
	RF_ASSERT_OK(anon_da_shift(NULL, 0, -1, out, 1, &e));
	assert_string_equal(out, "");
	RF_ASSERT_OK(anon_tm_check(NULL, 0, &e));
	/* the ACR-NEMA form is shorter once written back */
	RF_ASSERT_OK(anon_da_shift("1999.12.31 ", 11, 1, out, 9, &e));
	assert_string_equal(out, "20000101");
	/* messages say where, never what: a date may identify */
	RF_ASSERT_RC(
	    anon_da_shift("20240101\\19570230", 17, -1, out, sizeof out, &e),
	    RF_EINVAL);
	assert_null(strstr(e.msg, "1957"));
	assert_non_null(strstr(e.msg, "value 2"));
	RF_ASSERT_RC(anon_as_group("1957", 4, out, sizeof out, &e), RF_EINVAL);
	assert_null(strstr(e.msg, "1957"));
	/* a NUL byte inside a value is not padding */
	RF_ASSERT_RC(anon_da_shift("2024\0"
				   "0101",
				   9, -1, out, sizeof out, &e),
		     RF_EINVAL);
	RF_ASSERT_OK(anon_da_shift("20240101\0", 9, -1, out, sizeof out, &e));
	assert_string_equal(out, "20231231");
}

/* Random text from the characters dates are made of: never a crash (run
 * this under ASan), a success always fits in in_len + 1 bytes and is
 * stable, and a failure leaves the empty string. */
static void test_value_noise(void **state)
{
	static const char alphabet[] = "0123456789012345678901234567890123"
				       ".+-\\ :DWMY";
	uint64_t rng = 0x2545f4914f6cdd1du;
	char in[40], out[41], again[41];
	long days;
	int ok[4] = { 0 };

	(void)state;
	for (int i = 0; i < 200000; i++) {
		size_t n = (size_t)(xorshift(&rng) % sizeof in);
		enum rf_rc rc;

		for (size_t k = 0; k < n; k++)
			in[k] =
			    alphabet[xorshift(&rng) % (sizeof alphabet - 1)];
		if (i % 4 < 2 && i % 3) {
			/* a plausible date, the time digits random, maybe
			 * one character changed */
			snprintf(in, sizeof in, "%04d%02d%02d",
				 (int)(xorshift(&rng) % 10000),
				 (int)(xorshift(&rng) % 13),
				 (int)(xorshift(&rng) % 32));
			n = 8 + (i % 4 ? (size_t)(xorshift(&rng) % 14) : 0);
			for (size_t k = 8; k < n; k++)
				in[k] = (char)('0' + xorshift(&rng) % 6);
			if (xorshift(&rng) % 3 == 0)
				in[xorshift(&rng) % n] =
				    alphabet[xorshift(&rng) %
					     (sizeof alphabet - 1)];
		}
		days = (long)(xorshift(&rng) % 8000) - 4000;
		switch (i % 4) {
		case 0:
			rc = anon_da_shift(in, n, days, out, n + 1, NULL);
			break;
		case 1:
			rc = anon_dt_shift(in, n, days, out, n + 1, NULL);
			break;
		case 2:
			rc = anon_tm_check(in, n, NULL);
			out[0] = '\0';
			break;
		default:
			rc = anon_as_group(in, n, out, sizeof out, NULL);
			break;
		}
		assert_true(rc == RF_OK || rc == RF_EINVAL);
		if (rc != RF_OK) {
			assert_string_equal(out, "");
			continue;
		}
		ok[i % 4]++;
		assert_true(strlen(out) <= n);
		if (i % 4 == 0) {
			/* moving back undoes the move */
			RF_ASSERT_OK(anon_da_shift(out, strlen(out), -days,
						   again, sizeof again, NULL));
			RF_ASSERT_OK(
			    anon_da_shift(in, n, 0, out, sizeof out, NULL));
			assert_string_equal(again, out);
		}
	}
	/* valid values of every kind came out of it too */
	for (int k = 0; k < 4; k++)
		if (ok[k] < 1000)
			fail_msg("only %d valid values of kind %d", ok[k], k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reference_fixture),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_id_forms),
		cmocka_unit_test(test_uid_random),
		cmocka_unit_test(test_uid_syntax),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_create_oom),
		cmocka_unit_test(test_id_oom),
		cmocka_unit_test(test_destroy_zeroizes),
		cmocka_unit_test(test_calendar_walk),
		cmocka_unit_test(test_shift_range),
		cmocka_unit_test(test_value_buffers),
		cmocka_unit_test(test_value_noise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
