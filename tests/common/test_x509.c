/* test_x509.c - the consortium CA, requests, issued certificates, PEM
 * files, fingerprints and verification; and a TLS 1.3 mutual-certificate
 * handshake through OpenSSL with what rf_x509 issued. */
#include "rf_test.h"

#include <ctype.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_x509.h"

#define FIXTURE_DIR RF_TEST_SRCDIR "/tests/common/data/crypto/"

/* fixed instants, so the expected messages are fixed too (`date -u -d @T`)
 *   T_CA_FROM  1600000000  2020-09-13 12:26:40 UTC
 *   T_FROM     1700000000  2023-11-14 22:13:20 UTC
 *   T_UNTIL    1750000000  2025-06-15 15:06:40 UTC
 *   T_LATER    1800000000  2027-01-15 08:00:00 UTC
 *   T_CA_UNTIL 4000000000  2096-10-02 07:06:40 UTC */
#define T_CA_FROM  1600000000LL
#define T_FROM     1700000000LL
#define T_UNTIL    1750000000LL
#define T_LATER    1800000000LL
#define T_CA_UNTIL 4000000000LL
#define T_INSIDE   1720000000LL

struct pki {
	struct rf_key *ca_key, *site_key;
	struct rf_x509 *ca, *site;
};

static struct rf_x509 *issue(const struct pki *p, const char *cn,
			     const char *role, const char *dns, unsigned usage,
			     int64_t from, int64_t until,
			     const struct rf_key *key)
{
	struct rf_x509_issue_params ip = { cn, role, dns, usage, from, until };
	struct rf_x509_req *req = NULL;
	struct rf_x509 *cert = NULL;
	struct rf_err e = { 0 };

	RF_ASSERT_OK_E(rf_x509_req_create(key, cn, &req, &e), &e);
	RF_ASSERT_OK_E(rf_x509_issue(p->ca, p->ca_key, req, &ip, &cert, &e),
		       &e);
	rf_x509_req_destroy(req);
	return cert;
}

static int pki_setup(void **state)
{
	struct pki *p = calloc(1, sizeof *p);

	assert_non_null(p);
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &p->ca_key, NULL));
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &p->site_key, NULL));
	RF_ASSERT_OK(rf_x509_ca_create(p->ca_key, "radfed test CA", T_CA_FROM,
				       T_CA_UNTIL, &p->ca, NULL));
	p->site = issue(p, "site-a", "site", NULL, RF_X509_CLIENT, T_FROM,
			T_UNTIL, p->site_key);
	*state = p;
	return 0;
}

static int pki_teardown(void **state)
{
	struct pki *p = *state;

	rf_x509_destroy(p->site);
	rf_x509_destroy(p->ca);
	rf_key_destroy(p->site_key);
	rf_key_destroy(p->ca_key);
	free(p);
	return 0;
}

/* ---- issue and verify --------------------------------------------------- */

