/* rf_hmac.c - HMAC-SHA-256 with the key schedule done once. */
#include "rf_hmac.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "rf_alloc.h"

struct rf_hmac_key {
	EVP_MAC_CTX *keyed; /* initialised with the key, never updated */
};

/* RF_ECRYPTO with OpenSSL's first queued reason, if any, appended; leaves
 * the thread's OpenSSL error queue empty, as rf_crypto does. */
static enum rf_rc crypto_fail(struct rf_err *e, const char *what)
{
	unsigned long code = ERR_get_error();
	char reason[160];

	ERR_clear_error();
	if (!code)
		return rf_err_set(e, RF_ECRYPTO, "%s", what);
	ERR_error_string_n(code, reason, sizeof reason);
	return rf_err_set(e, RF_ECRYPTO, "%s: %s", what, reason);
}

enum rf_rc rf_hmac_key_create(const void *key, size_t len,
			      struct rf_hmac_key **out, struct rf_err *e)
{
	static const unsigned char zero_byte;
	struct rf_hmac_key *k = NULL;
	EVP_MAC *mac = NULL;
	OSSL_PARAM params[2];
	enum rf_rc rc;

	*out = NULL;
	if (!key && len)
		return rf_err_set(e, RF_EINVAL, "hmac-sha-256 with a NULL key");
	k = rf_calloc(1, sizeof *k);
	if (!k)
		return rf_err_set(e, RF_ENOMEM,
				  "cannot allocate an hmac-sha-256 key");
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac)
		k->keyed = EVP_MAC_CTX_new(mac);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!k->keyed ||
	    !EVP_MAC_init(k->keyed, key ? key : &zero_byte, len, params)) {
		rc = crypto_fail(e, "cannot make an hmac-sha-256 key");
		goto fail;
	}
	EVP_MAC_free(mac);
	*out = k;
	return RF_OK;
fail:
	EVP_MAC_free(mac);
	rf_hmac_key_destroy(k);
	return rc;
}

void rf_hmac_key_destroy(struct rf_hmac_key *k)
{
	if (!k)
		return;
	EVP_MAC_CTX_free(k->keyed); /* cleanses the key state */
	rf_free(k);
}

enum rf_rc rf_hmac_key_mac(const struct rf_hmac_key *k, const void *msg,
			   size_t n, const void *msg2, size_t n2,
			   uint8_t out[RF_HMAC_SHA256_LEN], struct rf_err *e)
{
	uint8_t h[RF_HMAC_SHA256_LEN];
	EVP_MAC_CTX *c;
	size_t len = 0;
	int ok;

	if (!k || (!msg && n) || (!msg2 && n2))
		return rf_err_set(e, RF_EINVAL, "hmac-sha-256 of NULL data");
	/* a copy of the keyed state: k itself is never written, so threads
	 * can share it */
	c = EVP_MAC_CTX_dup(k->keyed);
	ok = c && (!n || EVP_MAC_update(c, msg, n)) &&
	     (!n2 || EVP_MAC_update(c, msg2, n2)) &&
	     EVP_MAC_final(c, h, &len, sizeof h) && len == sizeof h;
	EVP_MAC_CTX_free(c);
	if (!ok) {
		rf_zeroize(h, sizeof h);
		return crypto_fail(e, "hmac-sha-256 failed");
	}
	memcpy(out, h, sizeof h);
	rf_zeroize(h, sizeof h);
	return RF_OK;
}
