/* rf_crypto.c - OpenSSL 3 EVP wrappers (see rf_crypto.h). No globals. */
#include "rf_crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "rf_alloc.h"
#include "rf_buf.h"
#include "rf_crypto_int.h"
#include "rf_file.h"

/* OpenSSL's cipher and RNG calls take int lengths: feed them this much at a
 * time. */
#define CHUNK_MAX ((size_t)1 << 30)
/* Key files are small; anything bigger is not a key. */
#define KEY_FILE_MAX ((size_t)64 * 1024)

static const uint8_t zero_byte[1];

enum rf_rc rf__crypto_fail(struct rf_err *e, enum rf_rc rc, const char *fmt,
			   ...)
{
	char msg[RF_ERR_MSG_MAX];
	char why[160];
	unsigned long code = ERR_get_error();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	why[0] = '\0';
	if (code) {
		const char *r = ERR_reason_error_string(code);

		if (r)
			snprintf(why, sizeof why, "%s", r);
		else
			ERR_error_string_n(code, why, sizeof why);
	}
	ERR_clear_error();
	if (why[0])
		return rf_err_set(e, rc, "%s: %s", msg, why);
	return rf_err_set(e, rc, "%s", msg);
}

/* ---- hashing ------------------------------------------------------------ */

enum rf_rc rf_sha256(const void *p, size_t n, uint8_t out[RF_SHA256_LEN],
		     struct rf_err *e)
{
	unsigned int len = 0;

	if (!p && n)
		return rf_err_set(e, RF_EINVAL, "sha-256 of NULL data");
	if (!EVP_Digest(p ? p : zero_byte, n, out, &len, EVP_sha256(), NULL) ||
	    len != RF_SHA256_LEN)
		return rf__crypto_fail(e, RF_ECRYPTO, "sha-256 failed");
	return RF_OK;
}

enum rf_rc rf_sha256_init(struct rf_sha256_ctx *h, struct rf_err *e)
{
	h->md = EVP_MD_CTX_new();
	if (!h->md)
		return rf__crypto_fail(e, RF_ENOMEM, "sha-256 context");
	if (!EVP_DigestInit_ex2(h->md, EVP_sha256(), NULL)) {
		rf_sha256_release(h);
		return rf__crypto_fail(e, RF_ECRYPTO, "sha-256 init failed");
	}
	return RF_OK;
}

enum rf_rc rf_sha256_update(struct rf_sha256_ctx *h, const void *p, size_t n,
			    struct rf_err *e)
{
	if (!h->md || (!p && n))
		return rf_err_set(e, RF_EINVAL, "sha-256 update misused");
	if (!EVP_DigestUpdate(h->md, p ? p : zero_byte, n))
		return rf__crypto_fail(e, RF_ECRYPTO, "sha-256 update failed");
	return RF_OK;
}

enum rf_rc rf_sha256_final(struct rf_sha256_ctx *h, uint8_t out[RF_SHA256_LEN],
			   struct rf_err *e)
{
	unsigned int len = 0;

	if (!h->md)
		return rf_err_set(e, RF_EINVAL, "sha-256 final misused");
	if (!EVP_DigestFinal_ex(h->md, out, &len) || len != RF_SHA256_LEN ||
	    !EVP_DigestInit_ex2(h->md, EVP_sha256(), NULL))
		return rf__crypto_fail(e, RF_ECRYPTO, "sha-256 final failed");
	return RF_OK;
}

void rf_sha256_release(struct rf_sha256_ctx *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
}

/* ---- hex ---------------------------------------------------------------- */

