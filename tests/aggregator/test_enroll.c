/* test_enroll.c - consortium identities end to end, in one process: an
 * aggregator folder, its server on loopback port 0, invitations, sites and
 * researchers enrolling over real TLS, refusals, revocation on the next
 * call, and both sides' audit logs. Certificates are checked with the
 * openssl command, independently of radfed's own code. */
#include "rf_test.h"

#include <stdatomic.h>

#include "agg_ctx.h"
#include "agg_enroll.h"
#include "agg_server.h"
#include "node_enroll.h"
#include "node_site.h"
#include "radfed.pb-c.h"
#include "rf_audit.h"
#include "rf_buf.h"
#include "rf_file.h"
#include "rf_pb.h"
#include "rf_rpc.h"

struct world {
	char root[600];
	char agg[700];
	struct agg_ctx *ctx;
	struct agg_server *srv;
	char target[64];
	atomic_llong skew; /* seconds added to the wall clock */
};

static int64_t skewed_clock(void *p)
{
	struct world *w = p;

	return (int64_t)time(NULL) + atomic_load(&w->skew);
}

static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof *w);
	struct agg_init_opts o = { "test-consortium", "127.0.0.1:0", NULL, 0 };
	struct rf_err e = { 0 };

	assert_non_null(w);
	snprintf(w->root, sizeof w->root, "%s", rf_test_tmpdir("enroll"));
	snprintf(w->agg, sizeof w->agg, "%s/agg", w->root);
	RF_ASSERT_OK_E(agg_ctx_init(w->agg, &o, &e), &e);
	RF_ASSERT_OK_E(agg_ctx_open(w->agg, &w->ctx, &e), &e);
	w->ctx->clock = skewed_clock;
	w->ctx->clock_ctx = w;
	RF_ASSERT_OK_E(agg_server_create(w->ctx, NULL, &w->srv, &e), &e);
	/* dial the address and check the certificate's name (localhost):
	 * resolving a name goes through c-ares, which keeps process-lifetime
	 * allocations LeakSanitizer reports */
	snprintf(w->target, sizeof w->target, "127.0.0.1:%d",
		 agg_server_port(w->srv));
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;

	agg_server_destroy(w->srv);
	agg_ctx_close(w->ctx);
	free(w);
	return 0;
}

static void invite(struct world *w, const char *name, enum agg_role role,
		   int64_t ttl, char token[AGG_TOKEN_SIZE])
{
	struct rf_err e = { 0 };
	int64_t exp = 0;

	RF_ASSERT_OK_E(agg_invite(w->ctx, name, role, ttl, token, &exp, &e),
		       &e);
	assert_int_equal(strlen(token), 64);
	assert_true(exp >= (int64_t)time(NULL) + ttl - 5);
}

static enum rf_rc enroll(struct world *w, const char *dir,
			 enum node_enroll_kind kind, const char *name,
			 const char *token, const char *fp,
			 struct node_enroll_result *r, struct rf_err *e)
{
	struct node_enroll_opts o = { 0 };

	o.dir = dir;
	o.kind = kind;
	o.name = name;
	o.aggregator = w->target;
	o.server_name = "localhost";
	o.token = token;
	o.ca_fingerprint = fp;
	return node_enroll(&o, r, e);
}

static int mode_of(const char *dir, const char *rel)
{
	char p[900];
	struct stat st;

	snprintf(p, sizeof p, "%s/%s", dir, rel);
	if (stat(p, &st) != 0)
		return -1;
	return (int)(st.st_mode & 0777);
}

static enum rf_rc ping(const char *dir, struct rf_err *e)
{
	struct rf_rpc_client *c = NULL;
	struct rf_buf resp = RF_BUF_INIT(1024);
	enum rf_rc rc = node_enroll_client(dir, &c, e);

	if (!rc)
		rc = rf_rpc_client_unary(c, AGG_PING_PATH, "", 0, 10000, &resp,
					 e);
	rf_buf_release(&resp);
	rf_rpc_client_destroy(c);
	return rc;
}

/* The events of a log, space-separated, after checking that it verifies
 * with its owner's key. */
struct events {
	char list[4096];
};

static enum rf_rc collect(const struct rf_audit_entry *ent, void *ctx,
			  struct rf_err *e)
{
	struct events *ev = ctx;
	size_t n = strlen(ev->list);

