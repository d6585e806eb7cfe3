/* test_crypto_cipher.c - AES-256-GCM, AES-256-CTR and the secure-aggregation
 * PRG, against the published test vectors. */
#include "rf_test.h"

#include <openssl/err.h>

#include "rf_crypto.h"

static size_t unhex(const char *hex, uint8_t *out, size_t out_size)
{
	size_t n = 0;

	RF_ASSERT_OK(rf_hex_decode(hex, strlen(hex), out, out_size, &n, NULL));
	return n;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* ---- AES-256-GCM -------------------------------------------------------- */

struct gcm_vec {
	const char *key, *iv, *pt, *aad, *ct, *tag;
};

#define GCM_K                                                                  \
	"feffe9928665731c6d6a8f9467308308"                                     \
	"feffe9928665731c6d6a8f9467308308"
#define GCM_P60                                                                \
	"d9313225f88406e5a55909c5aff5269a"                                     \
	"86a7a9531534f7da2e4c303d8a318a72"                                     \
	"1c3c0c95956809532fcf0e2449a6b525"                                     \
	"b16aedf5aa0de657ba637b39"
#define GCM_C60                                                                \
	"522dc1f099567d07f47f37a32a84427d"                                     \
	"643a8cdcbfe5c0c97598a2bd2555d1aa"                                     \
	"8cb08e48590dbb3da7b08b1056828838"                                     \
	"c5f61e6393ba7a0abcc9f662"

/* McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", revised
 * 2005 submission to NIST, appendix B, test cases 13 to 16 (the AES-256
 * ones). */
static const struct gcm_vec gcm_vecs[] = {
	/* test case 13: zero key and IV, empty plaintext */
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "", "", "",
	  "530f8afbc74536b9a963b4f1c4cb738b" },
	/* test case 14: zero key and IV, one zero block */
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "00000000000000000000000000000000", "",
	  "cea7403d4d606b6e074ec5d3baf39d18",
	  "d0d1c8a799996bf0265b98b5d48ab919" },
	/* test case 15: 64-byte plaintext, no AAD */
	{ GCM_K, "cafebabefacedbaddecaf888", GCM_P60 "1aafd255", "",
	  GCM_C60 "898015ad", "b094dac5d93471bdec1a502270e3cc6c" },
	/* test case 16: 60-byte plaintext, 20-byte AAD */
	{ GCM_K, "cafebabefacedbaddecaf888", GCM_P60,
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2", GCM_C60,
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
};

static void test_gcm_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof gcm_vecs / sizeof gcm_vecs[0]; i++) {
		const struct gcm_vec *v = &gcm_vecs[i];
		uint8_t key[32], iv[12], pt[64], aad[20], ct[64], tag[16];
		uint8_t got[64], gtag[16], back[64];
		size_t pn, an;

		assert_int_equal(unhex(v->key, key, sizeof key), 32);
		assert_int_equal(unhex(v->iv, iv, sizeof iv), 12);
		pn = unhex(v->pt, pt, sizeof pt);
		an = unhex(v->aad, aad, sizeof aad);
		assert_int_equal(unhex(v->ct, ct, sizeof ct), pn);
		assert_int_equal(unhex(v->tag, tag, sizeof tag), 16);

		RF_ASSERT_OK(rf_aes256gcm_seal(key, iv, an ? aad : NULL, an, pt,
					       pn, got, gtag, NULL));
		assert_memory_equal(got, ct, pn);
		assert_memory_equal(gtag, tag, 16);
		RF_ASSERT_OK(rf_aes256gcm_open(key, iv, an ? aad : NULL, an, ct,
					       pn, tag, back, NULL));
		assert_memory_equal(back, pt, pn);

		/* in place, both ways */
		memcpy(got, pt, pn);
		RF_ASSERT_OK(rf_aes256gcm_seal(key, iv, aad, an, got, pn, got,
					       gtag, NULL));
		assert_memory_equal(got, ct, pn);
		RF_ASSERT_OK(rf_aes256gcm_open(key, iv, aad, an, got, pn, gtag,
					       got, NULL));
		assert_memory_equal(got, pt, pn);
	}
}

/* test case 16 with one bit changed in the ciphertext, the tag, the AAD,
 * the nonce or the key: every one fails, and leaves zeros, not plaintext */