enum rf_rc rf_hex_encode(const void *p, size_t n, char *out, size_t out_size,
			 struct rf_err *e)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = p;

	if (n > (SIZE_MAX - 1) / 2)
		return rf_err_set(e, RF_EINVAL, "hex of %zu bytes too long", n);
	if (out_size < 2 * n + 1)
		return rf_err_set(e, RF_EINVAL,
				  "hex of %zu bytes needs %zu bytes, have %zu",
				  n, 2 * n + 1, out_size);
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
	return RF_OK;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum rf_rc rf_hex_decode(const char *hex, size_t hex_len, uint8_t *out,
			 size_t out_size, size_t *out_len, struct rf_err *e)
{
	enum rf_rc rc;

	*out_len = 0;
	if (hex_len % 2) {
		rc = rf_err_set(e, RF_EINVAL, "odd hex length %zu", hex_len);
		goto fail;
	}
	if (out_size < hex_len / 2) {
		rc = rf_err_set(e, RF_EINVAL,
				"hex of %zu digits needs %zu bytes, have %zu",
				hex_len, hex_len / 2, out_size);
		goto fail;
	}
	for (size_t i = 0; i < hex_len; i += 2) {
		int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);

		if (hi < 0 || lo < 0) {
			rc = rf_err_set(e, RF_EINVAL,
					"invalid hex digit at offset %zu",
					hi < 0 ? i : i + 1);
			goto fail;
		}
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*out_len = hex_len / 2;
	return RF_OK;
fail:
	if (out_size)
		rf_zeroize(out, out_size);
	return rc;
}

/* ---- MAC and key derivation --------------------------------------------- */

enum rf_rc rf_hmac_sha256(const void *key, size_t key_len, const void *msg,
			  size_t msg_len, uint8_t out[RF_HMAC_SHA256_LEN],
			  struct rf_err *e)
{
	size_t len = 0;

	if ((!key && key_len) || (!msg && msg_len))
		return rf_err_set(e, RF_EINVAL, "hmac-sha-256 of NULL data");
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL,
		       key ? key : zero_byte, key_len, msg ? msg : zero_byte,
		       msg_len, out, RF_HMAC_SHA256_LEN, &len) ||
	    len != RF_HMAC_SHA256_LEN)
		return rf__crypto_fail(e, RF_ECRYPTO, "hmac-sha-256 failed");
	return RF_OK;
}

enum rf_rc rf_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm,
			  size_t ikm_len, const void *info, size_t info_len,
			  uint8_t *out, size_t out_len, struct rf_err *e)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5];
	size_t np = 0;
	enum rf_rc rc;

	if (out_len == 0 || out_len > RF_HKDF_SHA256_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "hkdf-sha-256 output length %zu not in "
				  "1..%d",
				  out_len, RF_HKDF_SHA256_MAX);
	if ((!salt && salt_len) || (!ikm && ikm_len) || (!info && info_len) ||
	    info_len > RF_HKDF_INFO_MAX) {
		rc = rf_err_set(e, RF_EINVAL, "hkdf-sha-256 bad input");
		goto out;
	}
	params[np++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
							(char *)"SHA256", 0);
	params[np++] = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_KEY, (void *)(ikm ? ikm : zero_byte), ikm_len);
	params[np++] = OSSL_PARAM_construct_octet_string(
	    OSSL_KDF_PARAM_SALT, (void *)(salt ? salt : zero_byte), salt_len);
	if (info_len)
		params[np++] = OSSL_PARAM_construct_octet_string(
		    OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	params[np] = OSSL_PARAM_construct_end();

	kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	if (!kctx || EVP_KDF_derive(kctx, out, out_len, params) <= 0) {
		rc = rf__crypto_fail(e, RF_ECRYPTO, "hkdf-sha-256 failed");
		goto out;
	}
	rc = RF_OK;
out:
	if (rc)
		rf_zeroize(out, out_len);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* ---- symmetric ciphers -------------------------------------------------- */

/* EVP_CipherUpdate over any size_t length; out NULL feeds GCM's aad. */
static int cipher_update(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in,
			 size_t n)
{
	while (n) {
		size_t k = n < CHUNK_MAX ? n : CHUNK_MAX;
		int outl = 0;

		if (!EVP_CipherUpdate(c, out, &outl, in, (int)k))
			return 0;
		if (out) {
			if ((size_t)outl != k)
				return 0;
			out += k;
		}
		in += k;
		n -= k;
	}
	return 1;
}

enum rf_rc rf_aes256gcm_seal(const uint8_t key[RF_AES256_KEY_LEN],
			     const uint8_t nonce[RF_GCM_NONCE_LEN],
			     const void *aad, size_t aad_len, const void *pt,
			     size_t n, void *ct, uint8_t tag[RF_GCM_TAG_LEN],
			     struct rf_err *e)
{
	EVP_CIPHER_CTX *c = NULL;
	uint8_t last[16];
	int outl = 0;
	enum rf_rc rc;

	if ((!aad && aad_len) || ((!pt || !ct) && n)) {
		rc = rf_err_set(e, RF_EINVAL, "aes-256-gcm of NULL data");
		goto out;
	}
	c = EVP_CIPHER_CTX_new();
	if (!c ||
	    !EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), key, nonce, NULL) ||
	    !cipher_update(c, NULL, aad, aad_len) ||
	    !cipher_update(c, ct, pt, n) ||
	    !EVP_EncryptFinal_ex(c, last, &outl) || outl != 0 ||
	    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, RF_GCM_TAG_LEN,
				 tag)) {
		rc = rf__crypto_fail(e, RF_ECRYPTO, "aes-256-gcm seal failed");
		goto out;
	}
	rc = RF_OK;
