/* test_rpc.c - the RPC layer over real TLS on loopback: a CA, server and
 * client certificates from rf_x509, a server on port 0, and calls of every
 * kind, the access checks (and the refusals reported to the server's
 * hook), refused certificates, limits, deadlines, concurrency and shutdown
 * with a call in flight. */
#include "rf_test.h"
#include "rf_test_pki.h"

#include <pthread.h>
#include <ctype.h>
#include <stdatomic.h>
#include <time.h>

#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "rf_rpc.h"
#include "rf_x509.h"

#define BIG (20u << 20) /* 20 MiB */
/* SHA-256 of pattern(BIG), computed independently by
 *   /usr/bin/python3 -c 'import hashlib; n=20<<20; print(hashlib.sha256(
 *     bytes(((i * 2654435761) & 0xffffffff) >> 24 for i in range(n))
 *   ).hexdigest())' */
#define BIG_SHA256 \
	"6829a2ae36d2eae0a433e4d06ba8472ce882f7b3a75b24a7a8b1b6926af28671"

static const char *const roles_site[] = {"site", NULL};
static const char *const roles_res[] = {"researcher", NULL};
static const char *const roles_any[] = {"site", "researcher", NULL};

/* ---- the certificates --------------------------------------------------- */

/* what the refused hook saw last */
struct refusal {
	char method[RF_RPC_PATH_MAX + 1];
	char cn[RF_X509_NAME_MAX + 1];
	char fp[RF_X509_FP_SIZE];
	int anonymous;
	enum rf_rc rc;
	char reason[RF_ERR_MSG_MAX];
};

struct fixture {
	char *ca_pem, *ca2_pem;
	char ca_fp[RF_X509_FP_SIZE];
	struct rf_test_cred server, site, researcher, auditor, other_ca_site,
	    expired, future;
	struct rf_rpc_server *srv;
	char target[64];
	/* written by the tests before the calls, read by handlers */
	char revoked_fp[RF_X509_FP_SIZE];
	atomic_int hold_entered;
	atomic_int hold_saw_cancel;
	atomic_int slow_saw_cancel;
	atomic_int slow_done;
	pthread_mutex_t mu; /* guards last and n_refused */
	struct refusal last;
	int n_refused;
};

static struct fixture *fx;

/* ---- the handlers ------------------------------------------------------- */

static void pattern(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(((uint32_t)i * 2654435761u) >> 24);
}

static enum rf_rc h_echo(struct rf_rpc_call *c, void *user, struct rf_err *e)
{
	size_t n;
	const uint8_t *p = rf_rpc_call_request(c, &n);

	(void)user;
	return rf_rpc_call_respond(c, p, n, e);
}

/* "cn|role|fingerprint" or "anonymous" */
static enum rf_rc h_whoami(struct rf_rpc_call *c, void *user,
			   struct rf_err *e)
{
	const struct rf_rpc_peer *p = rf_rpc_call_peer(c);
	char s[300];
	int n;

	(void)user;
	if (p->anonymous)
		n = snprintf(s, sizeof s, "anonymous");
	else
		n = snprintf(s, sizeof s, "%s|%s|%s", p->cn, p->role,
			     p->fingerprint);
	return rf_rpc_call_respond(c, s, (size_t)n, e);
}

static enum rf_rc h_fail(struct rf_rpc_call *c, void *user, struct rf_err *e)
{
	(void)c;
	(void)user;
	return rf_err_set(e, RF_EPOLICY, "round 'r7' declined by policy");
}

/* request: the payload size as 8 bytes little-endian */
static enum rf_rc h_download(struct rf_rpc_call *c, void *user,
			     struct rf_err *e)
{
	size_t n, len = 0;
	const uint8_t *p = rf_rpc_call_request(c, &n);
	uint8_t *data;
	enum rf_rc rc;

	(void)user;
	if (n != 8)
		return rf_err_set(e, RF_EINVAL, "want 8 bytes, got %zu", n);
	for (int i = 7; i >= 0; i--)
		len = len << 8 | p[i];
	if (len > BIG)
		return rf_err_set(e, RF_ETOOBIG, "too much");
	data = rf_malloc(len);
	if (!data)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	pattern(data, len);
	rc = rf_rpc_call_send_chunked(c, data, len, e);
	rf_free(data);
	return rc;
}