static void test_issue_and_verify(void **state)
{
	struct pki *p = *state;
	char name[RF_X509_NAME_MAX + 1];
	struct rf_key *pub = NULL;
	struct rf_err e = { 0 };
	int64_t t = 0;

	RF_ASSERT_OK_E(rf_x509_verify(p->site, p->ca, T_INSIDE, &e), &e);
	RF_ASSERT_OK_E(rf_x509_verify(p->ca, p->ca, T_INSIDE, &e), &e);
	RF_ASSERT_OK(rf_x509_cn(p->site, name, sizeof name, &e));
	assert_string_equal(name, "site-a");
	RF_ASSERT_OK(rf_x509_ou(p->site, name, sizeof name, &e));
	assert_string_equal(name, "site");
	RF_ASSERT_OK(rf_x509_cn(p->ca, name, sizeof name, &e));
	assert_string_equal(name, "radfed test CA");
	RF_ASSERT_RC(rf_x509_ou(p->ca, name, sizeof name, &e), RF_ENOTFOUND);
	RF_ASSERT_RC(rf_x509_cn(p->site, name, 6, &e), RF_EINVAL);
	RF_ASSERT_OK(rf_x509_not_after(p->site, &t, &e));
	assert_int_equal(t, T_UNTIL);
	RF_ASSERT_OK(rf_x509_not_after(p->ca, &t, &e));
	assert_int_equal(t, T_CA_UNTIL);

	/* the certificate carries the requester's key */
	RF_ASSERT_OK(rf_x509_public_key(p->site, &pub, &e));
	assert_int_equal(rf_key_type(pub), RF_KEY_P256);
	assert_false(rf_key_has_private(pub));
	rf_key_destroy(pub);

	/* both ends of the window are checked */
	RF_ASSERT_OK(rf_x509_verify(p->site, p->ca, T_FROM, &e));
	RF_ASSERT_OK(rf_x509_verify(p->site, p->ca, T_UNTIL - 1, &e));
	RF_ASSERT_RC(rf_x509_verify(p->site, p->ca, T_FROM - 1, &e), RF_EAUTH);
	assert_string_equal(e.msg, "certificate 'site-a' is not valid before "
				   "2023-11-14 22:13:20 UTC");
	RF_ASSERT_RC(rf_x509_verify(p->site, p->ca, T_UNTIL, &e), RF_EAUTH);
	assert_string_equal(e.msg, "certificate 'site-a' expired on "
				   "2025-06-15 15:06:40 UTC");
	/* the CA's own window counts too */
	RF_ASSERT_RC(rf_x509_verify(p->ca, p->ca, T_CA_UNTIL + 1, &e),
		     RF_EAUTH);
	assert_non_null(strstr(e.msg, "'radfed test CA' expired on "
				      "2096-10-02 07:06:40 UTC"));
	/* a leaf is no CA */
	RF_ASSERT_RC(rf_x509_verify(p->ca, p->site, T_INSIDE, &e), RF_EAUTH);
	assert_int_equal(ERR_peek_error(), 0);
}

/* a certificate whose not-after is in the past, checked now */
static void test_expired(void **state)
{
	struct pki *p = *state;
	int64_t now = (int64_t)time(NULL);
	time_t until = (time_t)(now - 86400);
	struct rf_x509 *old;
	struct rf_err e = { 0 };
	char want[100], when[40];
	struct tm tm;

	/* fixed dates */
	old = issue(p, "site-old", "site", NULL, RF_X509_CLIENT, T_FROM,
		    T_UNTIL, p->site_key);
	RF_ASSERT_RC(rf_x509_verify(old, p->ca, T_LATER, &e), RF_EAUTH);
	assert_string_equal(e.msg, "certificate 'site-old' expired on "
				   "2025-06-15 15:06:40 UTC");
	rf_x509_destroy(old);

	/* yesterday, checked now; the date as libc's gmtime_r sees it */
	old = issue(p, "site-old", "site", NULL, RF_X509_CLIENT,
		    now - 2 * 86400, (int64_t)until, p->site_key);
	assert_non_null(gmtime_r(&until, &tm));
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(want, sizeof want, "certificate 'site-old' expired on %s",
		 when);
	RF_ASSERT_RC(rf_x509_verify(old, p->ca, now, &e), RF_EAUTH);
	assert_string_equal(e.msg, want);
	RF_ASSERT_OK(rf_x509_verify(old, p->ca, now - 86400 - 1, &e));
	rf_x509_destroy(old);
}

static void test_other_ca(void **state)
{
	struct pki *p = *state;
	struct rf_key *k2 = NULL;
	struct rf_x509 *other = NULL, *twin = NULL;
	struct rf_err e = { 0 };

	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &k2, NULL));
	/* another CA by name */
	RF_ASSERT_OK(rf_x509_ca_create(k2, "other CA", T_CA_FROM, T_CA_UNTIL,
				       &other, NULL));
	RF_ASSERT_RC(rf_x509_verify(p->site, other, T_INSIDE, &e), RF_EAUTH);
	assert_non_null(strstr(e.msg, "certificate 'site-a' was not issued "
				      "by 'other CA': "));
	/* a CA with the same name and another key: the signature fails */
	RF_ASSERT_OK(rf_x509_ca_create(k2, "radfed test CA", T_CA_FROM,
				       T_CA_UNTIL, &twin, NULL));
	RF_ASSERT_RC(rf_x509_verify(p->site, twin, T_INSIDE, &e), RF_EAUTH);
	assert_non_null(strstr(e.msg, "certificate 'site-a' was not issued "
				      "by 'radfed test CA': "));
	/* and the real CA's key cannot issue under the twin */
	{
		struct rf_x509_issue_params ip = { NULL,   "site",
						   NULL,   RF_X509_CLIENT,
						   T_FROM, T_UNTIL };
		struct rf_x509_req *req = NULL;
		struct rf_x509 *c = NULL;

		RF_ASSERT_OK(rf_x509_req_create(p->site_key, "x", &req, &e));
		RF_ASSERT_RC(rf_x509_issue(twin, p->ca_key, req, &ip, &c, &e),
			     RF_EINVAL);
		assert_null(c);
		rf_x509_req_destroy(req);
	}
	rf_x509_destroy(other);
	rf_x509_destroy(twin);
	rf_key_destroy(k2);
}

