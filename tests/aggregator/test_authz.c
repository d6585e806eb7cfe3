/* test_authz.c - the aggregator's authorisation matrix: every row of
 * agg_server_methods() (so a method added later is covered without a
 * change here) called over real mutual TLS by every kind of caller: none,
 * another CA's certificate, an expired one, a revoked one, a wrong role and
 * the right role. Only the right role gets past the checks; every other
 * call is RF_EAUTH and is in the aggregator's audit log as rpc.refused with
 * the method, the certificate's name and fingerprint, and the reason.
 * Methods open to anonymous callers (Enrollment.Enroll) are the documented
 * exception: there "no certificate" is the right caller. */
#include "rf_test.h"
#include "rf_test_pki.h"

#include <time.h>

#include "agg_ctx.h"
#include "agg_enroll.h"
#include "agg_registry.h"
#include "agg_server.h"
#include "rf_buf.h"
#include "rf_file.h"
#include "rf_rpc.h"
#include "rf_x509.h"

/* how long a call that passes the checks may take (a long poll answers
 * at its deadline): any status but a refusal will do */
#define PASS_DEADLINE_MS 2000

enum caller {
	C_NONE,
	C_FOREIGN,
	C_EXPIRED,
	C_REVOKED,
	C_WRONG,
	C_RIGHT,
	C_COUNT
};

static const char *const caller_name[C_COUNT] = {
	"no certificate", "another CA", "expired", "revoked", "wrong role",
	"right role"};

struct ident {
	char *cert;
	char *key;
	char cn[64];
	char fp[RF_X509_FP_SIZE];
	enum agg_role role;
	struct rf_rpc_client *client;
};

/* the identities, by role where it matters */
enum {
	I_SITE,
	I_RESEARCHER,
	I_AUDITOR,
	I_AGGREGATOR, /* registered, a role no method grants */
	I_FOREIGN,    /* site, another CA */
	I_EXPIRED,    /* site, registered, expired yesterday */
	I_REVOKED,    /* site, registered, then revoked */
	I_ANON,
	I_COUNT
};

struct world {
	char root[600];
	char agg[700];
	struct agg_ctx *ctx;
	struct agg_server *srv;
	char target[64];
	struct ident id[I_COUNT];
};

/* Issues a client certificate for cn/role under (ca, ca_key). */
static void ident_make(struct world *w, struct ident *id,
		       const struct rf_x509 *ca, const struct rf_key *ca_key,
		       const char *cn, enum agg_role role, int64_t from,
		       int64_t until)
{
	struct rf_x509_issue_params ip = {cn, agg_role_name(role), NULL,
					  RF_X509_CLIENT, from, until};
	struct rf_key *k = NULL;
	struct rf_x509_req *req = NULL;
	struct rf_x509 *x = NULL;
	struct rf_buf b = RF_BUF_INIT(65536);
	char path[800];
	struct rf_err e = {0};

	RF_ASSERT_OK_E(rf_key_generate(RF_KEY_P256, &k, &e), &e);
	RF_ASSERT_OK_E(rf_x509_req_create(k, cn, &req, &e), &e);
	RF_ASSERT_OK_E(rf_x509_issue(ca, ca_key, req, &ip, &x, &e), &e);
	id->cert = rf_test_pem_of_cert(x);
	snprintf(path, sizeof path, "%s/%s.key", w->root, cn);
	RF_ASSERT_OK(rf_key_save_private_pem(k, path, NULL));
	RF_ASSERT_OK(rf_file_read(path, &b, NULL));
	id->key = strdup(rf_buf_str(&b));
	assert_non_null(id->key);
	rf_buf_release_secret(&b);
	RF_ASSERT_OK(rf_x509_fingerprint(x, id->fp, NULL));
	snprintf(id->cn, sizeof id->cn, "%s", cn);
	id->role = role;
	rf_x509_destroy(x);
	rf_x509_req_destroy(req);
	rf_key_destroy(k);
}

static void ident_register(struct world *w, const struct ident *id)
{
	struct rf_err e = {0};

	RF_ASSERT_OK_E(agg_registry_identity_add(w->ctx->reg, id->cn, id->role,
						 id->cert,
						 (int64_t)time(NULL) - 200000,
						 NULL, &e), &e);
}

static struct rf_rpc_client *client_of(struct world *w, const struct ident *id)
{
	struct rf_rpc_client_opts o = {0};
	struct rf_rpc_client *c = NULL;
	struct rf_err e = {0};

