/* agg_server.c - the authorisation table and the aggregator's server. */
#include "agg_server.h"

#include <inttypes.h>
#include <string.h>

#include "agg_enroll.h"
#include "agg_refuse.h"
#include "agg_round.h"
#include "rf_alloc.h"
#include "rf_audit_events.h"
#include "rf_log.h"
#include "rf_rpc.h"

struct agg_server {
	struct agg_ctx *ctx;
	struct rf_rpc_server *rpc;
	struct agg_rounds *rounds; /* the round engine (agg_round.h) */
	struct agg_refuse *refuse; /* which refusals get a line */
};

static const char *const roles_identity[] = { "site", "researcher",
					      "auditor", NULL };
static const char *const roles_site[] = { "site", NULL };
static const char *const roles_researcher[] = { "researcher", NULL };

static enum rf_rc h_enroll(struct rf_rpc_call *call, void *user,
			   struct rf_err *e);
static enum rf_rc h_ping(struct rf_rpc_call *call, void *user,
			 struct rf_err *e);
static enum rf_rc h_next_task(struct rf_rpc_call *call, void *user,
			      struct rf_err *e);
static enum rf_rc h_decide(struct rf_rpc_call *call, void *user,
			   struct rf_err *e);
static enum rf_rc h_get_model(struct rf_rpc_call *call, void *user,
			      struct rf_err *e);
static enum rf_rc h_upload(struct rf_rpc_call *call, void *user,
			   struct rf_err *e);
static enum rf_rc h_start_round(struct rf_rpc_call *call, void *user,
				struct rf_err *e);
static enum rf_rc h_round_status(struct rf_rpc_call *call, void *user,
				 struct rf_err *e);
static enum rf_rc h_watch_round(struct rf_rpc_call *call, void *user,
				struct rf_err *e);
static enum rf_rc h_export(struct rf_rpc_call *call, void *user,
			   struct rf_err *e);

/*
 * THE authorisation table: every method the aggregator serves, who may
 * call it and how much it may send. Nothing else grants access. A new
 * service is a new row here.
 */
static const struct rf_rpc_method methods[] = {
	{ AGG_ENROLL_PATH, RF_RPC_UNARY, 1, NULL, AGG_ENROLL_REQUEST_MAX,
	  h_enroll },
	{ AGG_PING_PATH, RF_RPC_UNARY, 0, roles_identity, 64, h_ping },
	/* rounds (agg_round.h) */
	{ AGG_NEXT_TASK_PATH, RF_RPC_UNARY, 0, roles_site,
	  AGG_SMALL_REQUEST_MAX, h_next_task },
	{ AGG_DECIDE_PATH, RF_RPC_UNARY, 0, roles_site, AGG_DECIDE_MAX,
	  h_decide },
	{ AGG_GET_MODEL_PATH, RF_RPC_SERVER_STREAM, 0, roles_site,
	  AGG_SMALL_REQUEST_MAX, h_get_model },
	{ AGG_UPLOAD_PATH, RF_RPC_CLIENT_STREAM, 0, roles_site,
	  AGG_UPLOAD_MSG_MAX, h_upload },
	{ AGG_START_ROUND_PATH, RF_RPC_UNARY, 0, roles_researcher,
	  AGG_START_ROUND_MAX, h_start_round },
	{ AGG_ROUND_STATUS_PATH, RF_RPC_UNARY, 0, roles_researcher,
	  AGG_SMALL_REQUEST_MAX, h_round_status },
	{ AGG_WATCH_ROUND_PATH, RF_RPC_SERVER_STREAM, 0, roles_researcher,
	  AGG_SMALL_REQUEST_MAX, h_watch_round },
	{ AGG_EXPORT_PATH, RF_RPC_SERVER_STREAM, 0, roles_researcher,
	  AGG_SMALL_REQUEST_MAX, h_export },
};

static void refused_audit(struct agg_server *s, const char *method,
			  const struct rf_rpc_peer *peer, const char *reason);

/* Step 3 of the checks (agg_server.h): the registry agrees with the
 * certificate on the caller's name and role. */
static enum rf_rc check_registry(struct agg_ctx *c, struct rf_rpc_call *call,
				 struct rf_err *e)
{
	const struct rf_rpc_peer *p = rf_rpc_call_peer(call);
	struct agg_identity id;
	struct rf_err e2 = { 0 };