static void test_gcm_tamper(void **state)
{
	const struct gcm_vec *v = &gcm_vecs[3];
	uint8_t key[32], iv[12], aad[20], ct[60], tag[16], pt[60];
	struct rf_err e = { 0 };

	(void)state;
	unhex(v->key, key, sizeof key);
	unhex(v->iv, iv, sizeof iv);
	unhex(v->aad, aad, sizeof aad);
	unhex(v->ct, ct, sizeof ct);
	unhex(v->tag, tag, sizeof tag);

	for (int what = 0; what < 5; what++) {
		uint8_t *p = what == 0   ? ct + 30
			     : what == 1 ? tag + 15
			     : what == 2 ? aad
			     : what == 3 ? iv + 11
					 : key + 7;

		*p ^= 0x01;
		memset(pt, 0xa5, sizeof pt);
		RF_ASSERT_RC(rf_aes256gcm_open(key, iv, aad, sizeof aad, ct,
					       sizeof ct, tag, pt, &e),
			     RF_ECRYPTO);
		assert_true(all_zero(pt, sizeof pt));
		assert_non_null(strstr(e.msg, "authentication failed"));
		assert_int_equal(ERR_peek_error(), 0);
		*p ^= 0x01;
	}
	/* a missing or truncated AAD fails too */
	RF_ASSERT_RC(
	    rf_aes256gcm_open(key, iv, NULL, 0, ct, sizeof ct, tag, pt, &e),
	    RF_ECRYPTO);
	RF_ASSERT_RC(
	    rf_aes256gcm_open(key, iv, aad, 19, ct, sizeof ct, tag, pt, &e),
	    RF_ECRYPTO);
	/* a truncated ciphertext fails */
	RF_ASSERT_RC(
	    rf_aes256gcm_open(key, iv, aad, sizeof aad, ct, 59, tag, pt, &e),
	    RF_ECRYPTO);
	/* and the untouched message still opens */
	RF_ASSERT_OK(rf_aes256gcm_open(key, iv, aad, sizeof aad, ct, sizeof ct,
				       tag, pt, &e));
	/* NULL data with a length is an argument error */
	RF_ASSERT_RC(
	    rf_aes256gcm_open(key, iv, NULL, 3, ct, sizeof ct, tag, pt, &e),
	    RF_EINVAL);
}

/* ---- AES-256-CTR -------------------------------------------------------- */

/* NIST SP 800-38A (2001), appendix F.5.5, CTR-AES256.Encrypt, and F.5.6,
 * CTR-AES256.Decrypt (the same four blocks the other way). */
static const char ctr_key[] =
    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
static const char ctr_iv[] = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
static const char ctr_pt[] = "6bc1bee22e409f96e93d7e117393172a"
			     "ae2d8a571e03ac9c9eb76fac45af8e51"
			     "30c81c46a35ce411e5fbc1191a0a52ef"
			     "f69f2445df4f9b17ad2b417be66c3710";
static const char ctr_ct[] = "601ec313775789a5b7a7f504bbf3d228"
			     "f443e3ca4d62b59aca84e990cacaf5c5"
			     "2b0930daa23de94ce87017ba2d84988d"
			     "dfc9c58db67aada613c2dd08457941a6";

static void test_ctr_sp800_38a(void **state)
{
	uint8_t key[32], iv[16], pt[64], ct[64], got[64];

	(void)state;
	unhex(ctr_key, key, sizeof key);
	unhex(ctr_iv, iv, sizeof iv);
	assert_int_equal(unhex(ctr_pt, pt, sizeof pt), 64);
	assert_int_equal(unhex(ctr_ct, ct, sizeof ct), 64);
	RF_ASSERT_OK(rf_aes256ctr_xor(key, iv, pt, got, 64, NULL));
	assert_memory_equal(got, ct, 64);
	RF_ASSERT_OK(rf_aes256ctr_xor(key, iv, ct, got, 64, NULL));
	assert_memory_equal(got, pt, 64);
	/* in place; and a prefix of the stream for a partial block */
	memcpy(got, pt, 64);
	RF_ASSERT_OK(rf_aes256ctr_xor(key, iv, got, got, 64, NULL));
	assert_memory_equal(got, ct, 64);
	RF_ASSERT_OK(rf_aes256ctr_xor(key, iv, pt, got, 23, NULL));
	assert_memory_equal(got, ct, 23);
	RF_ASSERT_OK(rf_aes256ctr_xor(key, iv, NULL, NULL, 0, NULL));
	RF_ASSERT_RC(rf_aes256ctr_xor(key, iv, NULL, got, 1, NULL), RF_EINVAL);
}

/* ---- PRG ---------------------------------------------------------------- */

/* Independent reference: PyCA cryptography (python3-cryptography 48), AES
 * in CTR mode with a zero 16-byte nonce, encrypting zero bytes:
 *   from cryptography.hazmat.primitives.ciphers import (
 *       Cipher, algorithms, modes)
 *   ks = lambda k, n: Cipher(algorithms.AES(k), modes.CTR(bytes(16))) \
 *       .encryptor().update(bytes(n))
 *   ks(bytes(32), 32).hex(); ks(bytes(range(32)), 48).hex()
 * The first block of the first line is AES-256 of a zero block under a
 * zero key, and its second block is the tag of GCM test case 13
 * (E(K, 0^96 || 1)), both independently published. */
static const char prg_zero_seed[] = "dc95c078a2408989ad48a21492842087"
				    "530f8afbc74536b9a963b4f1c4cb738b";
static const char prg_seed_0_31[] = "f29000b62a499fd0a9f39a6add2e7780"
				    "f05d76ae4ab99fe5a6f69b3148c2363d"
				    "0ebcb5deb52c83bd08a8a935182c9199";

