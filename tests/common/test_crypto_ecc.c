/* test_crypto_ecc.c - X25519 and Ed25519 against RFC 7748 and RFC 8032, raw
 * and PEM key import/export, and the failure paths. */
#include "rf_test.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "rf_crypto.h"

static size_t unhex(const char *hex, uint8_t *out, size_t out_size)
{
	size_t n = 0;

	RF_ASSERT_OK(rf_hex_decode(hex, strlen(hex), out, out_size, &n, NULL));
	return n;
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
	char buf[300];

	RF_ASSERT_OK(rf_hex_encode(got, n, buf, sizeof buf, NULL));
	assert_string_equal(buf, want);
}

/* X25519(k, u) through the public API: import k as a private scalar and u
 * as a peer public key. */
static enum rf_rc x25519(const uint8_t k[32], const uint8_t u[32],
			 uint8_t out[32], struct rf_err *e)
{
	struct rf_key *kk = NULL, *uk = NULL;
	enum rf_rc rc;

	rc = rf_key_from_raw_private(RF_KEY_X25519, k, 32, &kk, e);
	if (!rc)
		rc = rf_key_from_raw_public(RF_KEY_X25519, u, 32, &uk, e);
	if (!rc)
		rc = rf_x25519_derive(kk, uk, out, e);
	rf_key_destroy(kk);
	rf_key_destroy(uk);
	return rc;
}

/* ---- X25519 ------------------------------------------------------------- */

static void check_x25519(const char *k_hex, const char *u_hex, const char *want)
{
	uint8_t k[32], u[32], out[32];

	unhex(k_hex, k, sizeof k);
	unhex(u_hex, u, sizeof u);
	RF_ASSERT_OK(x25519(k, u, out, NULL));
	assert_hex(out, 32, want);
}

static void test_x25519_rfc7748_5_2(void **state)
{
	(void)state;
	/* RFC 7748 section 5.2, first X25519 test vector */
	check_x25519("a546e36bf0527c9d3b16154b82465edd"
		     "62144c0ac1fc5a18506a2244ba449ac4",
		     "e6db6867583030db3594c1a424b15f7c"
		     "726624ec26b3353b10a903a6d0ab1c4c",
		     "c3da55379de9c6908e94ea4df28d084f"
		     "32eccf03491c71f754b4075577a28552");
	/* RFC 7748 section 5.2, second X25519 test vector (u has its top
	 * bit set, which must be ignored) */
	check_x25519("4b66e9d4d1b4673c5ad22691957d6af5"
		     "c11b6421e0ea01d42ca4169e7918ba0d",
		     "e5210f12786811d3f4b7959d0538ae2c"
		     "31dbe7106fc03c3efc4cd549c715a493",
		     "95cbde9476e8907d7aade45cb4b873f8"
		     "8b595a68799fa152e6f8f7647aac7957");
}

/* RFC 7748 section 5.2, the iterated test: k = u = 9, then
 * k, u = X25519(k, u), k; the RFC gives k after 1, 1,000 and 1,000,000
 * iterations. The last takes minutes of CPU, so it runs only when the
 * environment sets RF_TEST_SLOW=1. */
static void test_x25519_rfc7748_iterated(void **state)
{
	const char *slow = getenv("RF_TEST_SLOW");
	int last = slow && strcmp(slow, "1") == 0 ? 1000000 : 1000;
	uint8_t k[32] = { 9 }, u[32] = { 9 }, r[32];

	(void)state;
	for (int i = 1; i <= last; i++) {
		RF_ASSERT_OK(x25519(k, u, r, NULL));
		memcpy(u, k, 32);
		memcpy(k, r, 32);
		if (i == 1)
			assert_hex(k, 32,
				   "422c8e7a6227d7bca1350b3e2bb7279f"
				   "7897b87bb6854b783c60e80311ae3079");
		if (i == 1000)
			assert_hex(k, 32,
				   "684cf59ba83309552800ef566f2f4d3c"
				   "1c3887c49360e3875f2eb94d99532c51");
	}
	if (last == 1000000)
		assert_hex(k, 32,
			   "7c3911e0ab2586fd864497297e575e6f"
			   "3bc601c0883c30df5f4dd2d24f665424");
}