	if (p->anonymous)
		return rf_rpc_call_method(call)->allow_anonymous
			       ? RF_OK
			       : rf_err_set(e, RF_EAUTH,
					    "a client certificate is "
					    "required");
	if (agg_registry_identity_find_by_fingerprint(c->reg, p->fingerprint,
						      &id, &e2) != RF_OK ||
	    id.revoked_at)
		return rf_err_set(e, RF_EAUTH, "certificate of '%s' refused",
				  p->cn);
	if (strcmp(id.name, p->cn) != 0 ||
	    strcmp(agg_role_name(id.role), p->role) != 0)
		return rf_err_set(e, RF_EAUTH,
				  "certificate of '%s' does not match the "
				  "registry",
				  p->cn);
	return RF_OK;
}

/* check_registry, with its refusals audited as rpc.refused like those of
 * rf_rpc (refused below). */
static enum rf_rc check_caller(struct agg_server *s,
			       struct rf_rpc_call *call, struct rf_err *e)
{
	enum rf_rc rc = check_registry(s->ctx, call, e);

	if (rc)
		refused_audit(s, rf_rpc_call_method(call)->path,
			      rf_rpc_call_peer(call), rf_err_msg(e));
	return rc;
}

static enum rf_rc h_enroll(struct rf_rpc_call *call, void *user,
			   struct rf_err *e)
{
	struct agg_server *s = user;
	struct rf_buf resp = RF_BUF_INIT(AGG_ENROLL_RESPONSE_MAX);
	const uint8_t *req;
	size_t n;
	enum rf_rc rc;

	rc = check_caller(s, call, e);
	if (rc)
		return rc;
	req = rf_rpc_call_request(call, &n);
	rc = agg_enroll(s->ctx, req, n, &resp, e);
	if (!rc)
		rc = rf_rpc_call_respond(call, resp.data, resp.len, e);
	rf_buf_release(&resp);
	return rc;
}

static enum rf_rc h_ping(struct rf_rpc_call *call, void *user,
			 struct rf_err *e)
{
	struct agg_server *s = user;

	return check_caller(s, call, e);
}

/* The round methods: the caller checked, then the engine. */
#define ROUND_HANDLER(h, fn)                                                   \
	static enum rf_rc h(struct rf_rpc_call *call, void *user,              \
			    struct rf_err *e)                                  \
	{                                                                      \
		struct agg_server *s = user;                                   \
		enum rf_rc rc = check_caller(s, call, e);                      \
                                                                               \
		return rc ? rc : fn(s->rounds, call, e);                       \
	}
ROUND_HANDLER(h_next_task, agg_rounds_next_task)
ROUND_HANDLER(h_decide, agg_rounds_decide)
ROUND_HANDLER(h_get_model, agg_rounds_get_model)
ROUND_HANDLER(h_upload, agg_rounds_upload)
ROUND_HANDLER(h_start_round, agg_rounds_start)
ROUND_HANDLER(h_round_status, agg_rounds_status)
ROUND_HANDLER(h_watch_round, agg_rounds_watch)
ROUND_HANDLER(h_export, agg_rounds_export)
#undef ROUND_HANDLER

/* rf_rpc's revocation hook, on every call of a certified peer: unknown,
 * revoked and expired certificates are refused. */
static int is_revoked(const char *fingerprint, void *user)
{
	struct agg_server *s = user;
	struct agg_identity id;
	struct rf_err e = { 0 };

	if (agg_registry_identity_find_by_fingerprint(s->ctx->reg, fingerprint,
						      &id, &e) != RF_OK)
		return 1;
	return id.revoked_at != 0 || agg_ctx_now(s->ctx) >= id.not_after;
}

/* Writes one rpc.refused line {method, site, cert_sha256, reason,
 * suppressed} (best effort: the refusal stands whatever happens to its
 * record; a line lost to an audit failure is lost from the count too). */
