/* rf_x509.c - consortium certificates over OpenSSL 3 (see rf_x509.h). */
#include "rf_x509.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "rf_alloc.h"
#include "rf_crypto_int.h"
#include "rf_file.h"

/* 9999-12-31 23:59:59 UTC, the last second X.509 can express */
#define TIME_MAX 253402300799LL
#define DNS_MAX  253
#define SAN_MAX  16 /* names in one subjectAltName */

struct rf_x509 {
	X509 *x;
};

struct rf_x509_req {
	X509_REQ *r;
};

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1; /* never prompt */
}

/* ---- validation --------------------------------------------------------- */

static int valid_name(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strlen(s);
	if (n == 0 || n > RF_X509_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e || strchr("/\\,+=\"<>;", c))
			return 0;
	}
	return 1;
}

static int valid_dns(const char *s);

/* A dotted-quad IPv4 address: four decimal numbers 0..255. */
static int is_ipv4(const char *s, size_t n)
{
	unsigned parts = 0, v = 0, digits = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!digits || v > 255)
				return 0;
			parts++;
			v = 0;
			digits = 0;
		} else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			digits++;
		} else {
			return 0;
		}
	}
	return parts == 4;
}

/* Writes the subjectAltName value of a comma-separated list of names
 * ("DNS:a,IP:127.0.0.1") into out; 0 when a name is invalid, there are
 * more than SAN_MAX of them, or out is too small. */
static int san_value(const char *list, char *out, size_t size)
{
	size_t at = 0, count = 0;
	const char *p = list;

	if (!list || !*list)
		return 0;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char name[DNS_MAX + 1];
		int w;

		if (n == 0 || n > DNS_MAX || ++count > SAN_MAX)
			return 0;
		memcpy(name, p, n);
		name[n] = '\0';
		if (!valid_dns(name))
			return 0;
		w = snprintf(out + at, size - at, "%s%s:%s", at ? "," : "",
			     is_ipv4(name, n) ? "IP" : "DNS", name);
		if (w < 0 || (size_t)w >= size - at)
			return 0;
		at += (size_t)w;
		if (!end)
			return 1;
		p = end + 1;
	}
}

static int valid_dns(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strlen(s);
	if (n == 0 || n > DNS_MAX || s[0] == '-' || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static int valid_window(int64_t nb, int64_t na)
{
	return nb >= 0 && na > nb && na <= TIME_MAX;
}

static int key_usable(const struct rf_key *k)
{
	return rf_key_has_private(k) && (rf_key_type(k) == RF_KEY_P256 ||
					 rf_key_type(k) == RF_KEY_ED25519);
}

/* ---- small OpenSSL helpers ---------------------------------------------- */

static int64_t tm_to_unix(const struct tm *tm)
{
	int64_t y = (int64_t)tm->tm_year + 1900, m = tm->tm_mon + 1;
	int64_t d = tm->tm_mday, era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468) * 86400 + tm->tm_hour * 3600 +
	       tm->tm_min * 60 + tm->tm_sec;
}

static void format_time(const ASN1_TIME *t, char *out, size_t size)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm)) {
		snprintf(out, size, "an unreadable date");
		return;
	}
	snprintf(out, size, "%04d-%02d-%02d %02d:%02d:%02d UTC",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
}

static int name_add(X509_NAME *name, int nid, const char *v)
{
	return X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
					  (const unsigned char *)v, -1, -1, 0);
}

static enum rf_rc name_get(const X509_NAME *name, int nid, const char *what,
			   char *out, size_t out_size, struct rf_err *e)
{
	const X509_NAME_ENTRY *ent;
	unsigned char *utf8 = NULL;
	int idx, len;
	enum rf_rc rc;

	if (out_size)
		out[0] = '\0';
	idx = X509_NAME_get_index_by_NID(name, nid, -1);
	if (idx < 0)
		return rf_err_set(e, RF_ENOTFOUND, "no %s in the name", what);
	ent = X509_NAME_get_entry(name, idx);
	len = ent ? ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(ent))
		  : -1;
	if (len < 0)
		return rf__crypto_fail(e, RF_ECRYPTO, "cannot decode the %s",
				       what);
	for (int i = 0; i < len; i++) {
		if (utf8[i] < 0x20 || utf8[i] == 0x7f) {
			rc = rf_err_set(e, RF_EINVAL,
					"the %s holds a control byte", what);
			goto out;
		}
	}
	if ((size_t)len >= out_size) {
		rc = rf_err_set(e, RF_EINVAL, "the %s needs %d bytes, have %zu",
				what, len + 1, out_size);
		goto out;
	}
	memcpy(out, utf8, (size_t)len);
	out[len] = '\0';
	rc = RF_OK;