/* RFC 7748 section 6.1: Alice and Bob */
static void test_x25519_rfc7748_6_1(void **state)
{
	static const char a_priv[] = "77076d0a7318a57d3c16c17251b26645"
				     "df4c2f87ebc0992ab177fba51db92c2a";
	static const char a_pub[] = "8520f0098930a754748b7ddcb43ef75a"
				    "0dbf3a0d26381af4eba4a98eaa9b4e6a";
	static const char b_priv[] = "5dab087e624a8a4b79e17f8b83800ee6"
				     "6f3bb1292618b6fd1c2f8b27ff88e0eb";
	static const char b_pub[] = "de9edb7d7b7dc1b4d35b61c2ece43537"
				    "3f8343c85b78674dadfc7e146f882b4f";
	static const char shared[] = "4a5d9d5ba4ce2de1728e3bf480350f25"
				     "e07e21c947d19e3376f09b3c1e161742";
	uint8_t raw[32], pub[32], s1[32], s2[32];
	struct rf_key *a = NULL, *b = NULL, *apub = NULL, *bpub = NULL;

	(void)state;
	unhex(a_priv, raw, sizeof raw);
	RF_ASSERT_OK(rf_key_from_raw_private(RF_KEY_X25519, raw, 32, &a, NULL));
	unhex(b_priv, raw, sizeof raw);
	RF_ASSERT_OK(rf_key_from_raw_private(RF_KEY_X25519, raw, 32, &b, NULL));
	assert_int_equal(rf_key_type(a), RF_KEY_X25519);
	assert_true(rf_key_has_private(a));

	/* public keys computed from the private ones */
	RF_ASSERT_OK(rf_key_raw_public(a, pub, sizeof pub, NULL));
	assert_hex(pub, 32, a_pub);
	RF_ASSERT_OK(rf_key_raw_public(b, pub, sizeof pub, NULL));
	assert_hex(pub, 32, b_pub);
	/* the private key exports as imported */
	RF_ASSERT_OK(rf_key_raw_private(b, raw, sizeof raw, NULL));
	assert_hex(raw, 32, b_priv);
	rf_zeroize(raw, sizeof raw);

	/* each side with the other's public key only */
	unhex(a_pub, pub, sizeof pub);
	RF_ASSERT_OK(
	    rf_key_from_raw_public(RF_KEY_X25519, pub, 32, &apub, NULL));
	unhex(b_pub, pub, sizeof pub);
	RF_ASSERT_OK(
	    rf_key_from_raw_public(RF_KEY_X25519, pub, 32, &bpub, NULL));
	assert_false(rf_key_has_private(apub));
	RF_ASSERT_OK(rf_x25519_derive(a, bpub, s1, NULL));
	RF_ASSERT_OK(rf_x25519_derive(b, apub, s2, NULL));
	assert_hex(s1, 32, shared);
	assert_hex(s2, 32, shared);

	/* a public-only key cannot derive, nor export a private key */
	RF_ASSERT_RC(rf_x25519_derive(apub, bpub, s1, NULL), RF_EINVAL);
	assert_true(s1[0] == 0 && s1[31] == 0);
	RF_ASSERT_RC(rf_key_raw_private(apub, raw, sizeof raw, NULL),
		     RF_EINVAL);
	rf_key_destroy(a);
	rf_key_destroy(b);
	rf_key_destroy(apub);
	rf_key_destroy(bpub);
}