out:
	if (rc) {
		if (ct && n)
			rf_zeroize(ct, n);
		rf_zeroize(tag, RF_GCM_TAG_LEN);
	}
	EVP_CIPHER_CTX_free(c);
	return rc;
}

enum rf_rc rf_aes256gcm_open(const uint8_t key[RF_AES256_KEY_LEN],
			     const uint8_t nonce[RF_GCM_NONCE_LEN],
			     const void *aad, size_t aad_len, const void *ct,
			     size_t n, const uint8_t tag[RF_GCM_TAG_LEN],
			     void *pt, struct rf_err *e)
{
	EVP_CIPHER_CTX *c = NULL;
	uint8_t last[16];
	uint8_t tagcopy[RF_GCM_TAG_LEN];
	int outl = 0;
	enum rf_rc rc;

	if ((!aad && aad_len) || ((!pt || !ct) && n)) {
		rc = rf_err_set(e, RF_EINVAL, "aes-256-gcm of NULL data");
		goto out;
	}
	memcpy(tagcopy, tag, sizeof tagcopy);
	c = EVP_CIPHER_CTX_new();
	if (!c ||
	    !EVP_DecryptInit_ex2(c, EVP_aes_256_gcm(), key, nonce, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, RF_GCM_TAG_LEN,
				 tagcopy) ||
	    !cipher_update(c, NULL, aad, aad_len) ||
	    !cipher_update(c, pt, ct, n)) {
		rc = rf__crypto_fail(e, RF_ECRYPTO, "aes-256-gcm open failed");
		goto out;
	}
	if (EVP_DecryptFinal_ex(c, last, &outl) <= 0 || outl != 0) {
		rc = rf__crypto_fail(e, RF_ECRYPTO,
				     "aes-256-gcm authentication failed");
		goto out;
	}
	rc = RF_OK;
out:
	if (rc && pt && n)
		rf_zeroize(pt, n);
	EVP_CIPHER_CTX_free(c);
	return rc;
}