/* ---- requests ----------------------------------------------------------- */

static void test_request_pem(void **state)
{
	struct pki *p = *state;
	struct rf_buf pem = RF_BUF_INIT(1 << 16);
	struct rf_x509_issue_params ip = { NULL,
					   "aggregator",
					   "agg.radfed.test",
					   RF_X509_SERVER | RF_X509_CLIENT,
					   T_FROM,
					   T_CA_UNTIL };
	struct rf_x509_req *req = NULL, *back = NULL;
	struct rf_x509 *cert = NULL;
	char name[RF_X509_NAME_MAX + 1];
	struct rf_err e = { 0 };

	RF_ASSERT_OK(rf_x509_req_create(p->site_key, "agg", &req, &e));
	RF_ASSERT_OK(rf_x509_req_pem(req, &pem, &e));
	assert_non_null(
	    strstr(rf_buf_str(&pem), "-----BEGIN CERTIFICATE REQUEST-----"));
	RF_ASSERT_OK(
	    rf_x509_req_parse_pem(rf_buf_str(&pem), pem.len, &back, &e));
	RF_ASSERT_OK(rf_x509_req_cn(back, name, sizeof name, &e));
	assert_string_equal(name, "agg");
	/* cn NULL: the certificate takes the request's CN */
	RF_ASSERT_OK_E(rf_x509_issue(p->ca, p->ca_key, back, &ip, &cert, &e),
		       &e);
	RF_ASSERT_OK(rf_x509_cn(cert, name, sizeof name, &e));
	assert_string_equal(name, "agg");
	RF_ASSERT_OK(rf_x509_ou(cert, name, sizeof name, &e));
	assert_string_equal(name, "aggregator");
	RF_ASSERT_OK(rf_x509_verify(cert, p->ca, T_INSIDE, &e));
	rf_x509_destroy(cert);
	rf_x509_req_destroy(back);
	back = NULL;

	/* garbage, and size limits */
	RF_ASSERT_RC(rf_x509_req_parse_pem("hello", 5, &back, &e), RF_ECRYPTO);
	RF_ASSERT_RC(rf_x509_req_parse_pem("x", RF_X509_PEM_MAX + 1, &back, &e),
		     RF_ETOOBIG);
	assert_null(back);
	rf_x509_req_destroy(req);
	rf_buf_release(&pem);
}

/* a request whose signature was changed proves nothing: RF_EAUTH */
static void test_request_bad_signature(void **state)
{
	struct pki *p = *state;
	struct rf_x509_issue_params ip = { NULL,           "site", NULL,
					   RF_X509_CLIENT, T_FROM, T_UNTIL };
	struct rf_buf pem = RF_BUF_INIT(1 << 16);
	struct rf_x509_req *req = NULL, *bad = NULL;
	struct rf_x509 *cert = NULL;
	const ASN1_BIT_STRING *sig = NULL;
	struct rf_err e = { 0 };
	X509_REQ *r;
	BIO *b;
	char *data;
	long len;

	RF_ASSERT_OK(rf_x509_req_create(p->site_key, "mallory", &req, &e));
	RF_ASSERT_OK(rf_x509_req_pem(req, &pem, &e));
	/* flip a bit of the signature with OpenSSL, re-encode */
	b = BIO_new_mem_buf(pem.data, (int)pem.len);
	r = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	assert_non_null(r);
	BIO_free(b);
	X509_REQ_get0_signature(r, &sig, NULL);
	((ASN1_BIT_STRING *)sig)->data[10] ^= 0x04;
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509_REQ(b, r), 1);
	len = BIO_get_mem_data(b, &data);
	RF_ASSERT_OK(rf_x509_req_parse_pem(data, (size_t)len, &bad, &e));
	BIO_free(b);
	X509_REQ_free(r);

	RF_ASSERT_RC(rf_x509_issue(p->ca, p->ca_key, bad, &ip, &cert, &e),
		     RF_EAUTH);
	assert_null(cert);
	assert_non_null(strstr(e.msg, "request for 'mallory' has an invalid "
				      "signature"));
	assert_int_equal(ERR_peek_error(), 0);
	rf_x509_req_destroy(bad);
	rf_x509_req_destroy(req);
	rf_buf_release(&pem);
}