static void test_x25519_rejects(void **state)
{
	uint8_t k[32], u[32] = { 0 }, out[32], big[33] = { 0 };
	struct rf_key *key = NULL, *ed = NULL, *peer = NULL;
	struct rf_err e = { 0 };

	(void)state;
	RF_ASSERT_OK(rf_key_generate(RF_KEY_X25519, &key, NULL));
	RF_ASSERT_OK(rf_key_raw_private(key, k, sizeof k, NULL));
	rf_key_destroy(key);
	key = NULL;

	/* low-order points give an all-zero secret: u = 0 and u = 1
	 * (RFC 7748 section 6.1: "check ... is not all-zero") */
	RF_ASSERT_RC(x25519(k, u, out, &e), RF_ECRYPTO);
	assert_memory_equal(out, (uint8_t[32]){ 0 }, 32);
	u[0] = 1;
	RF_ASSERT_RC(x25519(k, u, out, &e), RF_ECRYPTO);
	assert_non_null(strstr(e.msg, "x25519"));
	assert_int_equal(ERR_peek_error(), 0);

	/* bad lengths and types */
	RF_ASSERT_RC(rf_key_from_raw_private(RF_KEY_X25519, big, 33, &key, &e),
		     RF_EINVAL);
	assert_null(key);
	assert_string_equal(e.msg, "raw x25519 key must be 32 bytes, not 33");
	RF_ASSERT_RC(rf_key_from_raw_public(RF_KEY_X25519, big, 31, &key, &e),
		     RF_EINVAL);
	RF_ASSERT_RC(rf_key_from_raw_private(RF_KEY_P256, big, 32, &key, &e),
		     RF_EINVAL);
	RF_ASSERT_OK(rf_key_from_raw_private(RF_KEY_X25519, k, 32, &key, &e));
	RF_ASSERT_RC(rf_key_raw_public(key, out, 31, &e), RF_EINVAL);
	RF_ASSERT_OK(rf_key_generate(RF_KEY_ED25519, &ed, &e));
	RF_ASSERT_RC(rf_x25519_derive(key, ed, out, &e), RF_EINVAL);
	RF_ASSERT_RC(rf_ed25519_sign(key, "m", 1, (uint8_t[64]){ 0 }, &e),
		     RF_EINVAL);
	RF_ASSERT_RC(rf_key_generate((enum rf_key_type)99, &peer, &e),
		     RF_EINVAL);
	assert_null(peer);
	rf_key_destroy(key);
	rf_key_destroy(ed);
	rf_key_destroy(NULL);
	rf_zeroize(k, sizeof k);
}

static void test_x25519_generated(void **state)
{
	struct rf_key *a = NULL, *b = NULL, *ap = NULL;
	uint8_t pub[32], s1[32], s2[32];

	(void)state;
	RF_ASSERT_OK(rf_key_generate(RF_KEY_X25519, &a, NULL));
	RF_ASSERT_OK(rf_key_generate(RF_KEY_X25519, &b, NULL));
	RF_ASSERT_OK(rf_key_raw_public(a, pub, sizeof pub, NULL));
	RF_ASSERT_OK(rf_key_from_raw_public(RF_KEY_X25519, pub, 32, &ap, NULL));
	RF_ASSERT_OK(rf_x25519_derive(b, ap, s1, NULL));
	RF_ASSERT_OK(rf_key_raw_public(b, pub, sizeof pub, NULL));
	rf_key_destroy(ap);
	RF_ASSERT_OK(rf_key_from_raw_public(RF_KEY_X25519, pub, 32, &ap, NULL));
	RF_ASSERT_OK(rf_x25519_derive(a, ap, s2, NULL));
	assert_memory_equal(s1, s2, 32);
	rf_key_destroy(a);
	rf_key_destroy(b);
	rf_key_destroy(ap);
}

/* ---- Ed25519 ------------------------------------------------------------ */

struct ed_vec {
	const char *name, *seed, *pub, *msg, *sig;
};