out:
	OPENSSL_free(utf8);
	return rc;
}

/* The CN of x for messages: never fails. */
static void cert_label(const X509 *x, char *out, size_t size)
{
	if (!x || name_get(X509_get_subject_name(x), NID_commonName, "cn", out,
			   size, NULL) != RF_OK)
		snprintf(out, size, "?");
}

static int set_random_serial(X509 *x)
{
	uint8_t b[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	do {
		if (RAND_bytes(b, sizeof b) != 1)
			return 0;
	} while (b[0] == 0); /* keep the full 128 bits */
	bn = BN_bin2bn(b, sizeof b, NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		ok = 1;
	BN_free(bn);
	return ok;
}

static int set_window(X509 *x, int64_t nb, int64_t na)
{
	return ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) &&
	       ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na);
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* SHA-256 for ECDSA; Ed25519 signs the message itself. */
static const EVP_MD *sign_md(EVP_PKEY *k)
{
	return EVP_PKEY_is_a(k, "ED25519") ? NULL : EVP_sha256();
}

static enum rf_rc wrap_cert(X509 *x, struct rf_x509 **out, struct rf_err *e)
{
	struct rf_x509 *c = rf_malloc(sizeof *c);

	if (!c) {
		X509_free(x);
		return rf_err_set(e, RF_ENOMEM,
				  "out of memory for a certificate");
	}
	c->x = x;
	*out = c;
	return RF_OK;
}

/* Appends what a memory BIO holds to out. */
static enum rf_rc bio_to_buf(BIO *b, struct rf_buf *out, struct rf_err *e)
{
	char *data = NULL;
	long len = BIO_get_mem_data(b, &data);

	if (len <= 0)
		return rf__crypto_fail(e, RF_ECRYPTO, "cannot encode pem");
	return rf_buf_append(out, data, (size_t)len, e);
}

/* ---- CA ----------------------------------------------------------------- */

enum rf_rc rf_x509_ca_create(const struct rf_key *ca_key, const char *cn,
			     int64_t not_before, int64_t not_after,
			     struct rf_x509 **out, struct rf_err *e)
{
	EVP_PKEY *pk;
	X509 *x = NULL;
	X509V3_CTX ctx;

	*out = NULL;
	if (!valid_name(cn))
		return rf_err_set(e, RF_EINVAL, "invalid ca name '%s'",
				  cn ? cn : "");
	if (!key_usable(ca_key) || !valid_window(not_before, not_after))
		return rf_err_set(e, RF_EINVAL,
				  "ca '%s' needs a private p-256 or ed25519 "
				  "key and a valid window",
				  cn);
	pk = rf__key_pkey(ca_key);
	x = X509_new();
	if (!x || !X509_set_version(x, X509_VERSION_3) ||
	    !set_random_serial(x) ||
	    !name_add(X509_get_subject_name(x), NID_commonName, cn) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
	    !set_window(x, not_before, not_after) || !X509_set_pubkey(x, pk))
		goto fail;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (!add_ext(x, &ctx, NID_basic_constraints,
		     "critical,CA:TRUE,pathlen:0") ||
	    !add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
	    X509_sign(x, pk, sign_md(pk)) <= 0)
		goto fail;
	return wrap_cert(x, out, e);
fail:
	X509_free(x);
	return rf__crypto_fail(e, RF_ECRYPTO, "cannot create ca '%s'", cn);
}

/* ---- requests ----------------------------------------------------------- */

enum rf_rc rf_x509_req_create(const struct rf_key *key, const char *cn,
			      struct rf_x509_req **out, struct rf_err *e)
{
	struct rf_x509_req *req;
	X509_REQ *r = NULL;
	EVP_PKEY *pk;

	*out = NULL;
	if (!valid_name(cn))
		return rf_err_set(e, RF_EINVAL, "invalid name '%s'",
				  cn ? cn : "");
	if (!key_usable(key))
		return rf_err_set(e, RF_EINVAL,
				  "request for '%s' needs a private p-256 or "
				  "ed25519 key",
				  cn);
	pk = rf__key_pkey(key);
	r = X509_REQ_new();
	if (!r || !X509_REQ_set_version(r, X509_REQ_VERSION_1) ||
	    !name_add(X509_REQ_get_subject_name(r), NID_commonName, cn) ||
	    !X509_REQ_set_pubkey(r, pk) ||
	    X509_REQ_sign(r, pk, sign_md(pk)) <= 0) {
		X509_REQ_free(r);
		return rf__crypto_fail(e, RF_ECRYPTO,
				       "cannot create a request for '%s'", cn);
	}
	req = rf_malloc(sizeof *req);
	if (!req) {
		X509_REQ_free(r);
		return rf_err_set(e, RF_ENOMEM, "out of memory for a request");
	}
	req->r = r;
	*out = req;
	return RF_OK;
}

enum rf_rc rf_x509_req_pem(const struct rf_x509_req *req, struct rf_buf *out,
			   struct rf_err *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	enum rf_rc rc;

	if (!b || !PEM_write_bio_X509_REQ(b, req->r))
		rc = rf__crypto_fail(e, RF_ECRYPTO, "cannot encode a request");
	else
		rc = bio_to_buf(b, out, e);
	BIO_free(b);
	return rc;
}

enum rf_rc rf_x509_req_parse_pem(const char *pem, size_t len,
				 struct rf_x509_req **out, struct rf_err *e)
{
	struct rf_x509_req *req;
	X509_REQ *r = NULL;
	BIO *b;

	*out = NULL;
	if (!pem || len == 0)
		return rf_err_set(e, RF_EINVAL, "empty certificate request");
	if (len > RF_X509_PEM_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "certificate request of %zu bytes exceeds "
				  "%d",
				  len, RF_X509_PEM_MAX);
	ERR_clear_error();
	b = BIO_new_mem_buf(pem, (int)len);
	if (b)
		r = PEM_read_bio_X509_REQ(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (!r)
		return rf__crypto_fail(e, RF_ECRYPTO,
				       "cannot parse a certificate request");
	req = rf_malloc(sizeof *req);
	if (!req) {
		X509_REQ_free(r);
		return rf_err_set(e, RF_ENOMEM, "out of memory for a request");
	}
	req->r = r;
	*out = req;
	return RF_OK;
}

enum rf_rc rf_x509_req_cn(const struct rf_x509_req *req, char *out,
			  size_t out_size, struct rf_err *e)
{
	return name_get(X509_REQ_get_subject_name(req->r), NID_commonName,
			"request cn", out, out_size, e);
}

void rf_x509_req_destroy(struct rf_x509_req *req)
{
	if (!req)
		return;
	X509_REQ_free(req->r);
	rf_free(req);
}

/* ---- issuing ------------------------------------------------------------ */

static const char *eku_value(unsigned usage)
{
	switch (usage) {
	case RF_X509_CLIENT:
		return "clientAuth";
	case RF_X509_SERVER:
		return "serverAuth";
	case RF_X509_CLIENT | RF_X509_SERVER:
		return "serverAuth,clientAuth";
	}
	return NULL;
}

enum rf_rc rf_x509_issue(const struct rf_x509 *ca, const struct rf_key *ca_key,
			 const struct rf_x509_req *req,
			 const struct rf_x509_issue_params *p,
			 struct rf_x509 **out, struct rf_err *e)
{
	char cn[RF_X509_NAME_MAX + 1];
	char san[SAN_MAX * (DNS_MAX + 5)];
	struct rf_key *subject = NULL;
	EVP_PKEY *pub, *cak;
	X509 *x = NULL;
	X509V3_CTX ctx;
	enum rf_rc rc;

	*out = NULL;
	if (p->cn) {
		if (!valid_name(p->cn))
			return rf_err_set(e, RF_EINVAL, "invalid name '%s'",
					  p->cn);
		snprintf(cn, sizeof cn, "%s", p->cn);
	} else {
		rc = rf_x509_req_cn(req, cn, sizeof cn, e);
		if (rc)
			return rc;
		if (!valid_name(cn))
			return rf_err_set(e, RF_EINVAL,
					  "invalid requested name '%s'", cn);
	}
	if (!valid_name(p->role))
		return rf_err_set(e, RF_EINVAL, "invalid role for '%s'", cn);
	if (!eku_value(p->usage) || ((p->usage & RF_X509_SERVER) && !p->dns) ||
	    (p->dns && !san_value(p->dns, san, sizeof san)))
		return rf_err_set(e, RF_EINVAL,
				  "invalid usage or dns name for '%s'", cn);
	if (!valid_window(p->not_before, p->not_after))
		return rf_err_set(e, RF_EINVAL,
				  "invalid validity window for '%s'", cn);
	if (X509_check_ca(ca->x) != 1) {
		ERR_clear_error();
		return rf_err_set(e, RF_EINVAL,
				  "cannot issue for '%s': the issuer is not a "
				  "ca certificate",
				  cn);
	}
	cak = rf__key_pkey(ca_key);
	if (!key_usable(ca_key) || X509_check_private_key(ca->x, cak) != 1) {
		ERR_clear_error();
		return rf_err_set(e, RF_EINVAL,
				  "the ca key does not match the ca "
				  "certificate");
	}

	/* the subject key: a supported type, and the request proves that its
	 * sender holds the private half */
	pub = X509_REQ_get_pubkey(req->r);
	if (!pub)
		return rf__crypto_fail(
		    e, RF_ECRYPTO, "request for '%s' has no usable key", cn);
	rc = rf__key_wrap(pub, &subject, e);
	if (rc)
		return rc;
	if (X509_REQ_verify(req->r, pub) <= 0) {
		rc = rf__crypto_fail(e, RF_EAUTH,
				     "request for '%s' has an invalid "
				     "signature",
				     cn);
		goto out;
	}

	x = X509_new();
	if (!x || !X509_set_version(x, X509_VERSION_3) ||
	    !set_random_serial(x) ||
	    !name_add(X509_get_subject_name(x), NID_organizationalUnitName,
		      p->role) ||
	    !name_add(X509_get_subject_name(x), NID_commonName, cn) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->x)) ||
	    !set_window(x, p->not_before, p->not_after) ||
	    !X509_set_pubkey(x, pub))
		goto fail;
	X509V3_set_ctx(&ctx, ca->x, x, NULL, NULL, 0);
	if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(x, &ctx, NID_ext_key_usage, eku_value(p->usage)) ||
	    !add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"))
		goto fail;
	if (p->dns) {
		if (!add_ext(x, &ctx, NID_subject_alt_name, san))
			goto fail;
	}
	if (X509_sign(x, cak, sign_md(cak)) <= 0)
		goto fail;
	rc = wrap_cert(x, out, e);
	x = NULL;
	goto out;
fail:
	rc = rf__crypto_fail(e, RF_ECRYPTO,
			     "cannot issue a certificate for "
			     "'%s'",
			     cn);
out:
	X509_free(x);
	rf_key_destroy(subject);
	return rc;
}