/* response: SHA-256 of everything uploaded, then its length (8 bytes LE) */
static enum rf_rc h_upload(struct rf_rpc_call *c, void *user,
			   struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(BIG + 1024);
	uint8_t out[RF_SHA256_LEN + 8];
	enum rf_rc rc;

	(void)user;
	rc = rf_rpc_call_read_all(c, &b, e);
	if (rc == RF_OK)
		rc = rf_sha256(b.data, b.len, out, e);
	for (int i = 0; i < 8; i++)
		out[RF_SHA256_LEN + i] = (uint8_t)((uint64_t)b.len >> (8 * i));
	if (rc == RF_OK)
		rc = rf_rpc_call_respond(c, out, sizeof out, e);
	rf_buf_release(&b);
	return rc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* a long poll that nothing answers: waits for the end of the call */
static enum rf_rc h_slow(struct rf_rpc_call *c, void *user, struct rf_err *e)
{
	struct fixture *f = user;
	enum rf_rc rc = RF_OK;

	for (int i = 0; i < 1000 && rc == RF_OK; i++) {
		if (rf_rpc_call_cancelled(c)) {
			atomic_store(&f->slow_saw_cancel, 1);
			rc = rf_err_set(e, RF_ETIMEDOUT, "nothing to do");
		}
		sleep_ms(10);
	}
	if (rc == RF_OK)
		rc = rf_rpc_call_respond(c, "late", 4, e);
	atomic_store(&f->slow_done, 1);
	return rc;
}

static enum rf_rc h_hold(struct rf_rpc_call *c, void *user, struct rf_err *e)
{
	struct fixture *f = user;

	atomic_store(&f->hold_entered, 1);
	for (int i = 0; i < 1000; i++) {
		if (rf_rpc_call_cancelled(c)) {
			atomic_store(&f->hold_saw_cancel, 1);
			return rf_err_set(e, RF_EIO, "cancelled");
		}
		sleep_ms(10);
	}
	return rf_rpc_call_respond(c, "held", 4, e);
}

static int is_revoked(const char *fp, void *user)
{
	struct fixture *f = user;

	return f->revoked_fp[0] && strcmp(fp, f->revoked_fp) == 0;
}

static void on_refused(const char *method, const struct rf_rpc_peer *peer,
		       enum rf_rc rc, const char *reason, void *user)
{
	struct fixture *f = user;

	pthread_mutex_lock(&f->mu);
	snprintf(f->last.method, sizeof f->last.method, "%s", method);
	snprintf(f->last.cn, sizeof f->last.cn, "%s", peer->cn);
	snprintf(f->last.fp, sizeof f->last.fp, "%s", peer->fingerprint);
	snprintf(f->last.reason, sizeof f->last.reason, "%s", reason);
	f->last.anonymous = peer->anonymous;
	f->last.rc = rc;
	f->n_refused++;
	pthread_mutex_unlock(&f->mu);
}

/* Checks that the last call was refused and reported as such, and forgets
 * it. cr NULL: an anonymous caller. */
static void assert_refused(const char *method, const struct rf_test_cred *cr,
			   enum rf_rc rc, const char *reason_part)
{
	pthread_mutex_lock(&fx->mu);
	if (fx->n_refused != 1)
		fail_msg("%d refusals reported, want 1", fx->n_refused);
	assert_string_equal(fx->last.method, method);
	assert_string_equal(fx->last.cn, cr ? cr->cn : "");
	assert_string_equal(fx->last.fp, cr ? cr->fp : "");
	assert_int_equal(fx->last.anonymous, cr == NULL);
	assert_int_equal(fx->last.rc, rc);
	if (!strstr(fx->last.reason, reason_part))
		fail_msg("reason '%s' lacks '%s'", fx->last.reason,
			 reason_part);
	fx->n_refused = 0;
	memset(&fx->last, 0, sizeof fx->last);
	pthread_mutex_unlock(&fx->mu);
}

static void assert_none_refused(void)
{
	pthread_mutex_lock(&fx->mu);
	assert_int_equal(fx->n_refused, 0);
	pthread_mutex_unlock(&fx->mu);
}

static const struct rf_rpc_method methods[] = {
	{"/t.Echo/Echo", RF_RPC_UNARY, 0, roles_any, 0, h_echo},
	{"/t.Echo/WhoAmI", RF_RPC_UNARY, 0, NULL, 0, h_whoami},
	{"/t.Enroll/Enroll", RF_RPC_UNARY, 1, NULL, 0, h_whoami},
	{"/t.Control/Start", RF_RPC_UNARY, 0, roles_res, 0, h_echo},
	{"/t.Echo/Small", RF_RPC_UNARY, 0, NULL, 1024, h_echo},
	{"/t.Echo/Fail", RF_RPC_UNARY, 0, NULL, 0, h_fail},
	{"/t.Fed/GetModel", RF_RPC_SERVER_STREAM, 0, roles_site, 8,
	 h_download},
	{"/t.Fed/Upload", RF_RPC_CLIENT_STREAM, 0, roles_site, RF_RPC_CHUNK,
	 h_upload},
	{"/t.Fed/NextTask", RF_RPC_UNARY, 0, NULL, 0, h_slow},
	{"/t.Fed/Hold", RF_RPC_UNARY, 0, NULL, 0, h_hold},
};

static struct rf_rpc_server *server_start(struct fixture *f)
{
	struct rf_rpc_server_opts o = {0};
	struct rf_rpc_server *s = NULL;
	struct rf_err e = {0};

	o.listen = "127.0.0.1:0";
	o.cert_pem = f->server.cert;
	o.key_pem = f->server.key;
	o.ca_pem = f->ca_pem;
	o.methods = methods;
	o.n_methods = sizeof methods / sizeof methods[0];
	o.revoked = is_revoked;
	o.refused = on_refused;
	o.user = f;
	RF_ASSERT_OK_E(rf_rpc_server_create(&o, &s, &e), &e);
	assert_true(rf_rpc_server_port(s) > 0);
	return s;
}

static int fx_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct rf_key *ca_key = NULL, *ca2_key = NULL;
	struct rf_x509 *ca = NULL, *ca2 = NULL;
	const char *dir = rf_test_tmpdir("rpc");
	int64_t now = (int64_t)time(NULL);
	int64_t from = now - 3600, until = now + 86400;

	assert_non_null(f);
	assert_int_equal(pthread_mutex_init(&f->mu, NULL), 0);
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &ca_key, NULL));
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &ca2_key, NULL));
	RF_ASSERT_OK(rf_x509_ca_create(ca_key, "radfed test CA", from,
				       until, &ca, NULL));
	RF_ASSERT_OK(rf_x509_ca_create(ca2_key, "another CA", from, until,
				       &ca2, NULL));
	f->ca_pem = rf_test_pem_of_cert(ca);
	f->ca2_pem = rf_test_pem_of_cert(ca2);
	RF_ASSERT_OK(rf_x509_fingerprint(ca, f->ca_fp, NULL));
	rf_test_cred_make(&f->server, ca, ca_key, "aggregator", "aggregator",
			  "localhost", RF_X509_SERVER, from, until, dir);
	rf_test_cred_make(&f->site, ca, ca_key, "site-a", "site", NULL,
			  RF_X509_CLIENT, from, until, dir);
	rf_test_cred_make(&f->researcher, ca, ca_key, "alice", "researcher",
			  NULL, RF_X509_CLIENT, from, until, dir);
	rf_test_cred_make(&f->auditor, ca, ca_key, "audrey", "auditor", NULL,
			  RF_X509_CLIENT, from, until, dir);
	rf_test_cred_make(&f->other_ca_site, ca2, ca2_key, "site-x", "site",
			  NULL, RF_X509_CLIENT, from, until, dir);
	/* valid for an hour, ended a day ago */
	rf_test_cred_make(&f->expired, ca, ca_key, "site-old", "site", NULL,
			  RF_X509_CLIENT, now - 90000, now - 86400, dir);
	/* valid from tomorrow */
	rf_test_cred_make(&f->future, ca, ca_key, "site-new", "site", NULL,
			  RF_X509_CLIENT, now + 86400, until + 86400, dir);
	rf_x509_destroy(ca);
	rf_x509_destroy(ca2);
	rf_key_destroy(ca_key);
	rf_key_destroy(ca2_key);

	f->srv = server_start(f);
	snprintf(f->target, sizeof f->target, "127.0.0.1:%d",
		 rf_rpc_server_port(f->srv));
	fx = f;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fixture *f = *state;

	rf_rpc_server_destroy(f->srv);
	pthread_mutex_destroy(&f->mu);
	free(f->ca_pem);
	free(f->ca2_pem);
	rf_test_cred_free(&f->server);
	rf_test_cred_free(&f->site);
	rf_test_cred_free(&f->researcher);
	rf_test_cred_free(&f->auditor);
	rf_test_cred_free(&f->other_ca_site);
	rf_test_cred_free(&f->expired);
	rf_test_cred_free(&f->future);
	free(f);
	return 0;
}

