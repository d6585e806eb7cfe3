/* test_crypto_hash.c - SHA-256, hex, HMAC-SHA-256, HKDF-SHA-256, random and
 * constant-time comparison, against the published test vectors. */
#include "rf_test.h"

#include "rf_crypto.h"

/* Decodes a hex literal of the test (aborts the test on a typo). */
static size_t unhex(const char *hex, uint8_t *out, size_t out_size)
{
	size_t n = 0;

	RF_ASSERT_OK(rf_hex_decode(hex, strlen(hex), out, out_size, &n, NULL));
	return n;
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
	char buf[1024];

	assert_true(2 * n + 1 <= sizeof buf);
	RF_ASSERT_OK(rf_hex_encode(got, n, buf, sizeof buf, NULL));
	assert_string_equal(buf, want);
}

/* ---- SHA-256 ------------------------------------------------------------ */

/* FIPS 180-2, appendix B.1 (one-block message "abc"), B.2 (the 448-bit
 * two-block message) and B.3 (one million 'a'). */
#define SHA_ABC                                                                \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_448                                                                \
	"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_MIL                                                                \
	"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
static const char msg448[] =
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

static void test_sha256_oneshot(void **state)
{
	uint8_t d[RF_SHA256_LEN];

	(void)state;
	RF_ASSERT_OK(rf_sha256("abc", 3, d, NULL));
	assert_hex(d, sizeof d, SHA_ABC);
	assert_int_equal(strlen(msg448) * 8, 448);
	RF_ASSERT_OK(rf_sha256(msg448, strlen(msg448), d, NULL));
	assert_hex(d, sizeof d, SHA_448);
	/* FIPS 180-2 does not list the empty message; this is SHA-256("")
	 * as given in NIST's SHAVS SHA256ShortMsg.rsp, Len = 0 */
	RF_ASSERT_OK(rf_sha256(NULL, 0, d, NULL));
	assert_hex(d, sizeof d,
		   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
		   "7852b855");
}

static void test_sha256_incremental(void **state)
{
	struct rf_sha256_ctx h = { 0 };
	uint8_t d[RF_SHA256_LEN];
	char *a = malloc(1000000);
	size_t off = 0, step = 1;

	(void)state;
	assert_non_null(a);
	memset(a, 'a', 1000000);
	RF_ASSERT_OK(rf_sha256_init(&h, NULL));
	/* chunks of 1, 2, 3, ... bytes: none aligned with the 64-byte
	 * block */
	while (off < 1000000) {
		size_t k = 1000000 - off < step ? 1000000 - off : step;

		RF_ASSERT_OK(rf_sha256_update(&h, a + off, k, NULL));
		off += k;
		step++;
	}
	RF_ASSERT_OK(rf_sha256_final(&h, d, NULL));
	assert_hex(d, sizeof d, SHA_MIL);

	/* the context restarts after final */
	RF_ASSERT_OK(rf_sha256_update(&h, "ab", 2, NULL));
	RF_ASSERT_OK(rf_sha256_update(&h, NULL, 0, NULL));
	RF_ASSERT_OK(rf_sha256_update(&h, "c", 1, NULL));
	RF_ASSERT_OK(rf_sha256_final(&h, d, NULL));
	assert_hex(d, sizeof d, SHA_ABC);
	for (size_t i = 0; i < strlen(msg448); i++)
		RF_ASSERT_OK(rf_sha256_update(&h, msg448 + i, 1, NULL));
	RF_ASSERT_OK(rf_sha256_final(&h, d, NULL));
	assert_hex(d, sizeof d, SHA_448);
	rf_sha256_release(&h);
	rf_sha256_release(&h);
	rf_sha256_release(NULL);
	assert_null(h.md);
	free(a);
}

/* ---- hex ---------------------------------------------------------------- */