/* ---- PEM ---------------------------------------------------------------- */

enum rf_rc rf_x509_pem(const struct rf_x509 *cert, struct rf_buf *out,
		       struct rf_err *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	enum rf_rc rc;

	if (!b || !PEM_write_bio_X509(b, cert->x))
		rc = rf__crypto_fail(e, RF_ECRYPTO,
				     "cannot encode a certificate");
	else
		rc = bio_to_buf(b, out, e);
	BIO_free(b);
	return rc;
}

enum rf_rc rf_x509_parse_pem(const char *pem, size_t len, struct rf_x509 **out,
			     struct rf_err *e)
{
	X509 *x = NULL;
	BIO *b;

	*out = NULL;
	if (!pem || len == 0)
		return rf_err_set(e, RF_ECRYPTO, "no certificate in pem");
	if (len > RF_X509_PEM_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "certificate pem of %zu bytes exceeds %d",
				  len, RF_X509_PEM_MAX);
	ERR_clear_error();
	b = BIO_new_mem_buf(pem, (int)len);
	if (b)
		x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (!x)
		return rf__crypto_fail(e, RF_ECRYPTO,
				       "cannot parse a certificate");
	return wrap_cert(x, out, e);
}

enum rf_rc rf_x509_save_pem(const struct rf_x509 *cert, const char *path,
			    struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(RF_X509_PEM_MAX);
	enum rf_rc rc;

	rc = rf_x509_pem(cert, &b, e);
	if (!rc)
		rc = rf_file_write_atomic(path, b.data, b.len, 0644, e);
	else
		rf_err_prefix(e, "cannot save '%s'", path);
	rf_buf_release(&b);
	return rc;
}