	o.target = w->target;
	o.ca_pem = w->ctx->ca_pem;
	o.cert_pem = id->cert;
	o.key_pem = id->key;
	o.server_name = "localhost";
	RF_ASSERT_OK_E(rf_rpc_client_create(&o, &c, &e), &e);
	return c;
}

static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof *w);
	struct agg_init_opts o = {"authz", "127.0.0.1:0", NULL, 0};
	struct rf_key *k2 = NULL;
	struct rf_x509 *ca2 = NULL;
	int64_t now = (int64_t)time(NULL);
	int n = 0;
	struct rf_err e = {0};

	assert_non_null(w);
	snprintf(w->root, sizeof w->root, "%s", rf_test_tmpdir("authz"));
	snprintf(w->agg, sizeof w->agg, "%s/agg", w->root);
	RF_ASSERT_OK_E(agg_ctx_init(w->agg, &o, &e), &e);
	RF_ASSERT_OK_E(agg_ctx_open(w->agg, &w->ctx, &e), &e);

	ident_make(w, &w->id[I_SITE], w->ctx->ca, w->ctx->ca_key, "site-a",
		   AGG_ROLE_SITE, now - 3600, now + 86400);
	ident_make(w, &w->id[I_RESEARCHER], w->ctx->ca, w->ctx->ca_key,
		   "alice", AGG_ROLE_RESEARCHER, now - 3600, now + 86400);
	ident_make(w, &w->id[I_AUDITOR], w->ctx->ca, w->ctx->ca_key, "audrey",
		   AGG_ROLE_AUDITOR, now - 3600, now + 86400);
	ident_make(w, &w->id[I_AGGREGATOR], w->ctx->ca, w->ctx->ca_key,
		   "peer-agg", AGG_ROLE_AGGREGATOR, now - 3600, now + 86400);
	ident_make(w, &w->id[I_EXPIRED], w->ctx->ca, w->ctx->ca_key,
		   "site-old", AGG_ROLE_SITE, now - 172800, now - 86400);
	ident_make(w, &w->id[I_REVOKED], w->ctx->ca, w->ctx->ca_key,
		   "site-gone", AGG_ROLE_SITE, now - 3600, now + 86400);
	for (int i = I_SITE; i <= I_REVOKED; i++)
		if (i != I_FOREIGN)
			ident_register(w, &w->id[i]);
	RF_ASSERT_OK_E(agg_revoke(w->ctx, "site-gone", "key lost", &n, &e),
		       &e);
	assert_int_equal(n, 1);
	/* the same name as a registered site, from another CA */
	RF_ASSERT_OK(rf_key_generate(RF_KEY_P256, &k2, NULL));
	RF_ASSERT_OK(rf_x509_ca_create(k2, "authz CA", now - 3600,
				       now + 86400, &ca2, NULL));
	ident_make(w, &w->id[I_FOREIGN], ca2, k2, "site-a", AGG_ROLE_SITE,
		   now - 3600, now + 86400);
	rf_x509_destroy(ca2);
	rf_key_destroy(k2);

	RF_ASSERT_OK_E(agg_server_create(w->ctx, NULL, &w->srv, &e), &e);
	snprintf(w->target, sizeof w->target, "127.0.0.1:%d",
		 agg_server_port(w->srv));
	for (int i = 0; i < I_COUNT; i++) {
		if (i == I_ANON) {
			struct ident anon = {0};

			w->id[i].client = client_of(w, &anon);
			continue;
		}
		w->id[i].client = client_of(w, &w->id[i]);
	}
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;

	for (int i = 0; i < I_COUNT; i++) {
		rf_rpc_client_destroy(w->id[i].client);
		free(w->id[i].cert);
		free(w->id[i].key);
	}
	agg_server_destroy(w->srv);
	agg_ctx_close(w->ctx);
	free(w);
	return 0;
}

/* ---- calling any method ------------------------------------------------- */

static enum rf_rc ignore_msg(const uint8_t *p, size_t n, void *ctx,
			     struct rf_err *e)
{
	(void)p;
	(void)n;
	(void)ctx;
	(void)e;
	return RF_OK;
}

static enum rf_rc no_msgs(const uint8_t **p, size_t *n, void *ctx,
			  struct rf_err *e)
{
	(void)ctx;
	(void)e;
	*p = NULL;
	*n = 0;
	return RF_OK;
}