static void test_bad_params(void **state)
{
	struct pki *p = *state;
	struct rf_x509_req *req = NULL;
	struct rf_x509 *c = NULL;
	struct rf_key *pubonly = NULL;
	struct rf_err e = { 0 };
	char long_name[RF_X509_NAME_MAX + 2];
	struct rf_x509_issue_params ok = { "n",    "site", NULL, RF_X509_CLIENT,
					   T_FROM, T_UNTIL };
	struct rf_x509_issue_params ip;

	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	RF_ASSERT_RC(
	    rf_x509_ca_create(p->ca_key, "a/b", T_FROM, T_UNTIL, &c, &e),
	    RF_EINVAL);
	RF_ASSERT_RC(
	    rf_x509_ca_create(p->ca_key, long_name, T_FROM, T_UNTIL, &c, &e),
	    RF_EINVAL);
	RF_ASSERT_RC(rf_x509_ca_create(p->ca_key, "", T_FROM, T_UNTIL, &c, &e),
		     RF_EINVAL);
	RF_ASSERT_RC(
	    rf_x509_ca_create(p->ca_key, "ca", T_UNTIL, T_FROM, &c, &e),
	    RF_EINVAL);
	RF_ASSERT_OK(rf_x509_public_key(p->ca, &pubonly, &e));
	RF_ASSERT_RC(rf_x509_ca_create(pubonly, "ca", T_FROM, T_UNTIL, &c, &e),
		     RF_EINVAL);
	RF_ASSERT_RC(rf_x509_req_create(pubonly, "n", &req, &e), RF_EINVAL);
	assert_null(c);
	assert_null(req);
	long_name[RF_X509_NAME_MAX] = '\0'; /* exactly 64: allowed */
	RF_ASSERT_OK(rf_x509_req_create(p->site_key, long_name, &req, &e));

	ip = ok;
	ip.cn = "a,b";
	RF_ASSERT_RC(rf_x509_issue(p->ca, p->ca_key, req, &ip, &c, &e),
		     RF_EINVAL);
	ip = ok;
	ip.role = NULL;
	RF_ASSERT_RC(rf_x509_issue(p->ca, p->ca_key, req, &ip, &c, &e),
		     RF_EINVAL);
	ip = ok;
	ip.usage = RF_X509_SERVER; /* a server needs a dns name */
	RF_ASSERT_RC(rf_x509_issue(p->ca, p->ca_key, req, &ip, &c, &e),
		     RF_EINVAL);
	ip.dns = "bad name";
	RF_ASSERT_RC(rf_x509_issue(p->ca, p->ca_key, req, &ip, &c, &e),
		     RF_EINVAL);
	ip.dns = "x,DNS:evil";
	RF_ASSERT_RC(rf_x509_issue(p->ca, p->ca_key, req, &ip, &c, &e),
		     RF_EINVAL);
	ip.dns = "a,,b"; /* an empty name in a list */
	RF_ASSERT_RC(rf_x509_issue(p->ca, p->ca_key, req, &ip, &c, &e),
		     RF_EINVAL);
	ip.dns = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"; /* 17 names */
	RF_ASSERT_RC(rf_x509_issue(p->ca, p->ca_key, req, &ip, &c, &e),
		     RF_EINVAL);
	ip = ok;
	ip.usage = 0;
	RF_ASSERT_RC(rf_x509_issue(p->ca, p->ca_key, req, &ip, &c, &e),
		     RF_EINVAL);
	ip = ok;
	ip.not_after = ip.not_before;
	RF_ASSERT_RC(rf_x509_issue(p->ca, p->ca_key, req, &ip, &c, &e),
		     RF_EINVAL);
	/* the site key is not the CA's key */
	RF_ASSERT_RC(rf_x509_issue(p->ca, p->site_key, req, &ok, &c, &e),
		     RF_EINVAL);
	/* a leaf certificate cannot issue, even with its own key */
	RF_ASSERT_RC(rf_x509_issue(p->site, p->site_key, req, &ok, &c, &e),
		     RF_EINVAL);
	assert_non_null(strstr(e.msg, "not a ca certificate"));
	assert_null(c);
	RF_ASSERT_OK(rf_x509_issue(p->ca, p->ca_key, req, &ok, &c, &e));
	rf_x509_destroy(c);
	RF_ASSERT_RC(rf_x509_verify(p->site, p->ca, -1, &e), RF_EINVAL);
	rf_x509_req_destroy(req);
	rf_key_destroy(pubonly);
	assert_int_equal(ERR_peek_error(), 0);
}