static void test_hex(void **state)
{
	struct rf_err e = { 0 };
	uint8_t b[4];
	char s[9];
	size_t n = 99;

	(void)state;
	RF_ASSERT_OK(rf_hex_encode("\x00\x9f\xa0\xff", 4, s, sizeof s, &e));
	assert_string_equal(s, "009fa0ff");
	RF_ASSERT_OK(rf_hex_encode("", 0, s, 1, &e));
	assert_string_equal(s, "");
	RF_ASSERT_OK(rf_hex_decode("009FA0ff", 8, b, sizeof b, &n, &e));
	assert_int_equal(n, 4);
	assert_memory_equal(b, "\x00\x9f\xa0\xff", 4);

	/* bad lengths and digits */
	RF_ASSERT_RC(rf_hex_encode("abcd", 4, s, 8, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "needs 9 bytes"));
	RF_ASSERT_RC(rf_hex_decode("abc", 3, b, sizeof b, &n, &e), RF_EINVAL);
	assert_int_equal(n, 0);
	RF_ASSERT_RC(rf_hex_decode("0011223344", 10, b, sizeof b, &n, &e),
		     RF_EINVAL);
	RF_ASSERT_RC(rf_hex_decode("00g1", 4, b, sizeof b, &n, &e), RF_EINVAL);
	assert_string_equal(e.msg, "invalid hex digit at offset 2");
	assert_memory_equal(b, "\0\0\0\0", 4); /* zeroed on failure */
	RF_ASSERT_RC(rf_hex_decode("0 ", 2, b, sizeof b, &n, &e), RF_EINVAL);
}

/* ---- HMAC-SHA-256 ------------------------------------------------------- */

struct hmac_vec {
	const char *key;  /* hex */
	const char *data; /* hex */
	const char *mac;  /* hex, possibly truncated */
};

static char *repeat_hex(const char *byte, size_t n)
{
	char *s = malloc(2 * n + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + 2 * i, byte, 2);
	s[2 * n] = '\0';
	return s;
}

static void check_hmac(const char *key_hex, const char *data_hex,
		       const char *want)
{
	uint8_t key[200], data[200], mac[RF_HMAC_SHA256_LEN];
	size_t kn = unhex(key_hex, key, sizeof key);
	size_t dn = unhex(data_hex, data, sizeof data);

	RF_ASSERT_OK(rf_hmac_sha256(key, kn, data, dn, mac, NULL));
	assert_hex(mac, strlen(want) / 2, want);
}