enum rf_rc rf_x509_load_pem(const char *path, struct rf_x509 **out,
			    struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(RF_X509_PEM_MAX);
	enum rf_rc rc;

	*out = NULL;
	rc = rf_file_read(path, &b, e);
	if (!rc) {
		rc = rf_x509_parse_pem((const char *)b.data, b.len, out, e);
		if (rc)
			rf_err_prefix(e, "cannot load '%s'", path);
	}
	rf_buf_release(&b);
	return rc;
}

/* ---- inspection --------------------------------------------------------- */

enum rf_rc rf_x509_fingerprint(const struct rf_x509 *cert,
			       char out[RF_X509_FP_SIZE], struct rf_err *e)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!X509_digest(cert->x, EVP_sha256(), md, &len) ||
	    len != RF_SHA256_LEN)
		return rf__crypto_fail(e, RF_ECRYPTO,
				       "cannot hash a certificate");
	return rf_hex_encode(md, len, out, RF_X509_FP_SIZE, e);
}

enum rf_rc rf_x509_cn(const struct rf_x509 *cert, char *out, size_t out_size,
		      struct rf_err *e)
{
	return name_get(X509_get_subject_name(cert->x), NID_commonName,
			"certificate cn", out, out_size, e);
}

enum rf_rc rf_x509_ou(const struct rf_x509 *cert, char *out, size_t out_size,
		      struct rf_err *e)
{
	return name_get(X509_get_subject_name(cert->x),
			NID_organizationalUnitName, "certificate ou", out,
			out_size, e);
}