enum rf_rc rf_aes256ctr_xor(const uint8_t key[RF_AES256_KEY_LEN],
			    const uint8_t iv[RF_CTR_IV_LEN], const void *in,
			    void *out, size_t n, struct rf_err *e)
{
	EVP_CIPHER_CTX *c = NULL;
	enum rf_rc rc;

	if ((!in || !out) && n)
		return rf_err_set(e, RF_EINVAL, "aes-256-ctr of NULL data");
	c = EVP_CIPHER_CTX_new();
	if (!c || !EVP_EncryptInit_ex2(c, EVP_aes_256_ctr(), key, iv, NULL) ||
	    !cipher_update(c, out, in, n)) {
		rc = rf__crypto_fail(e, RF_ECRYPTO, "aes-256-ctr failed");
		if (n)
			rf_zeroize(out, n);
		goto out;
	}
	rc = RF_OK;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

/* ---- PRG ---------------------------------------------------------------- */

struct rf_prg {
	EVP_CIPHER_CTX *c; /* AES-256-CTR keyed by the seed, IV 0 */
};

enum rf_rc rf_prg_create(const uint8_t seed[RF_PRG_SEED_LEN],
			 struct rf_prg **out, struct rf_err *e)
{
	static const uint8_t iv[RF_CTR_IV_LEN];
	struct rf_prg *g;

	*out = NULL;
	g = rf_calloc(1, sizeof *g);
	if (!g)
		return rf_err_set(e, RF_ENOMEM, "out of memory for a prg");
	g->c = EVP_CIPHER_CTX_new();
	if (!g->c ||
	    !EVP_EncryptInit_ex2(g->c, EVP_aes_256_ctr(), seed, iv, NULL)) {
		rf_prg_destroy(g);
		return rf__crypto_fail(e, RF_ECRYPTO, "prg init failed");
	}
	*out = g;
	return RF_OK;
}

enum rf_rc rf_prg_read(struct rf_prg *g, void *out, size_t n, struct rf_err *e)
{
	if (!out && n)
		return rf_err_set(e, RF_EINVAL, "prg read into NULL");
	if (!n)
		return RF_OK;
	memset(out, 0, n);
	if (!cipher_update(g->c, out, out, n)) {
		rf_zeroize(out, n);
		return rf__crypto_fail(e, RF_ECRYPTO, "prg read failed");
	}
	return RF_OK;
}

enum rf_rc rf_prg_u32(struct rf_prg *g, uint32_t *out, size_t count,
		      struct rf_err *e)
{
	unsigned char *b = (unsigned char *)out;
	enum rf_rc rc;

	if (count > SIZE_MAX / 4)
		return rf_err_set(e, RF_EINVAL, "prg count %zu too large",
				  count);
	rc = rf_prg_read(g, out, count * 4, e);
	if (rc)
		return rc;
	for (size_t i = 0; i < count; i++) {
		const unsigned char *q = b + 4 * i;

		out[i] = (uint32_t)q[0] | (uint32_t)q[1] << 8 |
			 (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
	}
	return RF_OK;
}

void rf_prg_destroy(struct rf_prg *g)
{
	if (!g)
		return;
	EVP_CIPHER_CTX_free(g->c); /* cleanses the key schedule */
	rf_free(g);
}

/* ---- keys --------------------------------------------------------------- */

struct rf_key {
	enum rf_key_type type;
	int priv;
	EVP_PKEY *pkey;
};

static const char *key_type_name(enum rf_key_type t)
{
	switch (t) {
	case RF_KEY_X25519:
		return "x25519";
	case RF_KEY_ED25519:
		return "ed25519";
	case RF_KEY_P256:
		return "p-256";
	}
	return "unknown";
}

EVP_PKEY *rf__key_pkey(const struct rf_key *k)
{
	return k->pkey;
}

static int pkey_is_p256(EVP_PKEY *pkey)
{
	char group[64];

	if (!EVP_PKEY_is_a(pkey, "EC"))
		return 0;
	if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
					    group, sizeof group, NULL)) {
		ERR_clear_error();
		return 0;
	}
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

static enum rf_rc key_wrap(EVP_PKEY *pkey, int priv, struct rf_key **out,
			   struct rf_err *e)
{
	struct rf_key *k;
	enum rf_key_type t;

	*out = NULL;
	if (EVP_PKEY_is_a(pkey, "X25519"))
		t = RF_KEY_X25519;
	else if (EVP_PKEY_is_a(pkey, "ED25519"))
		t = RF_KEY_ED25519;
	else if (pkey_is_p256(pkey))
		t = RF_KEY_P256;
	else {
		const char *name = EVP_PKEY_get0_type_name(pkey);

		rf_err_set(e, RF_EUNSUPPORTED, "unsupported key type '%s'",
			   name ? name : "?");
		EVP_PKEY_free(pkey);
		return RF_EUNSUPPORTED;
	}
	k = rf_malloc(sizeof *k);
	if (!k) {
		EVP_PKEY_free(pkey);
		return rf_err_set(e, RF_ENOMEM, "out of memory for a key");
	}
	k->type = t;
	k->priv = priv;
	k->pkey = pkey;
	*out = k;
	return RF_OK;
}

enum rf_rc rf__key_wrap(EVP_PKEY *pkey, struct rf_key **out, struct rf_err *e)
{
	return key_wrap(pkey, 0, out, e);
}

enum rf_rc rf_key_generate(enum rf_key_type t, struct rf_key **out,
			   struct rf_err *e)
{
	EVP_PKEY *pkey;

	*out = NULL;
	switch (t) {
	case RF_KEY_X25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
		break;
	case RF_KEY_ED25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case RF_KEY_P256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	default:
		return rf_err_set(e, RF_EINVAL, "unknown key type %d", (int)t);
	}
	if (!pkey)
		return rf__crypto_fail(e, RF_ECRYPTO, "cannot generate %s key",
				       key_type_name(t));
	return key_wrap(pkey, 1, out, e);
}

static const char *raw_type_name(enum rf_key_type t)
{
	if (t == RF_KEY_X25519)
		return "X25519";
	if (t == RF_KEY_ED25519)
		return "ED25519";
	return NULL;
}

static enum rf_rc key_from_raw(enum rf_key_type t, const uint8_t *raw,
			       size_t len, int priv, struct rf_key **out,
			       struct rf_err *e)
{
	const char *name = raw_type_name(t);
	EVP_PKEY *pkey;

	*out = NULL;
	if (!name)
		return rf_err_set(e, RF_EINVAL, "no raw form for %s keys",
				  key_type_name(t));
	if (!raw || len != 32)
		return rf_err_set(e, RF_EINVAL,
				  "raw %s key must be 32 bytes, not %zu",
				  key_type_name(t), raw ? len : 0);
	if (priv)
		pkey =
		    EVP_PKEY_new_raw_private_key_ex(NULL, name, NULL, raw, len);
	else
		pkey =
		    EVP_PKEY_new_raw_public_key_ex(NULL, name, NULL, raw, len);
	if (!pkey)
		return rf__crypto_fail(
		    e, RF_ECRYPTO, "cannot import raw %s %s key",
		    key_type_name(t), priv ? "private" : "public");
	return key_wrap(pkey, priv, out, e);
}

enum rf_rc rf_key_from_raw_private(enum rf_key_type t, const uint8_t *raw,
				   size_t len, struct rf_key **out,
				   struct rf_err *e)
{
	return key_from_raw(t, raw, len, 1, out, e);
}

enum rf_rc rf_key_from_raw_public(enum rf_key_type t, const uint8_t *raw,
				  size_t len, struct rf_key **out,
				  struct rf_err *e)
{
	return key_from_raw(t, raw, len, 0, out, e);
}

static enum rf_rc key_to_raw(const struct rf_key *k, int priv, uint8_t *out,
			     size_t out_size, struct rf_err *e)
{
	size_t len = 32;
	int ok;

	if (!raw_type_name(k->type) || out_size < 32 || (priv && !k->priv))
		return rf_err_set(e, RF_EINVAL,
				  "cannot export %s key as raw %s bytes "
				  "into %zu bytes",
				  key_type_name(k->type),
				  priv ? "private" : "public", out_size);
	if (priv)
		ok = EVP_PKEY_get_raw_private_key(k->pkey, out, &len);
	else
		ok = EVP_PKEY_get_raw_public_key(k->pkey, out, &len);
	if (!ok || len != 32) {
		rf_zeroize(out, out_size);
		return rf__crypto_fail(e, RF_ECRYPTO,
				       "cannot export raw %s key",
				       key_type_name(k->type));
	}
	return RF_OK;
}

enum rf_rc rf_key_raw_private(const struct rf_key *k, uint8_t *out,
			      size_t out_size, struct rf_err *e)
{
	return key_to_raw(k, 1, out, out_size, e);
}

enum rf_rc rf_key_raw_public(const struct rf_key *k, uint8_t *out,
			     size_t out_size, struct rf_err *e)
{
	return key_to_raw(k, 0, out, out_size, e);
}

enum rf_key_type rf_key_type(const struct rf_key *k)
{
	return k->type;
}

int rf_key_has_private(const struct rf_key *k)
{
	return k->priv;
}

void rf_key_destroy(struct rf_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	rf_free(k);
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1; /* never prompt: radfed's key files are not encrypted */
}

static enum rf_rc key_save(const struct rf_key *k, int priv, const char *path,
			   struct rf_err *e)
{
	BIO *b = NULL;
	char *data = NULL;
	long len;
	int ok;
	enum rf_rc rc;

	if (priv && !k->priv)
		return rf_err_set(e, RF_EINVAL,
				  "cannot save '%s': no private key", path);
	b = BIO_new(priv ? BIO_s_secmem() : BIO_s_mem());
	if (!b) {
		rc = rf__crypto_fail(e, RF_ENOMEM, "cannot save '%s'", path);
		goto out;
	}
	if (priv)
		ok = PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL,
					      NULL);
	else
		ok = PEM_write_bio_PUBKEY(b, k->pkey);
	len = ok ? BIO_get_mem_data(b, &data) : 0;
	if (!ok || len <= 0) {
		rc = rf__crypto_fail(e, RF_ECRYPTO, "cannot encode '%s'", path);
		goto out;
	}
	rc = rf_file_write_atomic(path, data, (size_t)len, priv ? 0600 : 0644,
				   e);
	if (priv)
		rf_zeroize(data, (size_t)len);
out:
	BIO_free(b);
	return rc;
}