static void test_hmac_rfc4231(void **state)
{
	char *k20_0b = repeat_hex("0b", 20), *k20_aa = repeat_hex("aa", 20);
	char *d50_dd = repeat_hex("dd", 50), *d50_cd = repeat_hex("cd", 50);
	char *k20_0c = repeat_hex("0c", 20), *k131 = repeat_hex("aa", 131);

	(void)state;
	/* RFC 4231 section 4.2, test case 1: "Hi There" */
	check_hmac(k20_0b, "4869205468657265",
		   "b0344c61d8db38535ca8afceaf0bf12b"
		   "881dc200c9833da726e9376c2e32cff7");
	/* RFC 4231 section 4.3, test case 2: key "Jefe", "what do ya want
	 * for nothing?" */
	check_hmac("4a656665",
		   "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
		   "5bdcc146bf60754e6a042426089575c7"
		   "5a003f089d2739839dec58b964ec3843");
	/* RFC 4231 section 4.4, test case 3: 20 x 0xaa, 50 x 0xdd */
	check_hmac(k20_aa, d50_dd,
		   "773ea91e36800e46854db8ebd09181a7"
		   "2959098b3ef8c122d9635514ced565fe");
	/* RFC 4231 section 4.5, test case 4: key 0x01..0x19, 50 x 0xcd */
	check_hmac("0102030405060708090a0b0c0d0e0f10111213141516171819", d50_cd,
		   "82558a389a443c0ea4cc819899f2083a"
		   "85f0faa3e578f8077a2e3ff46729665b");
	/* RFC 4231 section 4.6, test case 5: "Test With Truncation",
	 * output truncated to 128 bits */
	check_hmac(k20_0c, "546573742057697468205472756e636174696f6e",
		   "a3b6167473100ee06e0c796c2955552b");
	/* RFC 4231 section 4.7, test case 6: 131-byte key, "Test Using
	 * Larger Than Block-Size Key - Hash Key First" */
	check_hmac(k131,
		   "54657374205573696e67204c6172676572205468616e20426c6f63"
		   "6b2d53697a65204b6579202d2048617368204b6579204669727374",
		   "60e431591ee0b67f0d8a26aacbf5b77f"
		   "8e0bc6213728c5140546040f0ee37f54");
	/* RFC 4231 section 4.8, test case 7: 131-byte key, "This is a test
	 * using a larger than block-size key and a larger than block-size
	 * data. The key needs to be hashed before being used by the HMAC
	 * algorithm." */
	check_hmac(k131,
		   "5468697320697320612074657374207573696e672061206c61726765"
		   "72207468616e20626c6f636b2d73697a65206b657920616e64206120"
		   "6c6172676572207468616e20626c6f636b2d73697a6520646174612e"
		   "20546865206b6579206e6565647320746f2062652068617368656420"
		   "6265666f7265206265696e6720757365642062792074686520484d41"
		   "4320616c676f726974686d2e",
		   "9b09ffa71b942fcb27635fbcd5b0e944"
		   "bfdc63644f0713938a7f51535c3a35e2");
	free(k20_0b);
	free(k20_aa);
	free(d50_dd);
	free(d50_cd);
	free(k20_0c);
	free(k131);
}

static void test_hmac_empty_key(void **state)
{
	uint8_t a[RF_HMAC_SHA256_LEN], b[RF_HMAC_SHA256_LEN];

	(void)state;
	/* HMAC pads the key with zeros to the block size, so the empty key
	 * and the key "\0" are the same key (RFC 2104 section 2) */
	RF_ASSERT_OK(rf_hmac_sha256(NULL, 0, "m", 1, a, NULL));
	RF_ASSERT_OK(rf_hmac_sha256("\0", 1, "m", 1, b, NULL));
	assert_memory_equal(a, b, sizeof a);
	RF_ASSERT_RC(rf_hmac_sha256(NULL, 3, "m", 1, a, NULL), RF_EINVAL);
}

/* ---- HKDF-SHA-256 ------------------------------------------------------- */

static void check_hkdf(const char *ikm_hex, const char *salt_hex,
		       const char *info_hex, size_t len, const char *want)
{
	uint8_t ikm[100], salt[100], info[100], okm[100];
	size_t in = unhex(ikm_hex, ikm, sizeof ikm);
	size_t sn = unhex(salt_hex, salt, sizeof salt);
	size_t fn = unhex(info_hex, info, sizeof info);

	assert_int_equal(strlen(want), 2 * len);
	RF_ASSERT_OK(rf_hkdf_sha256(sn ? salt : NULL, sn, ikm, in,
				    fn ? info : NULL, fn, okm, len, NULL));
	assert_hex(okm, len, want);
}

static void hex_range(char *out, unsigned from, unsigned to)
{
	for (unsigned i = from; i <= to; i++)
		snprintf(out + 2 * (i - from), 3, "%02x", i);
}