/* ---- files and fingerprints --------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s = calloc(1, 1 << 16);
	size_t n;

	assert_non_null(f);
	assert_non_null(s);
	n = fread(s, 1, (1 << 16) - 1, f);
	fclose(f);
	if (len)
		*len = n;
	return s;
}

/* fixture-cert.pem was made by gen.sh with the openssl command; its
 * fingerprint, subject and end date are what the openssl command printed */
/* Several names: DNS entries, and an IP entry for a dotted quad, as the
 * openssl command reads them; openssl verify accepts the certificate for
 * each name (the aggregator's server certificate carries its host names,
 * localhost and 127.0.0.1). */
static void test_san_list(void **state)
{
	struct pki *p = *state;
	const char *dir = rf_test_tmpdir("x509_san");
	char ca[600], cert[600];
	struct rf_x509 *srv;
	struct rf_err e = { 0 };

	srv = issue(p, "radfed-aggregator", "aggregator",
		    "agg.example.org,localhost,127.0.0.1", RF_X509_SERVER,
		    T_FROM, T_CA_UNTIL - 1, p->site_key);
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	snprintf(cert, sizeof cert, "%s/srv.pem", dir);
	RF_ASSERT_OK_E(rf_x509_save_pem(p->ca, ca, &e), &e);
	RF_ASSERT_OK_E(rf_x509_save_pem(srv, cert, &e), &e);
	assert_int_equal(rf_sh("openssl x509 -in '%s' -noout -ext "
			       "subjectAltName | grep -qx '    DNS:agg."
			       "example.org, DNS:localhost, IP Address:"
			       "127.0.0.1'", cert),
			 0);
	assert_int_equal(rf_sh("openssl verify -CAfile '%s' -verify_ip "
			       "127.0.0.1 '%s' > /dev/null", ca, cert),
			 0);
	assert_int_equal(rf_sh("openssl verify -CAfile '%s' "
			       "-verify_hostname localhost '%s' > /dev/null",
			       ca, cert),
			 0);
	/* and not for a name it does not carry */
	assert_int_not_equal(rf_sh("openssl verify -CAfile '%s' "
				   "-verify_hostname other.org '%s' "
				   "> /dev/null 2>&1", ca, cert),
			     0);
	rf_x509_destroy(srv);
}

