/* test_hmac.c - keyed HMAC-SHA-256 against RFC 4231's test vectors, against
 * rf_hmac_sha256(), a message in two parts, shared keys across threads, and
 * allocation failures. */
#include "rf_test.h"

#include <pthread.h>

#include "rf_crypto.h"
#include "rf_hmac.h"

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t len = 0;

	RF_ASSERT_OK(rf_hex_decode(hex, strlen(hex), out, n, &len, NULL));
	assert_int_equal(len, n);
}

/* RFC 4231 section 4: test cases 1, 2, 4 and 6 (a key longer than the
 * block), HMAC-SHA-256 column. */
static void test_rfc4231(void **state)
{
	static const struct {
		const char *key, *data, *mac;
	} v[] = {
		{"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
		 "4869205468657265",
		 "b0344c61d8db38535ca8afceaf0bf12b"
		 "881dc200c9833da726e9376c2e32cff7"},
		{"4a656665",
		 "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
		 "5bdcc146bf60754e6a042426089575c7"
		 "5a003f089d2739839dec58b964ec3843"},
		{"0102030405060708090a0b0c0d0e0f10111213141516171819",
		 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
		 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
		 "82558a389a443c0ea4cc819899f2083a"
		 "85f0faa3e578f8077a2e3ff46729665b"},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaa",
		 "54657374205573696e67204c6172676572205468616e20426c6f636b2d"
		 "53697a65204b6579202d2048617368204b6579204669727374",
		 "60e431591ee0b67f0d8a26aacbf5b77f"
		 "8e0bc6213728c5140546040f0ee37f54"},
	};
	uint8_t key[200], data[200], want[32], got[32], ref[32];
	size_t i, kn, dn;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct rf_hmac_key *k = NULL;

		kn = strlen(v[i].key) / 2;
		dn = strlen(v[i].data) / 2;
		unhex(v[i].key, key, kn);
		unhex(v[i].data, data, dn);
		unhex(v[i].mac, want, 32);
		RF_ASSERT_OK(rf_hmac_key_create(key, kn, &k, NULL));
		RF_ASSERT_OK(rf_hmac_key_mac(k, data, dn, NULL, 0, got, NULL));
		assert_memory_equal(got, want, 32);
		/* the key is unchanged by use: the same MAC again */
		memset(got, 0, sizeof got);
		RF_ASSERT_OK(rf_hmac_key_mac(k, data, dn, NULL, 0, got, NULL));
		assert_memory_equal(got, want, 32);
		/* split anywhere: the MAC of the concatenation */
		RF_ASSERT_OK(rf_hmac_key_mac(k, data, dn / 3, data + dn / 3,
					     dn - dn / 3, got, NULL));
		assert_memory_equal(got, want, 32);
		RF_ASSERT_OK(rf_hmac_sha256(key, kn, data, dn, ref, NULL));
		assert_memory_equal(ref, want, 32);
		rf_hmac_key_destroy(k);
	}
}

static void test_empty_and_invalid(void **state)
{
	struct rf_hmac_key *k = NULL;
	uint8_t got[32], ref[32];
	struct rf_err e = {0};

	(void)state;
	/* the empty key and the empty message, as rf_hmac_sha256 */
	RF_ASSERT_OK(rf_hmac_key_create(NULL, 0, &k, NULL));
	RF_ASSERT_OK(rf_hmac_key_mac(k, NULL, 0, NULL, 0, got, NULL));
	RF_ASSERT_OK(rf_hmac_sha256(NULL, 0, NULL, 0, ref, NULL));
	assert_memory_equal(got, ref, 32);
	RF_ASSERT_RC(rf_hmac_key_mac(k, NULL, 3, NULL, 0, got, &e),
		     RF_EINVAL);
	RF_ASSERT_RC(rf_hmac_key_mac(k, "abc", 3, NULL, 1, got, &e),
		     RF_EINVAL);
	RF_ASSERT_RC(rf_hmac_key_mac(NULL, "abc", 3, NULL, 0, got, &e),
		     RF_EINVAL);
	rf_hmac_key_destroy(k);
	k = (struct rf_hmac_key *)1;
	RF_ASSERT_RC(rf_hmac_key_create(NULL, 4, &k, &e), RF_EINVAL);
	assert_null(k);
	rf_hmac_key_destroy(NULL);
}

struct job {
	const struct rf_hmac_key *k;
	int ok;
};

static void *mac_many(void *arg)
{
	struct job *j = arg;
	uint8_t got[32], ref[32];
	char msg[32];
	int i;

	j->ok = 1;
	for (i = 0; i < 500; i++) {
		int n = snprintf(msg, sizeof msg, "1.2.3.%d", i);

		if (rf_hmac_key_mac(j->k, msg, (size_t)n, NULL, 0, got,
				    NULL) ||
		    rf_hmac_sha256("shared", 6, msg, (size_t)n, ref, NULL) ||
		    memcmp(got, ref, 32) != 0)
			j->ok = 0;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct rf_hmac_key *k = NULL;
	struct job jobs[4];
	pthread_t t[4];
	int i;

	(void)state;
	RF_ASSERT_OK(rf_hmac_key_create("shared", 6, &k, NULL));
	for (i = 0; i < 4; i++) {
		jobs[i].k = k;
		assert_int_equal(pthread_create(&t[i], NULL, mac_many,
						&jobs[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_true(jobs[i].ok);
	}
	rf_hmac_key_destroy(k);
}

static void test_oom(void **state)
{
	struct rf_hmac_key *k = NULL;
	enum rf_rc rc;

	(void)state;
	RF_TEST_OOM_LOOP(rc, rc = rf_hmac_key_create("k", 1, &k, NULL),
			 rf_hmac_key_destroy(k));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4231),
		cmocka_unit_test(test_empty_and_invalid),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
