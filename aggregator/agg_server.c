/* agg_server.c - the authorisation table and the aggregator's server. */
#include "agg_server.h"

#include <string.h>

#include "agg_enroll.h"
#include "rf_alloc.h"
#include "rf_rpc.h"

struct agg_server {
	struct agg_ctx *ctx;
	struct rf_rpc_server *rpc;
};

static const char *const roles_identity[] = { "site", "researcher",
					      "auditor", NULL };

static enum rf_rc h_enroll(struct rf_rpc_call *call, void *user,
			   struct rf_err *e);
static enum rf_rc h_ping(struct rf_rpc_call *call, void *user,
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
};

/* Step 3 of the checks (agg_server.h): the registry agrees with the
 * certificate on the caller's name and role. */
static enum rf_rc check_caller(struct agg_ctx *c, struct rf_rpc_call *call,
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

static enum rf_rc h_enroll(struct rf_rpc_call *call, void *user,
			   struct rf_err *e)
{
	struct agg_server *s = user;
	struct rf_buf resp = RF_BUF_INIT(AGG_ENROLL_RESPONSE_MAX);
	const uint8_t *req;
	size_t n;
	enum rf_rc rc;

	rc = check_caller(s->ctx, call, e);
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

	return check_caller(s->ctx, call, e);
}

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
	memset(&o, 0, sizeof o);
	o.listen = listen ? listen : c->listen;
	o.cert_pem = c->server_chain_pem;
	o.key_pem = c->server_key_pem;
	o.ca_pem = c->ca_pem;
	o.methods = methods;
	o.n_methods = sizeof methods / sizeof methods[0];
	o.revoked = is_revoked;
	o.user = s;
	rc = rf_rpc_server_create(&o, &s->rpc, e);
	if (rc) {
		rf_free(s);
		return rc;
	}
	*out = s;
	return RF_OK;
}

int agg_server_port(const struct agg_server *s)
{
	return rf_rpc_server_port(s->rpc);
}

void agg_server_destroy(struct agg_server *s)
{
	if (!s)
		return;
	rf_rpc_server_destroy(s->rpc);
	rf_free(s);
}