	(void)e;
	if (strcmp(ent->event, "checkpoint") != 0)
		snprintf(ev->list + n, sizeof ev->list - n, "%s%s",
			 n ? " " : "", ent->event);
	return RF_OK;
}

static void audit_events(const char *dir, struct events *ev)
{
	char p[900];
	struct rf_key *k = NULL;
	struct rf_audit_report r;
	struct rf_err e = { 0 };
	const struct rf_key *trusted[1];

	memset(ev, 0, sizeof *ev);
	snprintf(p, sizeof p, "%s/keys/audit.key", dir);
	RF_ASSERT_OK_E(rf_key_load_private_pem(p, &k, &e), &e);
	trusted[0] = k;
	snprintf(p, sizeof p, "%s/logs/audit.jsonl", dir);
	RF_ASSERT_OK_E(rf_audit_iterate(p, trusted, 1, collect, ev, &r, &e),
		       &e);
	assert_true(r.checkpoints >= 1);
	assert_int_equal(r.unsigned_tail, 0);
	rf_key_destroy(k);
}

/* ---- tests -------------------------------------------------------------- */

static void test_init_files_and_modes(void **state)
{
	struct world *w = *state;
	char other[800], p[900];
	struct rf_err e = { 0 };
	struct events ev;

	assert_int_equal(mode_of(w->agg, "ca/ca.key"), 0600);
	assert_int_equal(mode_of(w->agg, "tls/server.key"), 0600);
	assert_int_equal(mode_of(w->agg, "keys/audit.key"), 0600);
	assert_int_equal(mode_of(w->agg, "ca/ca.pem"), 0644);
	assert_int_equal(mode_of(w->agg, "registry.db"), 0600);
	assert_true(mode_of(w->agg, "agg.yaml") >= 0);
	/* the CA fingerprint is what openssl computes */
	assert_int_equal(rf_sh("openssl x509 -in %s/ca/ca.pem -noout "
			       "-fingerprint -sha256 | tr -d : | tr A-F a-f "
			       "| grep -q 'sha256 fingerprint=%s$'",
			       w->agg, w->ctx->ca_fp),
			 0);
	/* the server certificate chains to the CA and names the server */
	assert_int_equal(rf_sh("openssl verify -CAfile %s/ca/ca.pem "
			       "-verify_hostname localhost %s/tls/server.pem "
			       ">/dev/null",
			       w->agg, w->agg),
			 0);
	/* ... and 127.0.0.1, as an IP entry, whatever the server name */
	assert_int_equal(rf_sh("openssl verify -CAfile %s/ca/ca.pem "
			       "-verify_ip 127.0.0.1 %s/tls/server.pem "
			       ">/dev/null",
			       w->agg, w->agg),
			 0);
	/* a non-empty folder is refused, and nothing is left beside it */
	RF_ASSERT_RC(agg_ctx_init(w->agg, NULL, &e), RF_EEXIST);
	assert_int_equal(rf_sh("ls -d %s/agg.init-* 2>/dev/null | grep -q .",
			       w->root),
			 1);
	snprintf(other, sizeof other, "%s/bad", w->root);
	{
		struct agg_init_opts o = { "x", NULL, "bad name!", 0 };

		RF_ASSERT_RC(agg_ctx_init(other, &o, &e), RF_EINVAL);
	}
	snprintf(p, sizeof p, "%s/bad", w->root);
	assert_int_equal(access(p, F_OK), -1);
	audit_events(w->agg, &ev);
	assert_string_equal(ev.list, "agg.init");
}

/* Opening the folder: every allocation failure is RF_ENOMEM, no leak. */
static void test_open_out_of_memory(void **state)
{
	struct world *w = *state;
	struct agg_ctx *c = NULL;
	enum rf_rc rc;

	RF_TEST_OOM_LOOP(rc, rc = agg_ctx_open(w->agg, &c, NULL),
			 agg_ctx_close(c));
}