static void test_fixture_fingerprint(void **state)
{
	char *want_fp = slurp(FIXTURE_DIR "fixture-cert.sha256", NULL);
	char *end = slurp(FIXTURE_DIR "fixture-cert.enddate", NULL);
	char fp[RF_X509_FP_SIZE], want[RF_X509_FP_SIZE];
	char name[RF_X509_NAME_MAX + 1];
	struct rf_x509 *c = NULL;
	struct rf_err e = { 0 };
	const char *s, *nl;
	size_t n = 0;
	int64_t t = 0;

	(void)state;
	/* "sha256 Fingerprint=77:4D:..." -> "774d..." */
	s = strchr(want_fp, '=');
	assert_non_null(s);
	for (s++; *s && *s != '\n'; s++) {
		if (*s == ':')
			continue;
		assert_true(n < sizeof want - 1);
		want[n++] = (char)tolower((unsigned char)*s);
	}
	want[n] = '\0';
	assert_int_equal(n, 64);

	RF_ASSERT_OK_E(rf_x509_load_pem(FIXTURE_DIR "fixture-cert.pem", &c, &e),
		       &e);
	RF_ASSERT_OK(rf_x509_fingerprint(c, fp, &e));
	assert_string_equal(fp, want);
	/* subject=CN=fixture-site,OU=site */
	RF_ASSERT_OK(rf_x509_cn(c, name, sizeof name, &e));
	assert_string_equal(name, "fixture-site");
	RF_ASSERT_OK(rf_x509_ou(c, name, sizeof name, &e));
	assert_string_equal(name, "site");
	/* second line of fixture-cert.enddate: GNU date's epoch seconds */
	nl = strchr(end, '\n');
	assert_non_null(nl);
	RF_ASSERT_OK(rf_x509_not_after(c, &t, &e));
	assert_int_equal(t, strtoll(nl + 1, NULL, 10));
	/* self-signed and made by gen.sh for 100 years: it verifies against
	 * itself, now */
	RF_ASSERT_OK_E(rf_x509_verify(c, c, (int64_t)time(NULL), &e), &e);
	rf_x509_destroy(c);
	free(want_fp);
	free(end);
}

static void test_save_load(void **state)
{
	struct pki *p = *state;
	const char *dir = rf_test_tmpdir("x509_files");
	char path[600], bad[600], fp1[RF_X509_FP_SIZE], fp2[RF_X509_FP_SIZE];
	static const char junk[] = "-----BEGIN CERTIFICATE-----\nAAAA\n"
				   "-----END CERTIFICATE-----\n";
	struct rf_buf pem = RF_BUF_INIT(1 << 16);
	struct rf_x509 *c = NULL;
	struct rf_err e = { 0 };
	struct stat st;
	char *text;
	size_t len;

	snprintf(path, sizeof path, "%s/site.pem", dir);
	snprintf(bad, sizeof bad, "%s/missing/site.pem", dir);
	RF_ASSERT_OK(rf_x509_save_pem(p->site, path, &e));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	RF_ASSERT_OK(rf_x509_pem(p->site, &pem, &e));
	text = slurp(path, &len);
	assert_int_equal(len, pem.len);
	assert_memory_equal(text, pem.data, len);
	free(text);

	RF_ASSERT_OK(rf_x509_load_pem(path, &c, &e));
	RF_ASSERT_OK(rf_x509_fingerprint(p->site, fp1, &e));
	RF_ASSERT_OK(rf_x509_fingerprint(c, fp2, &e));
	assert_string_equal(fp1, fp2);
	assert_int_equal(strlen(fp1), 64);
	RF_ASSERT_OK(rf_x509_verify(c, p->ca, T_INSIDE, &e));
	rf_x509_destroy(c);
	c = NULL;

	RF_ASSERT_RC(rf_x509_save_pem(p->site, bad, &e), RF_EIO);
	RF_ASSERT_RC(rf_x509_load_pem(bad, &c, &e), RF_EIO);
	assert_null(c);
	/* a key file is not a certificate */
	RF_ASSERT_OK(rf_key_save_public_pem(p->site_key, path, &e));
	RF_ASSERT_RC(rf_x509_load_pem(path, &c, &e), RF_ECRYPTO);
	assert_non_null(strstr(e.msg, "site.pem"));
	RF_ASSERT_RC(rf_x509_parse_pem("", 0, &c, &e), RF_ECRYPTO);
	/* OpenSSL's reason is appended, and its error queue left empty */
	RF_ASSERT_RC(rf_x509_parse_pem(junk, strlen(junk), &c, &e), RF_ECRYPTO);
	assert_non_null(strstr(e.msg, "cannot parse a certificate: "));
	assert_true(strlen(e.msg) > strlen("cannot parse a certificate: "));
	assert_int_equal(ERR_peek_error(), 0);
	rf_buf_release(&pem);
}

/* the load, issue and CA paths allocate through rf_malloc: every failure is
 * RF_ENOMEM and leaks nothing */