/* RFC 8032 section 7.1, test vectors for Ed25519: TEST 1 (empty message),
 * TEST 2 (one byte), TEST 3 (two bytes) and TEST SHA(abc) (the 64-byte
 * SHA-512 of "abc" as the message). */
static const struct ed_vec ed_vecs[] = {
	{ "TEST 1",
	  "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
	  "",
	  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
	{ "TEST 2",
	  "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
	  "72",
	  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
	  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
	{ "TEST 3",
	  "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
	  "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
	  "af82",
	  "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
	  "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
	{ "TEST SHA(abc)",
	  "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
	  "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
	  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
	  "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
	  "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704" },
};

static void test_ed25519_rfc8032(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof ed_vecs / sizeof ed_vecs[0]; i++) {
		const struct ed_vec *v = &ed_vecs[i];
		uint8_t seed[32], pub[32], msg[65], sig[64], got[64];
		struct rf_key *k = NULL, *pk = NULL;
		struct rf_err e = { 0 };
		size_t n;

		print_message("%s\n", v->name);
		unhex(v->seed, seed, sizeof seed);
		unhex(v->pub, pub, sizeof pub);
		n = unhex(v->msg, msg, sizeof msg);
		unhex(v->sig, sig, sizeof sig);

		RF_ASSERT_OK(rf_key_from_raw_private(RF_KEY_ED25519, seed, 32,
						     &k, NULL));
		RF_ASSERT_OK(rf_key_raw_public(k, got, sizeof got, NULL));
		assert_memory_equal(got, pub, 32);
		RF_ASSERT_OK(rf_key_raw_private(k, got, sizeof got, NULL));
		assert_memory_equal(got, seed, 32);
		RF_ASSERT_OK(rf_ed25519_sign(k, n ? msg : NULL, n, got, NULL));
		assert_memory_equal(got, sig, 64);

		/* verification with the public key alone */
		RF_ASSERT_OK(
		    rf_key_from_raw_public(RF_KEY_ED25519, pub, 32, &pk, NULL));
		RF_ASSERT_OK(
		    rf_ed25519_verify(pk, n ? msg : NULL, n, sig, NULL));
		RF_ASSERT_OK(rf_ed25519_verify(k, msg, n, sig, NULL));
		/* a modified signature fails: a bit of R, a bit of S */
		sig[0] ^= 0x01;
		RF_ASSERT_RC(rf_ed25519_verify(pk, msg, n, sig, &e),
			     RF_ECRYPTO);
		assert_non_null(strstr(e.msg, "does not verify"));
		assert_int_equal(ERR_peek_error(), 0);
		sig[0] ^= 0x01;
		sig[40] ^= 0x80;
		RF_ASSERT_RC(rf_ed25519_verify(pk, msg, n, sig, &e),
			     RF_ECRYPTO);
		sig[40] ^= 0x80;
		/* a modified message fails: a changed byte, one byte more */
		if (n) {
			msg[n - 1] ^= 0x01;
			RF_ASSERT_RC(rf_ed25519_verify(pk, msg, n, sig, &e),
				     RF_ECRYPTO);
			msg[n - 1] ^= 0x01;
		}
		msg[n] = 0;
		RF_ASSERT_RC(rf_ed25519_verify(pk, msg, n + 1, sig, &e),
			     RF_ECRYPTO);
		/* a public key cannot sign */
		RF_ASSERT_RC(rf_ed25519_sign(pk, msg, n, got, &e), RF_EINVAL);
		rf_key_destroy(k);
		rf_key_destroy(pk);
	}
}

/* ---- PEM files ---------------------------------------------------------- */

static void path_in(char *out, size_t size, const char *dir, const char *f)
{
	assert_true((size_t)snprintf(out, size, "%s/%s", dir, f) < size);
}

static void test_pem_files(void **state)
{
	const char *dir = rf_test_tmpdir("crypto_pem");
	char priv_path[600], pub_path[600], bad_path[600];
	uint8_t seed[32], pub[32], sig[64], sig2[64];
	struct rf_key *k = NULL, *k2 = NULL, *pk = NULL;
	struct rf_err e = { 0 };
	struct stat st;
	FILE *f;

	(void)state;
	path_in(priv_path, sizeof priv_path, dir, "node.key");
	path_in(pub_path, sizeof pub_path, dir, "node.pub");
	path_in(bad_path, sizeof bad_path, dir, "bad.pem");

	unhex(ed_vecs[2].seed, seed, sizeof seed);
	RF_ASSERT_OK(
	    rf_key_from_raw_private(RF_KEY_ED25519, seed, 32, &k, NULL));
	RF_ASSERT_OK(rf_key_save_private_pem(k, priv_path, &e));
	RF_ASSERT_OK(rf_key_save_public_pem(k, pub_path, &e));
	assert_int_equal(stat(priv_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(pub_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);

	/* the private key comes back: same seed, same signature */
	RF_ASSERT_OK(rf_key_load_private_pem(priv_path, &k2, &e));
	assert_int_equal(rf_key_type(k2), RF_KEY_ED25519);
	assert_true(rf_key_has_private(k2));
	RF_ASSERT_OK(rf_key_raw_private(k2, pub, sizeof pub, NULL));
	assert_memory_equal(pub, seed, 32);
	RF_ASSERT_OK(rf_ed25519_sign(k, "radfed", 6, sig, NULL));
	RF_ASSERT_OK(rf_ed25519_sign(k2, "radfed", 6, sig2, NULL));
	assert_memory_equal(sig, sig2, 64);

	/* the public key verifies it */
	RF_ASSERT_OK(rf_key_load_public_pem(pub_path, &pk, &e));
	assert_false(rf_key_has_private(pk));
	RF_ASSERT_OK(rf_key_raw_public(pk, pub, sizeof pub, NULL));
	assert_hex(pub, 32, ed_vecs[2].pub);
	RF_ASSERT_OK(rf_ed25519_verify(pk, "radfed", 6, sig, NULL));
	RF_ASSERT_RC(rf_key_save_private_pem(pk, bad_path, &e), RF_EINVAL);
	rf_key_destroy(k2);
	k2 = NULL;

	/* overwriting is atomic and leaves no temporary file behind */
	RF_ASSERT_OK(rf_key_save_private_pem(k, priv_path, &e));
	{
		char cmd[700];

		snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 2",
			 dir);
		assert_int_equal(system(cmd), 0);
	}

	/* a public key file is not a private key, and garbage is no key */
	RF_ASSERT_RC(rf_key_load_private_pem(pub_path, &k2, &e), RF_ECRYPTO);
	assert_null(k2);
	/* "no private key in '.../node.pub': <OpenSSL's reason>" */
	assert_non_null(strstr(e.msg, "no private key in '"));
	assert_non_null(strstr(e.msg, "node.pub': "));
	assert_true(strlen(strstr(e.msg, "node.pub': ")) > 11);
	assert_int_equal(ERR_peek_error(), 0);
	f = fopen(bad_path, "w");
	assert_non_null(f);
	fputs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	      f);
	fclose(f);
	RF_ASSERT_RC(rf_key_load_private_pem(bad_path, &k2, &e), RF_ECRYPTO);
	RF_ASSERT_RC(rf_key_load_public_pem(bad_path, &k2, &e), RF_ECRYPTO);
	/* a missing file, or one in a missing directory */
	path_in(bad_path, sizeof bad_path, dir, "none.pem");
	RF_ASSERT_RC(rf_key_load_private_pem(bad_path, &k2, &e), RF_EIO);
	assert_non_null(strstr(e.msg, "cannot open"));
	path_in(bad_path, sizeof bad_path, dir, "no/such/dir.pem");
	RF_ASSERT_RC(rf_key_save_private_pem(k, bad_path, &e), RF_EIO);
	/* a file too big to be a key */
	path_in(bad_path, sizeof bad_path, dir, "big.pem");
	f = fopen(bad_path, "w");
	assert_non_null(f);
	for (int i = 0; i < 70 * 1024; i++)
		fputc('A', f);
	fclose(f);
	RF_ASSERT_RC(rf_key_load_private_pem(bad_path, &k2, &e), RF_ETOOBIG);

	/* a P-256 key round-trips too (it has no raw form) */
	rf_key_destroy(pk);
	pk = NULL;
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &pk, &e));
	RF_ASSERT_OK(rf_key_save_private_pem(pk, priv_path, &e));
	RF_ASSERT_OK(rf_key_load_private_pem(priv_path, &k2, &e));
	assert_int_equal(rf_key_type(k2), RF_KEY_P256);
	RF_ASSERT_RC(rf_key_raw_private(k2, seed, sizeof seed, &e), RF_EINVAL);
	rf_key_destroy(k2);
	rf_key_destroy(pk);
	rf_key_destroy(k);
	k2 = NULL;

	/* keys radfed does not use are refused by type, and an encrypted
	 * key fails without prompting for a passphrase */
	{
		EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");

		assert_non_null(p384);
		f = fopen(bad_path, "w");
		assert_non_null(f);
		assert_int_equal(
		    PEM_write_PrivateKey(f, p384, NULL, NULL, 0, NULL, NULL),
		    1);
		fclose(f);
		RF_ASSERT_RC(rf_key_load_private_pem(bad_path, &k2, &e),
			     RF_EUNSUPPORTED);
		assert_null(k2);
		assert_non_null(strstr(e.msg, "unsupported key type 'EC'"));
		f = fopen(bad_path, "w");
		assert_non_null(f);
		assert_int_equal(PEM_write_PrivateKey(f, p384,
						      EVP_aes_256_cbc(), NULL,
						      0, NULL, (char *)"pass"),
				 1);
		fclose(f);
		RF_ASSERT_RC(rf_key_load_private_pem(bad_path, &k2, &e),
			     RF_ECRYPTO);
		assert_null(k2);
		assert_int_equal(ERR_peek_error(), 0);
		EVP_PKEY_free(p384);
	}
}