static void test_site_and_researcher_enroll(void **state)
{
	struct world *w = *state;
	char site[800], res[800], again[800], token[AGG_TOKEN_SIZE];
	char rtoken[AGG_TOKEN_SIZE];
	struct node_enroll_result r;
	struct rf_err e = { 0 };
	struct events ev;

	snprintf(site, sizeof site, "%s/site-a", w->root);
	RF_ASSERT_OK_E(node_site_init(site, "site-a", &e), &e);
	invite(w, "site-a", AGG_ROLE_SITE, 3600, token);
	RF_ASSERT_OK_E(enroll(w, site, NODE_ENROLL_SITE, NULL, token,
			      w->ctx->ca_fp, &r, &e),
		       &e);
	assert_string_equal(r.name, "site-a");
	assert_string_equal(r.role, "site");
	assert_string_equal(r.ca_fingerprint, w->ctx->ca_fp);
	assert_int_equal(mode_of(site, "keys/tls.key"), 0600);
	assert_int_equal(mode_of(site, "keys/audit.key"), 0600);
	/* CN and OU, the chain and the key pair, as openssl sees them */
	assert_int_equal(rf_sh("openssl x509 -in %s/keys/tls.pem -noout "
			       "-subject -nameopt RFC2253 | grep -q "
			       "'^subject=CN=site-a,OU=site$\\|"
			       "^subject=OU=site,CN=site-a$'",
			       site),
			 0);
	assert_int_equal(rf_sh("openssl verify -CAfile %s/ca/ca.pem "
			       "-purpose sslclient %s/keys/tls.pem >/dev/null",
			       w->agg, site),
			 0);
	assert_int_equal(rf_sh("cmp -s %s/keys/ca.pem %s/ca/ca.pem", site,
			       w->agg),
			 0);
	assert_int_equal(rf_sh("test \"$(openssl x509 -in %s/keys/tls.pem "
			       "-noout -pubkey)\" = \"$(openssl pkey -in "
			       "%s/keys/tls.key -pubout)\"",
			       site, site),
			 0);
	assert_int_equal(rf_sh("openssl x509 -in %s/keys/tls.pem -noout "
			       "-fingerprint -sha256 | tr -d : | tr A-F a-f "
			       "| grep -q '=%s$'",
			       site, r.fingerprint),
			 0);
	/* the identity works over mutual TLS */
	RF_ASSERT_OK_E(ping(site, &e), &e);

	/* the token is one-time */
	snprintf(again, sizeof again, "%s/again", w->root);
	RF_ASSERT_RC(enroll(w, again, NODE_ENROLL_IDENTITY, "site-a", token,
			    w->ctx->ca_fp, &r, &e),
		     RF_EAUTH);
	assert_non_null(strstr(e.msg, "already used"));
	assert_int_equal(mode_of(again, "keys/tls.pem"), -1);
	/* an enrolled folder is never overwritten */
	RF_ASSERT_RC(enroll(w, site, NODE_ENROLL_SITE, NULL, token,
			    w->ctx->ca_fp, &r, &e),
		     RF_EEXIST);

	/* a researcher identity folder, created by enroll */
	snprintf(res, sizeof res, "%s/alice", w->root);
	invite(w, "alice", AGG_ROLE_RESEARCHER, 3600, rtoken);
	RF_ASSERT_OK_E(enroll(w, res, NODE_ENROLL_IDENTITY, "alice", rtoken,
			      w->ctx->ca_fp, &r, &e),
		       &e);
	assert_string_equal(r.role, "researcher");
	assert_int_equal(mode_of(res, "keys"), 0700);
	RF_ASSERT_OK_E(ping(res, &e), &e);

	audit_events(site, &ev);
	assert_string_equal(ev.list, "enroll.start invite enroll");
	audit_events(again, &ev);
	assert_string_equal(ev.list, "enroll.start enroll.failed");
	audit_events(w->agg, &ev);
	assert_string_equal(ev.list, "agg.init invite enroll enroll.refused "
				     "invite enroll");
}