enum rf_rc rf_key_save_private_pem(const struct rf_key *k, const char *path,
				   struct rf_err *e)
{
	return key_save(k, 1, path, e);
}

enum rf_rc rf_key_save_public_pem(const struct rf_key *k, const char *path,
				  struct rf_err *e)
{
	return key_save(k, 0, path, e);
}

static enum rf_rc key_load(const char *path, int priv, struct rf_key **out,
			   struct rf_err *e)
{
	struct rf_buf buf = RF_BUF_INIT(KEY_FILE_MAX);
	EVP_PKEY *pkey = NULL;
	BIO *b = NULL;
	enum rf_rc rc;

	*out = NULL;
	ERR_clear_error();
	rc = rf_file_read(path, &buf, e);
	if (rc)
		goto out;
	if (buf.len == 0) {
		rc = rf_err_set(e, RF_ECRYPTO, "no key in '%s'", path);
		goto out;
	}
	b = BIO_new_mem_buf(buf.data, (int)buf.len);
	if (b)
		pkey =
		    priv ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)
			 : PEM_read_bio_PUBKEY(b, NULL, no_passphrase, NULL);
	if (!pkey) {
		rc = rf__crypto_fail(e, RF_ECRYPTO, "no %s key in '%s'",
				     priv ? "private" : "public", path);
		goto out;
	}
	rc = key_wrap(pkey, priv, out, e);
	if (rc)
		rf_err_prefix(e, "cannot load '%s'", path);