/* A client of the fixture's server as cred (NULL: anonymous). */
static struct rf_rpc_client *client_as(const struct rf_test_cred *cr)
{
	struct rf_rpc_client_opts o = {0};
	struct rf_rpc_client *c = NULL;
	struct rf_err e = {0};

	o.target = fx->target;
	o.ca_pem = fx->ca_pem;
	o.cert_pem = cr ? cr->cert : NULL;
	o.key_pem = cr ? cr->key : NULL;
	o.server_name = "localhost";
	RF_ASSERT_OK_E(rf_rpc_client_create(&o, &c, &e), &e);
	return c;
}

/* ---- tests -------------------------------------------------------------- */

static void test_unary_echo(void **state)
{
	struct rf_rpc_client *c = client_as(&fx->site);
	struct rf_buf b = RF_BUF_INIT(1 << 20);
	struct rf_err e = {0};
	char want[300];

	(void)state;
	RF_ASSERT_OK_E(rf_rpc_client_unary(c, "/t.Echo/Echo", "bonjour", 7,
					   5000, &b, &e), &e);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.data, "bonjour", 7);
	/* an empty message is a message */
	RF_ASSERT_OK_E(rf_rpc_client_unary(c, "/t.Echo/Echo", NULL, 0, 5000,
					   &b, &e), &e);
	assert_int_equal(b.len, 0);
	/* the handler sees who called, from the certificate */
	RF_ASSERT_OK_E(rf_rpc_client_unary(c, "/t.Echo/WhoAmI", "", 0, 5000,
					   &b, &e), &e);
	snprintf(want, sizeof want, "site-a|site|%s", fx->site.fp);
	assert_string_equal(rf_buf_str(&b), want);
	/* a response bigger than the caller's buffer */
	rf_buf_release(&b);
	rf_buf_init(&b, 4);
	RF_ASSERT_RC(rf_rpc_client_unary(c, "/t.Echo/Echo", "bonjour", 7,
					 5000, &b, &e), RF_ETOOBIG);
	rf_buf_release(&b);
	rf_rpc_client_destroy(c);
}