static void test_oom(void **state)
{
	struct pki *p = *state;
	struct rf_x509_issue_params ip = { NULL,           "site", NULL,
					   RF_X509_CLIENT, T_FROM, T_UNTIL };
	struct rf_x509_req *req = NULL;
	struct rf_x509 *c = NULL;
	enum rf_rc rc;

	RF_TEST_OOM_LOOP(
	    rc, rc = rf_x509_load_pem(FIXTURE_DIR "fixture-cert.pem", &c, NULL),
	    rf_x509_destroy(c));
	RF_TEST_OOM_LOOP(
	    rc,
	    rc = rf_x509_ca_create(p->ca_key, "ca", T_FROM, T_UNTIL, &c, NULL),
	    rf_x509_destroy(c));
	RF_ASSERT_OK(rf_x509_req_create(p->site_key, "oom", &req, NULL));
	RF_TEST_OOM_LOOP(
	    rc, rc = rf_x509_issue(p->ca, p->ca_key, req, &ip, &c, NULL),
	    rf_x509_destroy(c));
	rf_x509_req_destroy(req);
}

/* ---- TLS 1.3 ------------------------------------------------------------ */

static SSL_CTX *tls_ctx(int server, const char *cert, const char *key,
			const char *ca)
{
	SSL_CTX *c =
	    SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	assert_non_null(c);
	assert_int_equal(SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION), 1);
	assert_int_equal(
	    SSL_CTX_use_certificate_file(c, cert, SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM),
			 1);
	assert_int_equal(SSL_CTX_check_private_key(c), 1);
	assert_int_equal(SSL_CTX_load_verify_locations(c, ca, NULL), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   NULL);
	return c;
}

static BIGNUM *serial_of(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	BIGNUM *bn;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(bn);
	X509_free(x);
	return bn;
}

/* Runs a handshake over a memory BIO pair; 1 when both sides finish. */
static int handshake(SSL *cs, SSL *ss)
{
	BIO *b1 = NULL, *b2 = NULL;

	assert_int_equal(BIO_new_bio_pair(&b1, 0, &b2, 0), 1);
	SSL_set_bio(cs, b1, b1);
	SSL_set_bio(ss, b2, b2);
	SSL_set_connect_state(cs);
	SSL_set_accept_state(ss);
	for (int i = 0; i < 50; i++) {
		int rc = SSL_do_handshake(cs), rs = SSL_do_handshake(ss);
		int ec = SSL_get_error(cs, rc), es = SSL_get_error(ss, rs);

		if (rc == 1 && rs == 1)
			return 1;
		if ((rc != 1 && ec != SSL_ERROR_WANT_READ &&
		     ec != SSL_ERROR_WANT_WRITE) ||
		    (rs != 1 && es != SSL_ERROR_WANT_READ &&
		     es != SSL_ERROR_WANT_WRITE))
			return 0;
	}
	return 0;
}

/* the issued server and client certificates and keys, as files, make a
 * TLS 1.3 mutual-certificate connection with OpenSSL's default checks
 * (chain, validity now, purpose from extKeyUsage, host name from SAN) */