enum rf_rc rf_x509_not_after(const struct rf_x509 *cert, int64_t *out,
			     struct rf_err *e)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(X509_get0_notAfter(cert->x), &tm))
		return rf__crypto_fail(e, RF_ECRYPTO,
				       "cannot read a certificate's "
				       "not-after");
	*out = tm_to_unix(&tm);
	return RF_OK;
}

enum rf_rc rf_x509_public_key(const struct rf_x509 *cert, struct rf_key **out,
			      struct rf_err *e)
{
	EVP_PKEY *pk = X509_get_pubkey(cert->x);

	*out = NULL;
	if (!pk)
		return rf__crypto_fail(e, RF_ECRYPTO,
				       "certificate has no usable key");
	return rf__key_wrap(pk, out, e);
}

/* ---- verification ------------------------------------------------------- */

static enum rf_rc verify_refusal(X509_STORE_CTX *ctx, const X509 *leaf,
				 const X509 *ca, struct rf_err *e)
{
	int err = X509_STORE_CTX_get_error(ctx);
	const X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
	const char *kind;
	char who[RF_X509_NAME_MAX + 1], by[RF_X509_NAME_MAX + 1];
	char when[40];

	if (!bad)
		bad = leaf;
	kind = bad != leaf && X509_cmp(bad, ca) == 0 ? "ca certificate"
						     : "certificate";
	cert_label(bad, who, sizeof who);
	cert_label(ca, by, sizeof by);
	ERR_clear_error();
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		format_time(X509_get0_notAfter(bad), when, sizeof when);
		return rf_err_set(e, RF_EAUTH, "%s '%s' expired on %s", kind,
				  who, when);
	case X509_V_ERR_CERT_NOT_YET_VALID:
		format_time(X509_get0_notBefore(bad), when, sizeof when);
		return rf_err_set(e, RF_EAUTH, "%s '%s' is not valid before %s",
				  kind, who, when);
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return rf_err_set(e, RF_EAUTH,
				  "certificate '%s' was not issued by '%s': "
				  "%s",
				  who, by, X509_verify_cert_error_string(err));
	default:
		return rf_err_set(e, RF_EAUTH, "%s '%s' refused: %s", kind, who,
				  X509_verify_cert_error_string(err));
	}
}

enum rf_rc rf_x509_verify(const struct rf_x509 *cert, const struct rf_x509 *ca,
			  int64_t at, struct rf_err *e)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	enum rf_rc rc;

	if (at < 0 || at > TIME_MAX)
		return rf_err_set(e, RF_EINVAL, "invalid verification time");
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (!store || !ctx || !X509_STORE_add_cert(store, ca->x) ||
	    !X509_STORE_CTX_init(ctx, store, cert->x, NULL)) {
		rc = rf__crypto_fail(e, RF_ECRYPTO,
				     "cannot set up certificate "
				     "verification");
		goto out;
	}
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	X509_STORE_CTX_set_time(ctx, 0, (time_t)at);
	if (X509_verify_cert(ctx) != 1) {
		rc = verify_refusal(ctx, cert->x, ca->x, e);
		goto out;
	}
	rc = RF_OK;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rc;
}

void rf_x509_destroy(struct rf_x509 *cert)
{
	if (!cert)
		return;
	X509_free(cert->x);
	rf_free(cert);
}