static void test_handler_error(void **state)
{
	struct rf_rpc_client *c = client_as(&fx->site);
	struct rf_buf b = RF_BUF_INIT(1024);
	struct rf_err e = {0};

	(void)state;
	/* the handler's code and message reach the caller */
	RF_ASSERT_RC(rf_rpc_client_unary(c, "/t.Echo/Fail", "x", 1, 5000, &b,
					 &e), RF_EPOLICY);
	assert_non_null(strstr(e.msg, "round 'r7' declined by policy"));
	rf_buf_release(&b);
	rf_rpc_client_destroy(c);
}

static void test_download_20mib(void **state)
{
	struct rf_rpc_client *c = client_as(&fx->site);
	struct rf_buf b = RF_BUF_INIT(BIG);
	struct rf_err e = {0};
	uint8_t req[8], d[RF_SHA256_LEN];
	char hex[2 * RF_SHA256_LEN + 1];

	(void)state;
	for (int i = 0; i < 8; i++)
		req[i] = (uint8_t)((uint64_t)BIG >> (8 * i));
	RF_ASSERT_OK_E(rf_rpc_client_download(c, "/t.Fed/GetModel", req, 8,
					      20000, &b, &e), &e);
	assert_int_equal(b.len, BIG);
	RF_ASSERT_OK(rf_sha256(b.data, b.len, d, NULL));
	RF_ASSERT_OK(rf_hex_encode(d, sizeof d, hex, sizeof hex, NULL));
	assert_string_equal(hex, BIG_SHA256);
	/* a download over the caller's cap is cut off */
	rf_buf_release(&b);
	rf_buf_init(&b, BIG - 1);
	RF_ASSERT_RC(rf_rpc_client_download(c, "/t.Fed/GetModel", req, 8,
					    20000, &b, &e), RF_ETOOBIG);
	rf_buf_release(&b);
	rf_rpc_client_destroy(c);
}

static void test_upload_20mib(void **state)
{
	struct rf_rpc_client *c = client_as(&fx->site);
	struct rf_buf b = RF_BUF_INIT(1024);
	struct rf_err e = {0};
	uint8_t *data = malloc(BIG);
	char hex[2 * RF_SHA256_LEN + 1];
	uint64_t len = 0;

	(void)state;
	assert_non_null(data);
	pattern(data, BIG);
	RF_ASSERT_OK_E(rf_rpc_client_upload(c, "/t.Fed/Upload", data, BIG,
					    20000, &b, &e), &e);
	assert_int_equal(b.len, RF_SHA256_LEN + 8);
	RF_ASSERT_OK(rf_hex_encode(b.data, RF_SHA256_LEN, hex, sizeof hex,
				   NULL));
	assert_string_equal(hex, BIG_SHA256);
	for (int i = 7; i >= 0; i--)
		len = len << 8 | b.data[RF_SHA256_LEN + i];
	assert_int_equal(len, BIG);
	free(data);
	rf_buf_release(&b);
	rf_rpc_client_destroy(c);
}

static void test_roles(void **state)
{
	struct rf_rpc_client *site = client_as(&fx->site);
	struct rf_rpc_client *res = client_as(&fx->researcher);
	struct rf_rpc_client *aud = client_as(&fx->auditor);
	struct rf_rpc_client *anon = client_as(NULL);
	struct rf_buf b = RF_BUF_INIT(1 << 20);
	struct rf_err e = {0};
	uint8_t req[8] = {16};

	(void)state;
	/* a site calling a researcher method */
	RF_ASSERT_RC(rf_rpc_client_unary(site, "/t.Control/Start", "go", 2,
					 5000, &b, &e), RF_EAUTH);
	assert_non_null(strstr(e.msg, "role 'site'"));
	assert_refused("/t.Control/Start", &fx->site, RF_EAUTH,
		       "role 'site' of 'site-a' may not call");
	RF_ASSERT_OK_E(rf_rpc_client_unary(res, "/t.Control/Start", "go", 2,
					   5000, &b, &e), &e);
	assert_none_refused();
	/* a researcher calling a site stream */
	RF_ASSERT_RC(rf_rpc_client_download(res, "/t.Fed/GetModel", req, 8,
					    5000, &b, &e), RF_EAUTH);
	assert_refused("/t.Fed/GetModel", &fx->researcher, RF_EAUTH,
		       "role 'researcher'");
	RF_ASSERT_RC(rf_rpc_client_upload(res, "/t.Fed/Upload", "x", 1,
					  5000, &b, &e), RF_EAUTH);
	assert_refused("/t.Fed/Upload", &fx->researcher, RF_EAUTH,
		       "role 'researcher'");
	/* an auditor is certified but in neither list */
	RF_ASSERT_RC(rf_rpc_client_unary(aud, "/t.Echo/Echo", "x", 1, 5000,
					 &b, &e), RF_EAUTH);
	assert_refused("/t.Echo/Echo", &fx->auditor, RF_EAUTH,
		       "role 'auditor'");
	RF_ASSERT_OK_E(rf_rpc_client_unary(aud, "/t.Echo/WhoAmI", "", 0,
					   5000, &b, &e), &e);
	/* anonymous: only the enrollment method */
	RF_ASSERT_OK_E(rf_rpc_client_unary(anon, "/t.Enroll/Enroll", "", 0,
					   5000, &b, &e), &e);
	assert_string_equal(rf_buf_str(&b), "anonymous");
	RF_ASSERT_RC(rf_rpc_client_unary(anon, "/t.Echo/WhoAmI", "", 0, 5000,
					 &b, &e), RF_EAUTH);
	assert_non_null(strstr(e.msg, "needs a client certificate"));
	assert_refused("/t.Echo/WhoAmI", NULL, RF_EAUTH,
		       "needs a client certificate");
	RF_ASSERT_RC(rf_rpc_client_unary(anon, "/t.Echo/Echo", "x", 1, 5000,
					 &b, &e), RF_EAUTH);
	assert_refused("/t.Echo/Echo", NULL, RF_EAUTH,
		       "needs a client certificate");
	/* a certified caller may use the open method too */
	RF_ASSERT_OK_E(rf_rpc_client_unary(site, "/t.Enroll/Enroll", "", 0,
					   5000, &b, &e), &e);
	assert_true(strncmp(rf_buf_str(&b), "site-a|site|", 12) == 0);
	assert_none_refused();
	rf_buf_release(&b);
	rf_rpc_client_destroy(site);
	rf_rpc_client_destroy(res);
	rf_rpc_client_destroy(aud);
	rf_rpc_client_destroy(anon);
}