static void test_wrong_fingerprint_leaves_no_certificate(void **state)
{
	struct world *w = *state;
	char dir[800], token[AGG_TOKEN_SIZE], bad[RF_X509_FP_SIZE];
	struct node_enroll_result r;
	struct rf_err e = { 0 };
	struct events ev;

	snprintf(dir, sizeof dir, "%s/site-b", w->root);
	RF_ASSERT_OK_E(node_site_init(dir, "site-b", &e), &e);
	invite(w, "site-b", AGG_ROLE_SITE, 3600, token);
	memcpy(bad, w->ctx->ca_fp, sizeof bad);
	bad[10] = bad[10] == '0' ? '1' : '0';
	RF_ASSERT_RC(enroll(w, dir, NODE_ENROLL_SITE, NULL, token, bad, &r,
			    &e),
		     RF_EAUTH);
	assert_non_null(strstr(e.msg, "no CA certificate with fingerprint"));
	/* the fresh key stays, nothing else was stored */
	assert_int_equal(mode_of(dir, "keys/tls.key"), 0600);
	assert_int_equal(mode_of(dir, "keys/tls.pem"), -1);
	assert_int_equal(mode_of(dir, "keys/ca.pem"), -1);
	assert_int_equal(mode_of(dir, "federation.yaml"), -1);
	RF_ASSERT_RC(ping(dir, &e), RF_ENOTFOUND);
	/* the right CA but another server name: the handshake fails */
	{
		struct node_enroll_opts o = { 0 };

		o.dir = dir;
		o.kind = NODE_ENROLL_SITE;
		o.aggregator = w->target;
		o.server_name = "other.example";
		o.token = token;
		o.ca_fingerprint = w->ctx->ca_fp;
		RF_ASSERT_RC(node_enroll(&o, &r, &e), RF_EAUTH);
		assert_int_equal(mode_of(dir, "keys/tls.pem"), -1);
	}
	/* nothing was sent: the token still works, with the right pin
	 * (written with colons, as openssl prints it) */
	{
		char colons[3 * 32];
		int i;

		for (i = 0; i < 32; i++)
			snprintf(colons + 3 * i, 4, "%c%c%s",
				 w->ctx->ca_fp[2 * i], w->ctx->ca_fp[2 * i + 1],
				 i < 31 ? ":" : "");
		RF_ASSERT_OK_E(enroll(w, dir, NODE_ENROLL_SITE, NULL, token,
				      colons, &r, &e),
			       &e);
	}
	audit_events(dir, &ev);
	assert_string_equal(ev.list, "enroll.start enroll.failed "
				     "enroll.start enroll.failed "
				     "enroll.start invite enroll");
	/* malformed pins and tokens never reach the network */
	RF_ASSERT_RC(enroll(w, dir, NODE_ENROLL_SITE, NULL, token, "abc", &r,
			    &e),
		     RF_EINVAL);
	RF_ASSERT_RC(enroll(w, dir, NODE_ENROLL_SITE, NULL, "zz", bad, &r, &e),
		     RF_EINVAL);
}

static void test_refusals(void **state)
{
	struct world *w = *state;
	char dir[800], dir2[800], token[AGG_TOKEN_SIZE];
	char tok2[AGG_TOKEN_SIZE];
	struct node_enroll_result r;
	struct rf_buf resp = RF_BUF_INIT(AGG_ENROLL_RESPONSE_MAX);
	struct rf_err e = { 0 };
	uint8_t junk[64];
	uint8_t *big;

	/* expiry: the aggregator's clock moves past the invitation */
	snprintf(dir, sizeof dir, "%s/site-c", w->root);
	RF_ASSERT_OK_E(node_site_init(dir, "site-c", &e), &e);
	invite(w, "site-c", AGG_ROLE_SITE, 60, token);
	atomic_store(&w->skew, 61);
	RF_ASSERT_RC(enroll(w, dir, NODE_ENROLL_SITE, NULL, token,
			    w->ctx->ca_fp, &r, &e),
		     RF_EAUTH);
	assert_non_null(strstr(e.msg, "expired"));
	atomic_store(&w->skew, 0);

	/* the CSR's CN must be the invited name; the token is then spent */
	invite(w, "site-c", AGG_ROLE_SITE, 60, token);
	snprintf(dir2, sizeof dir2, "%s/mallory", w->root);
	RF_ASSERT_RC(enroll(w, dir2, NODE_ENROLL_IDENTITY, "mallory", token,
			    w->ctx->ca_fp, &r, &e),
		     RF_EAUTH);
	assert_non_null(strstr(e.msg, "invitation for 'site-c'"));
	/* a researcher's invitation does not make a site */
	invite(w, "site-c", AGG_ROLE_SITE, 60, token);
	invite(w, "bob", AGG_ROLE_RESEARCHER, 60, tok2);
	RF_ASSERT_RC(enroll(w, dir, NODE_ENROLL_SITE, "bob", tok2,
			    w->ctx->ca_fp, &r, &e),
		     RF_EAUTH);
	assert_non_null(strstr(e.msg, "invitation is for a researcher"));
	/* one name, one role */
	RF_ASSERT_RC(agg_invite(w->ctx, "bob", AGG_ROLE_SITE, 60, tok2, NULL,
				&e),
		     RF_EEXIST);
	RF_ASSERT_RC(agg_invite(w->ctx, "x y", AGG_ROLE_SITE, 60, tok2, NULL,
				&e),
		     RF_EINVAL);
	RF_ASSERT_RC(agg_invite(w->ctx, "z", AGG_ROLE_AGGREGATOR, 60, tok2,
				NULL, &e),
		     RF_EINVAL);

	/* malformed and oversized requests, straight to the handler */
	memset(junk, 0xff, sizeof junk);
	RF_ASSERT_RC(agg_enroll(w->ctx, junk, sizeof junk, &resp, &e),
		     RF_EPROTO);
	big = calloc(1, AGG_ENROLL_REQUEST_MAX + 1);
	assert_non_null(big);
	RF_ASSERT_RC(agg_enroll(w->ctx, big, AGG_ENROLL_REQUEST_MAX + 1, &resp,
				&e),
		     RF_ETOOBIG);
	free(big);
	{
		Radfed__EnrollRequest q = RADFED__ENROLL_REQUEST__INIT;
		struct rf_buf m = RF_BUF_INIT(4096);

		q.token = token;
		q.csr_pem.data = (uint8_t *)"-----BEGIN CERTIFICATE REQUEST"
					    "-----\nAAAA\n";
		q.csr_pem.len = strlen((const char *)q.csr_pem.data);
		RF_ASSERT_OK(rf_pb_pack(&q.base, &m, NULL));
		RF_ASSERT_RC(agg_enroll(w->ctx, m.data, m.len, &resp, &e),
			     RF_EINVAL);
		assert_non_null(strstr(e.msg, "malformed CSR"));
		rf_buf_release(&m);
	}
	/* ... and the token survived those: it still enrolls site-c */
	RF_ASSERT_OK_E(enroll(w, dir, NODE_ENROLL_SITE, NULL, token,
			      w->ctx->ca_fp, &r, &e),
		       &e);
	rf_buf_release(&resp);
}