static void refused_write(struct agg_ctx *c, const struct agg_refuse_line *l)
{
	struct rf_buf d = RF_BUF_INIT(4096);
	struct rf_err e = { 0 };
	enum rf_rc rc;

	rc = rf_buf_printf(&d, &e, "{\"%s\":", RF_AUDIT_KEY_METHOD);
	if (!rc)
		rc = rf_json_quote(&d, l->method, strlen(l->method), &e);
	if (!rc)
		rc = rf_buf_printf(&d, &e, ",\"%s\":", RF_AUDIT_KEY_SITE);
	if (!rc)
		rc = rf_json_quote(&d, l->site, strlen(l->site), &e);
	if (!rc)
		rc = rf_buf_printf(&d, &e, ",\"%s\":",
				   RF_AUDIT_KEY_CERT_SHA256);
	if (!rc)
		rc = rf_json_quote(&d, l->cert_sha256, strlen(l->cert_sha256),
				   &e);
	if (!rc)
		rc = rf_buf_printf(&d, &e, ",\"%s\":", RF_AUDIT_KEY_REASON);
	if (!rc)
		rc = rf_json_quote(&d, l->reason, strlen(l->reason), &e);
	if (!rc)
		rc = rf_buf_printf(&d, &e, ",\"%s\":%" PRIu64 "}",
				   RF_AUDIT_KEY_SUPPRESSED, l->suppressed);
	if (!rc)
		(void)!agg_ctx_audit(c, RF_AUDIT_EV_RPC_REFUSED,
				     rf_buf_str(&d), &e);
	rf_buf_release(&d);
}

/* Audits a call refused before its handler as rpc.refused {method, site,
 * cert_sha256, reason, suppressed}, within the limit of agg_refuse.h (per
 * certificate fingerprint, "" for all callers without one: a burst of
 * AGG_REFUSE_BURST lines, then one per AGG_REFUSE_EVERY_MS; the refusals
 * left out are counted in the key's next line). site and cert_sha256 are
 * what the certificate presented says, "" without one. The lines are
 * written outside the limiter's lock. */
static void refused_audit(struct agg_server *s, const char *method,
			  const struct rf_rpc_peer *peer, const char *reason)
{
	struct agg_refuse_line lines[2];
	const char *fp = peer->anonymous ? "" : peer->fingerprint;
	const char *cn = peer->anonymous ? "" : peer->cn;
	int n;

	n = agg_refuse_note(s->refuse, method, cn, fp, reason, lines);
	for (int i = 0; i < n; i++)
		refused_write(s->ctx, &lines[i]);
}

/* rf_rpc's refused hook: every call refused before its handler. */
static void refused(const char *method, const struct rf_rpc_peer *peer,
		    enum rf_rc rc, const char *reason, void *user)
{
	struct agg_server *s = user;

	(void)rc;
	refused_audit(s, method, peer, reason);
}

const struct rf_rpc_method *agg_server_methods(size_t *n)
{
	*n = sizeof methods / sizeof methods[0];
	return methods;
}

enum rf_rc agg_server_create(struct agg_ctx *c, const char *listen,
			     struct agg_server **out, struct rf_err *e)
{
	struct rf_rpc_server_opts o;
	struct agg_server *s;
	enum rf_rc rc;

	*out = NULL;
	s = rf_calloc(1, sizeof *s);
	if (!s)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	s->ctx = c;
	rc = agg_refuse_create(NULL, NULL, &s->refuse, e);
	if (rc)
		goto fail_refuse;
	rc = agg_rounds_create(c, &s->rounds, e);
	if (rc)
		goto fail_rounds;
	memset(&o, 0, sizeof o);
	o.listen = listen ? listen : c->listen;
	o.cert_pem = c->server_chain_pem;
	o.key_pem = c->server_key_pem;
	o.ca_pem = c->ca_pem;
	o.methods = methods;
	o.n_methods = sizeof methods / sizeof methods[0];
	o.revoked = is_revoked;
	o.refused = refused;
	o.user = s;
	rc = rf_rpc_server_create(&o, &s->rpc, e);
	if (rc)
		goto fail_rpc;
	*out = s;
	return RF_OK;

fail_rpc:
	agg_rounds_destroy(s->rounds);
fail_rounds:
	agg_refuse_destroy(s->refuse);
fail_refuse:
	rf_free(s);
	return rc;
}

int agg_server_port(const struct agg_server *s)
{
	return rf_rpc_server_port(s->rpc);
}

struct agg_rounds *agg_server_rounds(struct agg_server *s)
{
	return s->rounds;
}

/* Once the workers are joined no refusal can come any more: every key
 * with refusals pending gets its line, so that over the whole log the sum
 * of (1 + suppressed) of the rpc.refused lines is the number of refused
 * calls. */
void agg_server_destroy(struct agg_server *s)
{
	struct agg_refuse_line l;

	if (!s)
		return;
	rf_rpc_server_destroy(s->rpc);
	while (agg_refuse_take(s->refuse, &l))
		refused_write(s->ctx, &l);
	agg_refuse_destroy(s->refuse);
	agg_rounds_destroy(s->rounds);
	rf_free(s);
}