static void test_revoked(void **state)
{
	struct rf_rpc_client *site = client_as(&fx->site);
	struct rf_rpc_client *res = client_as(&fx->researcher);
	struct rf_buf b = RF_BUF_INIT(1024);
	struct rf_err e = {0};

	(void)state;
	memcpy(fx->revoked_fp, fx->site.fp, RF_X509_FP_SIZE);
	RF_ASSERT_RC(rf_rpc_client_unary(site, "/t.Echo/Echo", "x", 1, 5000,
					 &b, &e), RF_EAUTH);
	assert_non_null(strstr(e.msg, "revoked"));
	assert_non_null(strstr(e.msg, fx->site.fp));
	assert_refused("/t.Echo/Echo", &fx->site, RF_EAUTH, "is revoked");
	/* others are not affected */
	RF_ASSERT_OK_E(rf_rpc_client_unary(res, "/t.Echo/Echo", "x", 1, 5000,
					   &b, &e), &e);
	fx->revoked_fp[0] = '\0';
	RF_ASSERT_OK_E(rf_rpc_client_unary(site, "/t.Echo/Echo", "x", 1,
					   5000, &b, &e), &e);
	rf_buf_release(&b);
	rf_rpc_client_destroy(site);
	rf_rpc_client_destroy(res);
}

static void test_unknown_method(void **state)
{
	struct rf_rpc_client *c = client_as(&fx->site);
	struct rf_buf b = RF_BUF_INIT(1024);
	struct rf_err e = {0};

	(void)state;
	RF_ASSERT_RC(rf_rpc_client_unary(c, "/t.Echo/Nope", "x", 1, 5000, &b,
					 &e), RF_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "unknown method '/t.Echo/Nope'"));
	assert_refused("/t.Echo/Nope", &fx->site, RF_EUNSUPPORTED,
		       "unknown method");
	RF_ASSERT_RC(rf_rpc_client_unary(c, "no-slash", "x", 1, 5000, &b,
					 &e), RF_EINVAL);
	rf_buf_release(&b);
	rf_rpc_client_destroy(c);
}

struct oversized {
	const uint8_t *p;
	int sent;
};

/* one message of RF_RPC_CHUNK + 1 bytes, then the end */
static enum rf_rc next_oversized(const uint8_t **p, size_t *n, void *ctx,
				 struct rf_err *e)
{
	struct oversized *o = ctx;

	(void)e;
	*p = o->sent ? NULL : o->p;
	*n = o->sent ? 0 : RF_RPC_CHUNK + 1;
	o->sent = 1;
	return RF_OK;
}