static void test_revoked_refused_on_next_call(void **state)
{
	struct world *w = *state;
	char dir[800], token[AGG_TOKEN_SIZE];
	struct node_enroll_result r;
	struct rf_rpc_client *c = NULL;
	struct rf_buf resp = RF_BUF_INIT(1024);
	struct rf_err e = { 0 };
	struct events ev;
	int n = 0;

	snprintf(dir, sizeof dir, "%s/site-d", w->root);
	RF_ASSERT_OK_E(node_site_init(dir, "site-d", &e), &e);
	invite(w, "site-d", AGG_ROLE_SITE, 3600, token);
	RF_ASSERT_OK_E(enroll(w, dir, NODE_ENROLL_SITE, NULL, token,
			      w->ctx->ca_fp, &r, &e),
		       &e);
	/* one client, one connection: the check runs on every call */
	RF_ASSERT_OK_E(node_enroll_client(dir, &c, &e), &e);
	RF_ASSERT_OK_E(rf_rpc_client_unary(c, AGG_PING_PATH, "", 0, 10000,
					   &resp, &e),
		       &e);
	RF_ASSERT_OK_E(agg_revoke(w->ctx, "site-d", "key lost", &n, &e), &e);
	assert_int_equal(n, 1);
	RF_ASSERT_RC(rf_rpc_client_unary(c, AGG_PING_PATH, "", 0, 10000,
					 &resp, &e),
		     RF_EAUTH);
	rf_rpc_client_destroy(c);
	RF_ASSERT_RC(agg_revoke(w->ctx, "nobody", NULL, &n, &e), RF_ENOTFOUND);
	/* an anonymous caller gets only Enroll */
	{
		struct rf_rpc_client_opts o = { 0 };

		o.target = w->target;
		o.server_name = "localhost";
		o.ca_pem = w->ctx->ca_pem;
		RF_ASSERT_OK_E(rf_rpc_client_create(&o, &c, &e), &e);
		RF_ASSERT_RC(rf_rpc_client_unary(c, AGG_PING_PATH, "", 0,
						 10000, &resp, &e),
			     RF_EAUTH);
		rf_rpc_client_destroy(c);
	}
	audit_events(w->agg, &ev);
	assert_non_null(strstr(ev.list, "invite enroll revoke"));
	rf_buf_release(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_files_and_modes),
		cmocka_unit_test(test_open_out_of_memory),
		cmocka_unit_test(test_site_and_researcher_enroll),
		cmocka_unit_test(test_wrong_fingerprint_leaves_no_certificate),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_revoked_refused_on_next_call),
	};

	return cmocka_run_group_tests(tests, world_setup, world_teardown);
}