/* rf_key_load_private_pem allocates through rf_malloc (the file buffer and
 * the key): every failure is RF_ENOMEM and leaks nothing */
static void test_key_oom(void **state)
{
	const char *dir = rf_test_tmpdir("crypto_oom");
	char path[600];
	struct rf_key *k = NULL;
	enum rf_rc rc;

	(void)state;
	path_in(path, sizeof path, dir, "k.pem");
	RF_ASSERT_OK(rf_key_generate(RF_KEY_ED25519, &k, NULL));
	RF_ASSERT_OK(rf_key_save_private_pem(k, path, NULL));
	rf_key_destroy(k);
	k = NULL;
	RF_TEST_OOM_LOOP(rc, rc = rf_key_load_private_pem(path, &k, NULL),
			 rf_key_destroy(k));
	RF_TEST_OOM_LOOP(rc, rc = rf_key_generate(RF_KEY_X25519, &k, NULL),
			 rf_key_destroy(k));
	RF_ASSERT_OK(rf_key_generate(RF_KEY_X25519, &k, NULL));
	RF_TEST_OOM_LOOP(rc, rc = rf_key_save_public_pem(k, path, NULL), );
	rf_key_destroy(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x25519_rfc7748_5_2),
		cmocka_unit_test(test_x25519_rfc7748_iterated),
		cmocka_unit_test(test_x25519_rfc7748_6_1),
		cmocka_unit_test(test_x25519_rejects),
		cmocka_unit_test(test_x25519_generated),
		cmocka_unit_test(test_ed25519_rfc8032),
		cmocka_unit_test(test_pem_files),
		cmocka_unit_test(test_key_oom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