static void test_prg_reference(void **state)
{
	uint8_t seed[32], want[48], got[48];
	uint32_t w[4];
	struct rf_prg *g = NULL;

	(void)state;
	memset(seed, 0, sizeof seed);
	unhex(prg_zero_seed, want, sizeof want);
	RF_ASSERT_OK(rf_prg_create(seed, &g, NULL));
	RF_ASSERT_OK(rf_prg_read(g, got, 32, NULL));
	assert_memory_equal(got, want, 32);
	rf_prg_destroy(g);

	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	unhex(prg_seed_0_31, want, sizeof want);
	RF_ASSERT_OK(rf_prg_create(seed, &g, NULL));
	RF_ASSERT_OK(rf_prg_read(g, got, 48, NULL));
	assert_memory_equal(got, want, 48);
	rf_prg_destroy(g);

	/* uint32 masks are the same bytes read little-endian */
	RF_ASSERT_OK(rf_prg_create(seed, &g, NULL));
	RF_ASSERT_OK(rf_prg_u32(g, w, 4, NULL));
	assert_int_equal(w[0], 0xb60090f2u);
	assert_int_equal(w[1], 0xd09f492au);
	assert_int_equal(w[2], 0x6a9af3a9u);
	assert_int_equal(w[3], 0x80772eddu);
	rf_prg_destroy(g);
	rf_prg_destroy(NULL);
}

/* PRG(seed) == AES-256-CTR(seed, IV 0) of zeros, however it is drawn */
static void test_prg_chunking(void **state)
{
	const size_t n = (1 << 20) + 13;
	uint8_t seed[32], iv[16] = { 0 };
	uint8_t *ref = calloc(n, 1), *one = malloc(n), *many = malloc(n);
	uint32_t *words = malloc(n);
	struct rf_prg *g = NULL;
	size_t off = 0, step = 1;

	(void)state;
	assert_non_null(ref);
	assert_non_null(one);
	assert_non_null(many);
	assert_non_null(words);
	RF_ASSERT_OK(rf_random_bytes(seed, sizeof seed, NULL));
	RF_ASSERT_OK(rf_aes256ctr_xor(seed, iv, ref, ref, n, NULL));

	RF_ASSERT_OK(rf_prg_create(seed, &g, NULL));
	RF_ASSERT_OK(rf_prg_read(g, one, n, NULL));
	rf_prg_destroy(g);
	assert_memory_equal(one, ref, n);

	/* odd-sized reads: 1, 3, 5, ... bytes, crossing block borders */
	RF_ASSERT_OK(rf_prg_create(seed, &g, NULL));
	while (off < n) {
		size_t k = n - off < step ? n - off : step;

		RF_ASSERT_OK(rf_prg_read(g, many + off, k, NULL));
		off += k;
		step += 2;
	}
	rf_prg_destroy(g);
	assert_memory_equal(many, ref, n);

	/* u32 reads continue the same stream after an odd byte count */
	RF_ASSERT_OK(rf_prg_create(seed, &g, NULL));
	RF_ASSERT_OK(rf_prg_read(g, many, 5, NULL));
	RF_ASSERT_OK(rf_prg_u32(g, words, 1000, NULL));
	for (size_t i = 0; i < 1000; i++) {
		const uint8_t *q = ref + 5 + 4 * i;
		uint32_t want = (uint32_t)q[0] | (uint32_t)q[1] << 8 |
				(uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;

		assert_int_equal(words[i], want);
	}
	RF_ASSERT_RC(rf_prg_u32(g, words, SIZE_MAX / 2, NULL), RF_EINVAL);
	rf_prg_destroy(g);

	/* another seed, another stream */
	seed[0] ^= 1;
	RF_ASSERT_OK(rf_prg_create(seed, &g, NULL));
	RF_ASSERT_OK(rf_prg_read(g, one, 64, NULL));
	rf_prg_destroy(g);
	assert_memory_not_equal(one, ref, 64);
	free(ref);
	free(one);
	free(many);
	free(words);
}

/* rf_prg_create allocates through rf_malloc: every failure is RF_ENOMEM and
 * leaks nothing */
static void test_prg_oom(void **state)
{
	uint8_t seed[32] = { 1 }, out[16];
	struct rf_prg *g = NULL;
	enum rf_rc rc;

	(void)state;
	RF_TEST_OOM_LOOP(rc, rc = rf_prg_create(seed, &g, NULL),
			 rf_prg_destroy(g));
	RF_ASSERT_OK(rf_prg_create(seed, &g, NULL));
	RF_ASSERT_OK(rf_prg_read(g, out, sizeof out, NULL));
	rf_prg_destroy(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcm_vectors),
		cmocka_unit_test(test_gcm_tamper),
		cmocka_unit_test(test_ctr_sp800_38a),
		cmocka_unit_test(test_prg_reference),
		cmocka_unit_test(test_prg_chunking),
		cmocka_unit_test(test_prg_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