out:
	BIO_free(b);
	rf_buf_release_secret(&buf);
	return rc;
}

enum rf_rc rf_key_load_private_pem(const char *path, struct rf_key **out,
				   struct rf_err *e)
{
	return key_load(path, 1, out, e);
}

enum rf_rc rf_key_load_public_pem(const char *path, struct rf_key **out,
				  struct rf_err *e)
{
	return key_load(path, 0, out, e);
}

/* ---- X25519, Ed25519 ---------------------------------------------------- */

enum rf_rc rf_x25519_derive(const struct rf_key *priv,
			    const struct rf_key *peer,
			    uint8_t out[RF_X25519_LEN], struct rf_err *e)
{
	static const uint8_t zeros[RF_X25519_LEN];
	EVP_PKEY_CTX *c = NULL;
	size_t len = RF_X25519_LEN;
	enum rf_rc rc;

	if (priv->type != RF_KEY_X25519 || peer->type != RF_KEY_X25519 ||
	    !priv->priv) {
		rc = rf_err_set(e, RF_EINVAL,
				"x25519 needs a private and a peer x25519 "
				"key");
		goto out;
	}
	c = EVP_PKEY_CTX_new_from_pkey(NULL, priv->pkey, NULL);
	if (!c || EVP_PKEY_derive_init(c) <= 0 ||
	    EVP_PKEY_derive_set_peer_ex(c, peer->pkey, 0) <= 0 ||
	    EVP_PKEY_derive(c, out, &len) <= 0 || len != RF_X25519_LEN) {
		rc = rf__crypto_fail(e, RF_ECRYPTO,
				     "x25519 key agreement failed");
		goto out;
	}
	if (CRYPTO_memcmp(out, zeros, sizeof zeros) == 0) {
		rc = rf_err_set(e, RF_ECRYPTO,
				"x25519 shared secret is zero: the peer key "
				"has a low order");
		goto out;
	}
	rc = RF_OK;
out:
	if (rc)
		rf_zeroize(out, RF_X25519_LEN);
	EVP_PKEY_CTX_free(c);
	return rc;
}