static void test_tls13_handshake(void **state)
{
	struct pki *p = *state;
	const char *dir = rf_test_tmpdir("x509_tls");
	int64_t now = (int64_t)time(NULL);
	char ca[600], scert[600], skey[600], ccert[600], ckey[600];
	struct rf_key *sk = NULL, *ck = NULL;
	struct rf_x509 *srv, *cli, *cli_srv;
	struct rf_err e = { 0 };
	SSL_CTX *sctx, *cctx;
	SSL *ss, *cs;
	X509 *peer;
	char cn[64];

	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	snprintf(scert, sizeof scert, "%s/agg.pem", dir);
	snprintf(skey, sizeof skey, "%s/agg.key", dir);
	snprintf(ccert, sizeof ccert, "%s/site.pem", dir);
	snprintf(ckey, sizeof ckey, "%s/site.key", dir);
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &sk, &e));
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &ck, &e));
	srv = issue(p, "aggregator", "aggregator", "agg.radfed.test",
		    RF_X509_SERVER, now - 60, now + 3600, sk);
	cli = issue(p, "site-a", "site", NULL, RF_X509_CLIENT, now - 60,
		    now + 3600, ck);
	RF_ASSERT_OK(rf_x509_save_pem(p->ca, ca, &e));
	RF_ASSERT_OK(rf_x509_save_pem(srv, scert, &e));
	RF_ASSERT_OK(rf_key_save_private_pem(sk, skey, &e));
	RF_ASSERT_OK(rf_x509_save_pem(cli, ccert, &e));
	RF_ASSERT_OK(rf_key_save_private_pem(ck, ckey, &e));

	sctx = tls_ctx(1, scert, skey, ca);
	cctx = tls_ctx(0, ccert, ckey, ca);
	ss = SSL_new(sctx);
	cs = SSL_new(cctx);
	assert_int_equal(SSL_set1_host(cs, "agg.radfed.test"), 1);
	assert_int_equal(handshake(cs, ss), 1);
	assert_int_equal(SSL_version(cs), TLS1_3_VERSION);
	assert_int_equal(SSL_get_verify_result(cs), X509_V_OK);
	assert_int_equal(SSL_get_verify_result(ss), X509_V_OK);
	peer = SSL_get1_peer_certificate(ss);
	assert_non_null(peer);
	X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName,
				  cn, sizeof cn);
	assert_string_equal(cn, "site-a");
	X509_free(peer);
	SSL_free(cs);

	/* the wrong host name is refused by the client */
	cs = SSL_new(cctx);
	SSL_free(ss);
	ss = SSL_new(sctx);
	assert_int_equal(SSL_set1_host(cs, "other.radfed.test"), 1);
	assert_int_equal(handshake(cs, ss), 0);
	assert_int_equal(SSL_get_verify_result(cs),
			 X509_V_ERR_HOSTNAME_MISMATCH);
	SSL_free(cs);
	SSL_free(ss);
	SSL_CTX_free(cctx);

	/* a server-only certificate cannot act as a client: extKeyUsage */
	cli_srv = issue(p, "site-b", "site", "site-b.radfed.test",
			RF_X509_SERVER, now - 60, now + 3600, ck);
	RF_ASSERT_OK(rf_x509_save_pem(cli_srv, ccert, &e));
	cctx = tls_ctx(0, ccert, ckey, ca);
	cs = SSL_new(cctx);
	ss = SSL_new(sctx);
	assert_int_equal(handshake(cs, ss), 0);
	assert_int_equal(SSL_get_verify_result(ss), X509_V_ERR_INVALID_PURPOSE);
	SSL_free(cs);
	SSL_free(ss);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	ERR_clear_error();

	/* serials: positive, 128 random bits, different every time */
	{
		BIGNUM *s1 = serial_of(scert), *s2 = serial_of(ccert);

		assert_false(BN_is_negative(s1));
		assert_true(BN_num_bits(s1) > 64 && BN_num_bits(s1) <= 128);
		assert_true(BN_num_bits(s2) > 64 && BN_num_bits(s2) <= 128);
		assert_int_not_equal(BN_cmp(s1, s2), 0);
		BN_free(s1);
		BN_free(s2);
	}

	/* the openssl command agrees: chain, and fingerprint */
	{
		char cmd[2000], out[200], fp[RF_X509_FP_SIZE], want[100];
		size_t n = 0;
		FILE *f;

		snprintf(cmd, sizeof cmd,
			 "openssl verify -CAfile '%s' '%s' >/dev/null 2>&1", ca,
			 scert);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof cmd,
			 "openssl x509 -in '%s' -noout -fingerprint -sha256",
			 scert);
		f = popen(cmd, "r");
		assert_non_null(f);
		assert_non_null(fgets(out, sizeof out, f));
		assert_int_equal(pclose(f), 0);
		for (const char *s = strchr(out, '=') + 1; *s > ' '; s++)
			if (*s != ':' && n < sizeof want - 1)
				want[n++] = (char)tolower((unsigned char)*s);
		want[n] = '\0';
		RF_ASSERT_OK(rf_x509_fingerprint(srv, fp, &e));
		assert_string_equal(fp, want);
	}
	rf_x509_destroy(cli_srv);
	rf_x509_destroy(srv);
	rf_x509_destroy(cli);
	rf_key_destroy(sk);
	rf_key_destroy(ck);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_and_verify),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_other_ca),
		cmocka_unit_test(test_request_pem),
		cmocka_unit_test(test_request_bad_signature),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_san_list),
		cmocka_unit_test(test_fixture_fingerprint),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_oom),
		cmocka_unit_test(test_tls13_handshake),
	};

	return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