/* Calls m with an empty request, the way its kind requires. */
static enum rf_rc call_method(struct rf_rpc_client *c,
			      const struct rf_rpc_method *m, struct rf_err *e)
{
	struct rf_buf resp = RF_BUF_INIT(RF_RPC_MSG_MAX);
	enum rf_rc rc = RF_EINTERNAL;

	switch (m->kind) {
	case RF_RPC_UNARY:
		rc = rf_rpc_client_unary(c, m->path, "", 0, PASS_DEADLINE_MS,
					 &resp, e);
		break;
	case RF_RPC_SERVER_STREAM:
		rc = rf_rpc_client_server_stream(c, m->path, "", 0,
						 PASS_DEADLINE_MS, ignore_msg,
						 NULL, e);
		break;
	case RF_RPC_CLIENT_STREAM:
		rc = rf_rpc_client_client_stream(c, m->path, no_msgs, NULL,
						 PASS_DEADLINE_MS, &resp, e);
		break;
	}
	rf_buf_release(&resp);
	return rc;
}

/* ---- the audit log ------------------------------------------------------ */

/* The lines of the aggregator's log with event rpc.refused: their number,
 * and the last one in last (NUL-terminated, truncated). */
static int refusals(const struct world *w, char *last, size_t size)
{
	struct rf_buf b = RF_BUF_INIT(256u << 20);
	char *next;
	int n = 0;

	RF_ASSERT_OK(rf_file_read(w->ctx->audit_path, &b, NULL));
	last[0] = '\0';
	for (char *line = (char *)b.data; line && *line; line = next) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		next = nl ? nl + 1 : NULL;
		if (strstr(line, "\"event\":\"rpc.refused\"")) {
			n++;
			snprintf(last, size, "%s", line);
		}
	}
	rf_buf_release(&b);
	return n;
}

static void expect_in(const char *line, const char *what, const char *ctx)
{
	if (!strstr(line, what))
		fail_msg("%s: audit line lacks '%s': %s", ctx, what, line);
}

/* ---- the matrix --------------------------------------------------------- */

static int role_in(const struct rf_rpc_method *m, enum agg_role r)
{
	if (!m->roles)
		return 1;
	for (const char *const *p = m->roles; *p; p++)
		if (strcmp(*p, agg_role_name(r)) == 0)
			return 1;
	return 0;
}

/* The identity of caller kind k for m, or -1 when m has none (a method
 * any certified caller may use has no wrong role). */
static int ident_for(const struct rf_rpc_method *m, enum caller k)
{
	static const int registered[] = {I_SITE, I_RESEARCHER, I_AUDITOR,
					 I_AGGREGATOR};

	switch (k) {
	case C_NONE:
		return I_ANON;
	case C_FOREIGN:
		return I_FOREIGN;
	case C_EXPIRED:
		return I_EXPIRED;
	case C_REVOKED:
		return I_REVOKED;
	case C_WRONG:
	case C_RIGHT:
		for (size_t i = 0; i < 4; i++) {
			int id = registered[i];
			enum agg_role r = id == I_SITE ? AGG_ROLE_SITE
				: id == I_RESEARCHER ? AGG_ROLE_RESEARCHER
				: id == I_AUDITOR ? AGG_ROLE_AUDITOR
						  : AGG_ROLE_AGGREGATOR;

			if (role_in(m, r) == (k == C_RIGHT))
				return id;
		}
		return -1;
	default:
		return -1;
	}
}

static const char *const reason_of[C_COUNT] = {
	"needs a client certificate", "was not issued by", "expired on",
	"is revoked", "may not call", NULL};