enum rf_rc rf_ed25519_sign(const struct rf_key *k, const void *msg,
			   size_t msg_len, uint8_t sig[RF_ED25519_SIG_LEN],
			   struct rf_err *e)
{
	EVP_MD_CTX *md = NULL;
	size_t len = RF_ED25519_SIG_LEN;
	enum rf_rc rc;

	if (k->type != RF_KEY_ED25519 || !k->priv || (!msg && msg_len))
		return rf_err_set(e, RF_EINVAL,
				  "ed25519 signing needs a private ed25519 "
				  "key");
	md = EVP_MD_CTX_new();
	if (!md ||
	    !EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, k->pkey, NULL) ||
	    !EVP_DigestSign(md, sig, &len, msg ? msg : zero_byte, msg_len) ||
	    len != RF_ED25519_SIG_LEN) {
		rc = rf__crypto_fail(e, RF_ECRYPTO, "ed25519 signing failed");
		goto out;
	}
	rc = RF_OK;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

enum rf_rc rf_ed25519_verify(const struct rf_key *k, const void *msg,
			     size_t msg_len,
			     const uint8_t sig[RF_ED25519_SIG_LEN],
			     struct rf_err *e)
{
	EVP_MD_CTX *md = NULL;
	enum rf_rc rc;
	int v;

	if (k->type != RF_KEY_ED25519 || (!msg && msg_len))
		return rf_err_set(e, RF_EINVAL,
				  "ed25519 verification needs an ed25519 "
				  "key");
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, NULL, k->pkey,
					    NULL)) {
		rc = rf__crypto_fail(e, RF_ECRYPTO,
				     "ed25519 verification failed");
		goto out;
	}
	v = EVP_DigestVerify(md, sig, RF_ED25519_SIG_LEN, msg ? msg : zero_byte,
			     msg_len);
	if (v != 1) {
		rc = rf__crypto_fail(e, RF_ECRYPTO,
				     "ed25519 signature does not verify");
		goto out;
	}
	rc = RF_OK;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

/* ---- misc --------------------------------------------------------------- */

enum rf_rc rf_random_bytes(void *out, size_t n, struct rf_err *e)
{
	uint8_t *p = out;
	size_t left = n;

	if (!out && n)
		return rf_err_set(e, RF_EINVAL, "random bytes into NULL");
	while (left) {
		size_t k = left < CHUNK_MAX ? left : CHUNK_MAX;

		if (RAND_bytes(p, (int)k) != 1) {
			rf_zeroize(out, n);
			return rf__crypto_fail(e, RF_ECRYPTO,
					       "random generator failed");
		}
		p += k;
		left -= k;
	}
	return RF_OK;
}

int rf_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