static void test_too_big(void **state)
{
	struct rf_rpc_client *c = client_as(&fx->site);
	struct rf_buf b = RF_BUF_INIT(1 << 20);
	struct rf_err e = {0};
	static uint8_t big[RF_RPC_MSG_MAX + 1];
	struct oversized ov = {big, 0};

	(void)state;
	RF_ASSERT_OK_E(rf_rpc_client_unary(c, "/t.Echo/Small", big, 1024,
					   5000, &b, &e), &e);
	/* over the method's limit */
	RF_ASSERT_RC(rf_rpc_client_unary(c, "/t.Echo/Small", big, 1025, 5000,
					 &b, &e), RF_ETOOBIG);
	assert_non_null(strstr(e.msg, "request message of 1025 bytes "
				      "exceeds the limit of 1024 bytes"));
	assert_refused("/t.Echo/Small", &fx->site, RF_ETOOBIG,
		       "exceeds the limit of 1024 bytes");
	/* a message of the largest size, each way */
	rf_buf_release(&b);
	rf_buf_init(&b, RF_RPC_MSG_MAX);
	big[0] = 0x5a;
	big[RF_RPC_MSG_MAX - 1] = 0xa5;
	RF_ASSERT_OK_E(rf_rpc_client_unary(c, "/t.Echo/Echo", big,
					   RF_RPC_MSG_MAX, 20000, &b, &e),
		       &e);
	assert_int_equal(b.len, RF_RPC_MSG_MAX);
	assert_memory_equal(b.data, big, RF_RPC_MSG_MAX);
	/* one byte more: refused before sending */
	RF_ASSERT_RC(rf_rpc_client_unary(c, "/t.Echo/Echo", big,
					 RF_RPC_MSG_MAX + 1, 5000, &b, &e),
		     RF_ETOOBIG);
	/* one message of an upload over the method's limit */
	RF_ASSERT_RC(rf_rpc_client_client_stream(c, "/t.Fed/Upload",
						 next_oversized, &ov, 5000,
						 &b, &e),
		     RF_ETOOBIG);
	assert_non_null(strstr(e.msg, "exceeds the limit of 1048576"));
	assert_refused("/t.Fed/Upload", &fx->site, RF_ETOOBIG,
		       "exceeds the limit of 1048576");
	rf_buf_release(&b);
	rf_rpc_client_destroy(c);
}

static void test_deadline(void **state)
{
	struct rf_rpc_client *c = client_as(&fx->site);
	struct rf_buf b = RF_BUF_INIT(1024);
	struct rf_err e = {0};

	(void)state;
	atomic_store(&fx->slow_saw_cancel, 0);
	atomic_store(&fx->slow_done, 0);
	/* connected first, so that the deadline is spent in the handler */
	RF_ASSERT_OK_E(rf_rpc_client_unary(c, "/t.Echo/Echo", "", 0, 0, &b,
					   &e), &e);
	RF_ASSERT_RC(rf_rpc_client_unary(c, "/t.Fed/NextTask", "", 0, 300,
					 &b, &e), RF_ETIMEDOUT);
	assert_non_null(strstr(e.msg, "timed out"));
	/* the handler learns that its call is over and frees the worker
	 * (well before its own 10 s limit) */
	for (int i = 0; i < 2000 && !atomic_load(&fx->slow_done); i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(&fx->slow_done), 1);
	assert_int_equal(atomic_load(&fx->slow_saw_cancel), 1);
	rf_buf_release(&b);
	rf_rpc_client_destroy(c);
}

/* ---- handshakes refused ------------------------------------------------- */

static enum rf_rc call_with(const char *ca, const struct rf_test_cred *cr,
			    const char *name, struct rf_err *e)
{
	struct rf_rpc_client_opts o = {0};
	struct rf_rpc_client *c = NULL;
	struct rf_buf b = RF_BUF_INIT(1024);
	enum rf_rc rc;

	o.target = fx->target;
	o.ca_pem = ca;
	o.cert_pem = cr ? cr->cert : NULL;
	o.key_pem = cr ? cr->key : NULL;
	o.server_name = name;
	RF_ASSERT_OK_E(rf_rpc_client_create(&o, &c, e), e);
	rc = rf_rpc_client_unary(c, "/t.Enroll/Enroll", "", 0, 5000, &b, e);
	rf_buf_release(&b);
	rf_rpc_client_destroy(c);
	return rc;
}

static void test_handshake_refused(void **state)
{
	struct rf_err e = {0};

	(void)state;
	/* a client certificate from another CA: the handshake completes
	 * (the client proves it holds the key), the call is refused, even
	 * on the method open to anonymous callers, and reported with the
	 * certificate's name and fingerprint */
	RF_ASSERT_RC(call_with(fx->ca_pem, &fx->other_ca_site, "localhost",
			       &e), RF_EAUTH);
	assert_non_null(strstr(e.msg, "'site-x' was not issued by"));
	assert_refused("/t.Enroll/Enroll", &fx->other_ca_site, RF_EAUTH,
		       "'site-x' was not issued by 'radfed test CA'");
	/* an expired client certificate */
	RF_ASSERT_RC(call_with(fx->ca_pem, &fx->expired, "localhost", &e),
		     RF_EAUTH);
	assert_non_null(strstr(e.msg, "'site-old' expired on"));
	assert_refused("/t.Enroll/Enroll", &fx->expired, RF_EAUTH,
		       "'site-old' expired on");
	/* a client certificate not valid yet */
	RF_ASSERT_RC(call_with(fx->ca_pem, &fx->future, "localhost", &e),
		     RF_EAUTH);
	assert_non_null(strstr(e.msg, "'site-new'"));
	assert_refused("/t.Enroll/Enroll", &fx->future, RF_EAUTH,
		       "'site-new'");
	/* a server certificate is no client certificate */
	RF_ASSERT_RC(call_with(fx->ca_pem, &fx->server, "localhost", &e),
		     RF_EAUTH);
	assert_refused("/t.Enroll/Enroll", &fx->server, RF_EAUTH,
		       "'aggregator' is not a client certificate");
	/* the server's certificate is for another name */
	RF_ASSERT_RC(call_with(fx->ca_pem, &fx->site, "aggregator.example",
			       &e), RF_EAUTH);
	assert_non_null(strstr(e.msg, "'aggregator.example': hostname"));
	/* the server's certificate is from a CA we do not trust */
	RF_ASSERT_RC(call_with(fx->ca2_pem, &fx->site, "localhost", &e),
		     RF_EAUTH);
	assert_non_null(strstr(e.msg, "server certificate refused"));
	/* and the same calls with the right credentials work */
	RF_ASSERT_OK_E(call_with(fx->ca_pem, &fx->site, "localhost", &e), &e);
	RF_ASSERT_OK_E(call_with(fx->ca_pem, NULL, "localhost", &e), &e);
}