static void test_matrix(void **state)
{
	struct world *w = *state;
	const struct rf_rpc_method *ms;
	size_t n_ms = 0;
	char last[8192];
	int before = refusals(w, last, sizeof last);
	int checked = 0;

	ms = agg_server_methods(&n_ms);
	assert_true(n_ms >= 2);
	for (size_t i = 0; i < n_ms; i++) {
		const struct rf_rpc_method *m = &ms[i];

		for (int k = 0; k < C_COUNT; k++) {
			int id = ident_for(m, (enum caller)k);
			const struct ident *who;
			struct rf_err e = {0};
			char ctx[300], q[300];
			enum rf_rc rc;
			int after;

			if (id < 0)
				continue; /* no such caller for m */
			who = &w->id[id];
			snprintf(ctx, sizeof ctx, "%s by %s (%s)", m->path,
				 caller_name[k], id == I_ANON ? "-" : who->cn);
			rc = call_method(who->client, m, &e);
			after = refusals(w, last, sizeof last);
			print_message("%-40s %-15s -> %s\n", m->path,
				      caller_name[k], rf_rc_name(rc));
			if (k == C_RIGHT ||
			    (k == C_NONE && m->allow_anonymous)) {
				/* past authorisation: whatever the handler
				 * makes of an empty request, but no refusal
				 * (an open method's handler may still say
				 * EAUTH of the request: Enroll's token) */
				if (rc == RF_EAUTH && !m->allow_anonymous)
					fail_msg("%s: refused: %s", ctx,
						 e.msg);
				if (after != before)
					fail_msg("%s: audited as refused: %s",
						 ctx, last);
				checked++;
				continue;
			}
			if (rc != RF_EAUTH)
				fail_msg("%s: %s (%s), want EAUTH", ctx,
					 rf_rc_name(rc), e.msg);
			if (after != before + 1)
				fail_msg("%s: %d rpc.refused lines, want 1",
					 ctx, after - before);
			before = after;
			snprintf(q, sizeof q, "\"method\":\"%s\"", m->path);
			expect_in(last, q, ctx);
			expect_in(last, reason_of[k], ctx);
			if (!strstr(e.msg, reason_of[k]))
				fail_msg("%s: caller told '%s'", ctx, e.msg);
			if (id == I_ANON) {
				expect_in(last, "\"site\":\"\"", ctx);
				expect_in(last, "\"cert_sha256\":\"\"", ctx);
			} else {
				snprintf(q, sizeof q, "\"site\":\"%s\"",
					 who->cn);
				expect_in(last, q, ctx);
				snprintf(q, sizeof q, "\"cert_sha256\":\"%s\"",
					 who->fp);
				expect_in(last, q, ctx);
			}
			checked++;
		}
	}
	/* Enroll: 3 refused, anonymous, a site (no wrong role); Ping: 6 */
	assert_true(checked >= 11);
}

/* A certificate whose role (OU) the method grants but which the registry
 * holds with another role: refused by the aggregator's own check, and
 * audited the same way. */
static void test_registry_mismatch(void **state)
{
	struct world *w = *state;
	struct ident id = {0};
	struct rf_rpc_client *c;
	struct rf_buf resp = RF_BUF_INIT(1024);
	int64_t now = (int64_t)time(NULL);
	struct rf_err e = {0};
	char last[8192], q[200];
	int before = refusals(w, last, sizeof last);

	ident_make(w, &id, w->ctx->ca, w->ctx->ca_key, "mallory",
		   AGG_ROLE_SITE, now - 3600, now + 86400);
	id.role = AGG_ROLE_RESEARCHER; /* what the registry will say */
	ident_register(w, &id);
	c = client_of(w, &id);
	RF_ASSERT_RC(rf_rpc_client_unary(c, AGG_PING_PATH, "", 0, 5000, &resp,
					 &e), RF_EAUTH);
	assert_int_equal(refusals(w, last, sizeof last), before + 1);
	expect_in(last, "\"method\":\"" AGG_PING_PATH "\"", "mismatch");
	expect_in(last, "does not match the registry", "mismatch");
	expect_in(last, "\"site\":\"mallory\"", "mismatch");
	snprintf(q, sizeof q, "\"cert_sha256\":\"%s\"", id.fp);
	expect_in(last, q, "mismatch");
	rf_rpc_client_destroy(c);
	rf_buf_release(&resp);
	free(id.cert);
	free(id.key);
}

/* A call to a method that is not in the table is refused and audited
 * too, with the path as called. */
static void test_unknown_method(void **state)
{
	struct world *w = *state;
	struct rf_buf resp = RF_BUF_INIT(1024);
	struct rf_err e = {0};
	char last[8192];
	int before = refusals(w, last, sizeof last);

	RF_ASSERT_RC(rf_rpc_client_unary(w->id[I_SITE].client,
					 "/radfed.Federation/Nope", "", 0,
					 5000, &resp, &e), RF_EUNSUPPORTED);
	assert_int_equal(refusals(w, last, sizeof last), before + 1);
	expect_in(last, "\"method\":\"/radfed.Federation/Nope\"", "unknown");
	expect_in(last, "unknown method", "unknown");
	expect_in(last, "\"site\":\"site-a\"", "unknown");
	rf_buf_release(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_unknown_method),
		cmocka_unit_test(test_registry_mismatch),
	};

	return cmocka_run_group_tests(tests, world_setup, world_teardown);
}