static void test_hkdf_rfc5869(void **state)
{
	char *ikm22 = repeat_hex("0b", 22);
	char ikm[161], salt[161], info[161];

	(void)state;
	/* RFC 5869 appendix A.1, test case 1 (basic, SHA-256) */
	check_hkdf(ikm22, "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
		   42,
		   "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56"
		   "ecc4c5bf34007208d5b887185865");
	/* RFC 5869 appendix A.2, test case 2 (longer inputs and outputs):
	 * IKM 0x00..0x4f, salt 0x60..0xaf, info 0xb0..0xff, L = 82 */
	hex_range(ikm, 0x00, 0x4f);
	hex_range(salt, 0x60, 0xaf);
	hex_range(info, 0xb0, 0xff);
	check_hkdf(ikm, salt, info, 82,
		   "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c"
		   "19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8"
		   "367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
	/* RFC 5869 appendix A.3, test case 3 (zero-length salt and info) */
	check_hkdf(ikm22, "", "", 42,
		   "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f"
		   "3c738d2d9d201395faa4b61a96c8");
	free(ikm22);
}

static void test_hkdf_lengths(void **state)
{
	static uint8_t out[RF_HKDF_SHA256_MAX + 1];
	struct rf_err e = { 0 };

	(void)state;
	RF_ASSERT_RC(rf_hkdf_sha256(NULL, 0, "k", 1, NULL, 0, out, 0, &e),
		     RF_EINVAL);
	RF_ASSERT_RC(rf_hkdf_sha256(NULL, 0, "k", 1, NULL, 0, out,
				    RF_HKDF_SHA256_MAX + 1, &e),
		     RF_EINVAL);
	assert_string_equal(e.msg,
			    "hkdf-sha-256 output length 8161 not in 1..8160");
	RF_ASSERT_OK(rf_hkdf_sha256(NULL, 0, "k", 1, NULL, 0, out,
				    RF_HKDF_SHA256_MAX, &e));
	/* info: up to RF_HKDF_INFO_MAX bytes */
	RF_ASSERT_OK(rf_hkdf_sha256(NULL, 0, "k", 1, out, RF_HKDF_INFO_MAX,
				    out + 2048, 32, &e));
	RF_ASSERT_RC(rf_hkdf_sha256(NULL, 0, "k", 1, out, RF_HKDF_INFO_MAX + 1,
				    out + 2048, 32, &e),
		     RF_EINVAL);
	assert_true(out[2048] == 0 && out[2048 + 31] == 0);
	RF_ASSERT_OK(rf_hkdf_sha256(NULL, 0, "k", 1, NULL, 0, out,
				    RF_HKDF_SHA256_MAX, &e));
	/* a prefix of a longer output is the shorter output (RFC 5869 2.3) */
	{
		uint8_t short_okm[40];

		RF_ASSERT_OK(rf_hkdf_sha256(NULL, 0, "k", 1, NULL, 0, short_okm,
					    sizeof short_okm, &e));
		assert_memory_equal(short_okm, out, sizeof short_okm);
	}
}

/* ---- random, constant-time comparison ----------------------------------- */

static void test_random_and_ct_equal(void **state)
{
	uint8_t a[64] = { 0 }, b[64] = { 0 }, zero[64] = { 0 };

	(void)state;
	RF_ASSERT_OK(rf_random_bytes(a, sizeof a, NULL));
	RF_ASSERT_OK(rf_random_bytes(b, sizeof b, NULL));
	/* 2^-512 chance of a false failure */
	assert_false(rf_ct_equal(a, b, sizeof a));
	assert_false(rf_ct_equal(a, zero, sizeof a));
	memcpy(b, a, sizeof a);
	assert_true(rf_ct_equal(a, b, sizeof a));
	b[63] ^= 1;
	assert_false(rf_ct_equal(a, b, sizeof a));
	assert_true(rf_ct_equal(a, b, 63));
	assert_true(rf_ct_equal(a, b, 0));
	RF_ASSERT_OK(rf_random_bytes(NULL, 0, NULL));
	RF_ASSERT_RC(rf_random_bytes(NULL, 1, NULL), RF_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_oneshot),
		cmocka_unit_test(test_sha256_incremental),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_hmac_empty_key),
		cmocka_unit_test(test_hkdf_rfc5869),
		cmocka_unit_test(test_hkdf_lengths),
		cmocka_unit_test(test_random_and_ct_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