static void test_pinned_ca(void **state)
{
	struct rf_rpc_client_opts o = {0};
	struct rf_rpc_client *c = NULL;
	struct rf_err e = {0};
	char colons[3 * 32];

	(void)state;
	o.target = fx->target;
	o.ca_pem = fx->ca_pem;
	o.server_name = "localhost";
	o.ca_fingerprint = fx->ca_fp;
	RF_ASSERT_OK_E(rf_rpc_client_create(&o, &c, &e), &e);
	rf_rpc_client_destroy(c);
	/* upper case with colons, as `openssl x509 -fingerprint` prints */
	for (int i = 0; i < 32; i++) {
		colons[3 * i] = (char)toupper((unsigned char)fx->ca_fp[2 * i]);
		colons[3 * i + 1] =
			(char)toupper((unsigned char)fx->ca_fp[2 * i + 1]);
		colons[3 * i + 2] = i == 31 ? '\0' : ':';
	}
	o.ca_fingerprint = colons;
	RF_ASSERT_OK_E(rf_rpc_client_create(&o, &c, &e), &e);
	rf_rpc_client_destroy(c);
	/* the invitation pinned another CA */
	o.ca_pem = fx->ca2_pem;
	RF_ASSERT_RC(rf_rpc_client_create(&o, &c, &e), RF_EAUTH);
	assert_null(c);
	assert_non_null(strstr(e.msg, "pinned"));
	o.ca_fingerprint = "abcd";
	RF_ASSERT_RC(rf_rpc_client_create(&o, &c, &e), RF_EINVAL);
}

static void test_unreachable(void **state)
{
	struct rf_rpc_client_opts o = {0};
	struct rf_rpc_client *c = NULL;
	struct rf_buf b = RF_BUF_INIT(1024);
	struct rf_err e = {0};
	struct rf_rpc_server *s = server_start(fx);
	char target[64];

	(void)state;
	/* a port that was just free */
	snprintf(target, sizeof target, "127.0.0.1:%d",
		 rf_rpc_server_port(s));
	rf_rpc_server_destroy(s);
	o.target = target;
	o.ca_pem = fx->ca_pem;
	o.server_name = "localhost";
	RF_ASSERT_OK_E(rf_rpc_client_create(&o, &c, &e), &e);
	RF_ASSERT_RC(rf_rpc_client_unary(c, "/t.Enroll/Enroll", "", 0, 5000,
					 &b, &e), RF_EIO);
	assert_non_null(strstr(e.msg, "cannot reach"));
	rf_buf_release(&b);
	rf_rpc_client_destroy(c);
}

/* ---- concurrency and shutdown ------------------------------------------- */

struct worker_arg {
	struct rf_rpc_client *c;
	int id;
	int failures;
};

static void *concurrent_main(void *p)
{
	struct worker_arg *a = p;
	struct rf_buf b = RF_BUF_INIT(1 << 20);
	char msg[64];

	for (int i = 0; i < 25; i++) {
		struct rf_err e = {0};
		int n = snprintf(msg, sizeof msg, "thread %d call %d", a->id,
				 i);

		if (rf_rpc_client_unary(a->c, "/t.Echo/Echo", msg, (size_t)n,
					10000, &b, &e) != RF_OK ||
		    b.len != (size_t)n || memcmp(b.data, msg, b.len) != 0)
			a->failures++;
	}
	rf_buf_release(&b);
	return NULL;
}

