/*
 * rf_test_pki.h - certificates for tests that run a real TLS server: PEM
 * strings of certificates and keys, and a credential (a new P-256 key and
 * the certificate a CA issued for it) in one call. Every step asserts.
 *
 * - rf_test_pem_of_cert(x): x as PEM (malloc'd)
 * - rf_test_pem_of_key(k, dir, name): k's private key as PEM (malloc'd),
 *   through the file dir/name.key that rf_key_save_private_pem writes
 * - rf_test_cred_make(c, ca, ca_key, cn, role, dns, usage, from, until,
 *   dir): c gets cert and key PEM, cn and fingerprint; free with
 *   rf_test_cred_free. rf_test_cred_now(...) is valid from an hour ago to
 *   a day from now.
 */
#ifndef RF_TEST_PKI_H
#define RF_TEST_PKI_H

#include <time.h>

#include "rf_buf.h"
#include "rf_file.h"
#include "rf_test.h"
#include "rf_x509.h"

struct rf_test_cred {
	char *cert; /* PEM, malloc'd */
	char *key;  /* PEM, malloc'd */
	char fp[RF_X509_FP_SIZE];
	char cn[RF_X509_NAME_MAX + 1];
};

static inline char *rf_test_pem_of_cert(const struct rf_x509 *x)
{
	struct rf_buf b = RF_BUF_INIT(RF_X509_PEM_MAX);
	char *s;

	RF_ASSERT_OK(rf_x509_pem(x, &b, NULL));
	s = strdup(rf_buf_str(&b));
	rf_buf_release(&b);
	assert_non_null(s);
	return s;
}

static inline char *rf_test_pem_of_key(const struct rf_key *k,
				       const char *dir, const char *name)
{
	char path[800];
	struct rf_buf b = RF_BUF_INIT(65536);
	char *s;

	snprintf(path, sizeof path, "%s/%s.key", dir, name);
	RF_ASSERT_OK(rf_key_save_private_pem(k, path, NULL));
	RF_ASSERT_OK(rf_file_read(path, &b, NULL));
	s = strdup(rf_buf_str(&b));
	rf_buf_release_secret(&b);
	assert_non_null(s);
	return s;
}

/* Issues a certificate for a new key under (ca, ca_key). */
static inline void rf_test_cred_make(struct rf_test_cred *c,
				     const struct rf_x509 *ca,
				     const struct rf_key *ca_key,
				     const char *cn, const char *role,
				     const char *dns, unsigned usage,
				     int64_t from, int64_t until,
				     const char *dir)
{
	struct rf_x509_issue_params ip = {cn, role, dns, usage, from, until};
	struct rf_key *k = NULL;
	struct rf_x509_req *req = NULL;
	struct rf_x509 *x = NULL;
	struct rf_err e = {0};

	RF_ASSERT_OK_E(rf_key_generate(RF_KEY_P256, &k, &e), &e);
	RF_ASSERT_OK_E(rf_x509_req_create(k, cn, &req, &e), &e);
	RF_ASSERT_OK_E(rf_x509_issue(ca, ca_key, req, &ip, &x, &e), &e);
	c->cert = rf_test_pem_of_cert(x);
	c->key = rf_test_pem_of_key(k, dir, cn);
	snprintf(c->cn, sizeof c->cn, "%s", cn);
	RF_ASSERT_OK(rf_x509_fingerprint(x, c->fp, NULL));
	rf_x509_destroy(x);
	rf_x509_req_destroy(req);
	rf_key_destroy(k);
}

/* rf_test_cred_make, valid from an hour ago to a day from now. */
static inline void rf_test_cred_now(struct rf_test_cred *c,
				    const struct rf_x509 *ca,
				    const struct rf_key *ca_key,
				    const char *cn, const char *role,
				    const char *dns, unsigned usage,
				    const char *dir)
{
	int64_t now = (int64_t)time(NULL);

	rf_test_cred_make(c, ca, ca_key, cn, role, dns, usage, now - 3600,
			  now + 86400, dir);
}

static inline void rf_test_cred_free(struct rf_test_cred *c)
{
	free(c->cert);
	free(c->key);
	c->cert = c->key = NULL;
}

#endif