static void test_concurrent(void **state)
{
	struct rf_rpc_client *c = client_as(&fx->site);
	struct worker_arg a[8];
	pthread_t t[8];

	(void)state;
	for (int i = 0; i < 8; i++) {
		a[i].c = c;
		a[i].id = i;
		a[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, concurrent_main,
						&a[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(a[i].failures, 0);
	}
	rf_rpc_client_destroy(c);
}

struct hold_arg {
	struct rf_rpc_client *c;
	enum rf_rc rc;
	struct rf_err e;
};

static void *hold_main(void *p)
{
	struct hold_arg *a = p;
	struct rf_buf b = RF_BUF_INIT(1024);

	a->rc = rf_rpc_client_unary(a->c, "/t.Fed/Hold", "", 0, 0, &b,
				    &a->e);
	rf_buf_release(&b);
	return NULL;
}

static void test_shutdown_in_flight(void **state)
{
	struct rf_rpc_server *s = server_start(fx);
	struct rf_rpc_client_opts o = {0};
	struct hold_arg a;
	pthread_t t;
	char target[64];

	(void)state;
	memset(&a, 0, sizeof a);
	snprintf(target, sizeof target, "127.0.0.1:%d",
		 rf_rpc_server_port(s));
	o.target = target;
	o.ca_pem = fx->ca_pem;
	o.cert_pem = fx->site.cert;
	o.key_pem = fx->site.key;
	o.server_name = "localhost";
	RF_ASSERT_OK_E(rf_rpc_client_create(&o, &a.c, &a.e), &a.e);
	atomic_store(&fx->hold_entered, 0);
	atomic_store(&fx->hold_saw_cancel, 0);
	assert_int_equal(pthread_create(&t, NULL, hold_main, &a), 0);
	for (int i = 0; i < 1000 && !atomic_load(&fx->hold_entered); i++)
		sleep_ms(10);
	assert_int_equal(atomic_load(&fx->hold_entered), 1);
	rf_rpc_server_shutdown(s); /* returns once the handler has left */
	assert_int_equal(atomic_load(&fx->hold_saw_cancel), 1);
	pthread_join(t, NULL);
	assert_int_not_equal(a.rc, RF_OK);
	rf_rpc_server_shutdown(s); /* idempotent */
	rf_rpc_server_destroy(s);
	rf_rpc_client_destroy(a.c);
}

/* ---- arguments and allocation failures ---------------------------------- */

static void test_bad_options(void **state)
{
	static const struct rf_rpc_method dup[] = {
		{"/a/B", RF_RPC_UNARY, 0, NULL, 0, h_echo},
		{"/a/B", RF_RPC_UNARY, 0, NULL, 0, h_echo},
	};
	struct rf_rpc_server_opts o = {0};
	struct rf_rpc_server *s = NULL;
	struct rf_rpc_client_opts co = {0};
	struct rf_rpc_client *c = NULL;
	struct rf_err e = {0};

	(void)state;
	o.listen = "127.0.0.1:0";
	o.cert_pem = fx->server.cert;
	o.key_pem = fx->server.key;
	o.ca_pem = fx->ca_pem;
	o.methods = dup;
	o.n_methods = 2;
	RF_ASSERT_RC(rf_rpc_server_create(&o, &s, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "'/a/B' is listed twice"));
	assert_null(s);
	/* a key that is not the certificate's */
	o.n_methods = 1;
	o.key_pem = fx->site.key;
	RF_ASSERT_RC(rf_rpc_server_create(&o, &s, &e), RF_ECRYPTO);
	assert_non_null(strstr(e.msg, "does not match"));
	o.key_pem = fx->server.key;
	/* the port is taken */
	o.listen = fx->target;
	RF_ASSERT_RC(rf_rpc_server_create(&o, &s, &e), RF_EIO);
	assert_null(s);

	co.target = fx->target;
	co.ca_pem = fx->ca_pem;
	co.cert_pem = fx->site.cert;
	RF_ASSERT_RC(rf_rpc_client_create(&co, &c, &e), RF_EINVAL);
	co.cert_pem = NULL;
	co.ca_pem = "not a certificate";
	RF_ASSERT_RC(rf_rpc_client_create(&co, &c, &e), RF_ECRYPTO);
	assert_null(c);
}

static void test_client_oom(void **state)
{
	struct rf_rpc_client_opts o = {0};
	struct rf_rpc_client *c = NULL;
	enum rf_rc rc;

	(void)state;
	o.target = fx->target;
	o.ca_pem = fx->ca_pem;
	o.cert_pem = fx->site.cert;
	o.key_pem = fx->site.key;
	o.server_name = "localhost";
	o.ca_fingerprint = fx->ca_fp;
	RF_TEST_OOM_LOOP(rc, rc = rf_rpc_client_create(&o, &c, NULL),
			 rf_rpc_client_destroy(c));
}

static void test_server_oom(void **state)
{
	struct rf_rpc_server_opts o = {0};
	struct rf_rpc_server *s = NULL;
	enum rf_rc rc;

	(void)state;
	o.listen = "127.0.0.1:0";
	o.cert_pem = fx->server.cert;
	o.key_pem = fx->server.key;
	o.ca_pem = fx->ca_pem;
	o.methods = methods;
	o.n_methods = sizeof methods / sizeof methods[0];
	o.workers = 2;
	RF_TEST_OOM_LOOP(rc, rc = rf_rpc_server_create(&o, &s, NULL),
			 rf_rpc_server_destroy(s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unary_echo),
		cmocka_unit_test(test_handler_error),
		cmocka_unit_test(test_download_20mib),
		cmocka_unit_test(test_upload_20mib),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_unknown_method),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_handshake_refused),
		cmocka_unit_test(test_pinned_ca),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_shutdown_in_flight),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_client_oom),
		cmocka_unit_test(test_server_oom),
	};

	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
