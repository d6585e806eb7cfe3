/*
 * rf_rpc_server.c - the server side of the RPC layer: TLS with client
 * certificates, the method table checks, and a pool of workers that each
 * serve one call at a time on their own completion queue.
 *
 * A worker asks gRPC for the next call (grpc_server_request_call) on its
 * queue, then serves it synchronously: every batch it starts is waited for
 * on the same queue before the next one, except the call's
 * RECV_CLOSE_ON_SERVER, which stays pending from the start and tells the
 * worker when the call dies (cancel, deadline, shutdown).
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "rf_alloc.h"
#include "rf_rpc.h"
#include "rf_rpc_int.h"

struct worker {
	struct rf_rpc_server *s;
	grpc_completion_queue *cq;
	pthread_t thread;
	int started;
};

struct rf_rpc_server {
	grpc_server *srv;
	grpc_completion_queue *shutdown_cq;
	struct worker *workers;
	unsigned n_workers;
	int port;
	int started;  /* grpc_server_start was called */
	int shut;     /* rf_rpc_server_shutdown has run */
	atomic_int stopping;
	const struct rf_rpc_method *methods;
	size_t n_methods;
	rf_rpc_revoked_fn revoked;
	rf_rpc_refused_fn refused;
	void *user;
	struct rf_x509 *ca; /* client certificates must chain to it */
};

struct rf_rpc_call {
	struct rf_rpc_server *s;
	grpc_completion_queue *cq;
	grpc_call *call;
	const struct rf_rpc_method *m;
	struct rf_rpc_peer peer;
	gpr_timespec deadline; /* monotonic */
	int close_pending;     /* RECV_CLOSE_ON_SERVER not yet completed */
	int close_cancelled;   /* its result */
	int md_sent;           /* initial metadata sent */
	int dead;              /* a batch failed: the call is over */
	int read_eof;
	int toobig;            /* a request message was over the limit */
	struct rf_buf req;
	struct rf_buf resp;
	int has_resp;
};

/* tags of the batches of a call (a worker has one call at a time) */
static char tag_new, tag_close, tag_op;

/* ---- waiting on a call's queue ---------------------------------------- */

/* Waits for the batch with tag (started just before) and returns its
 * success flag, noting the close event if it arrives meanwhile. */
static int call_wait(struct rf_rpc_call *c, void *tag)
{
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(
			c->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);

		if (ev.type != GRPC_OP_COMPLETE)
			return 0; /* queue shut down: cannot happen here */
		if (ev.tag == &tag_close) {
			c->close_pending = 0;
			if (tag == &tag_close)
				return ev.success;
			continue;
		}
		if (ev.tag == tag)
			return ev.success;
	}
}

static int call_batch(struct rf_rpc_call *c, const grpc_op *ops, size_t n)
{
	if (grpc_call_start_batch(c->call, ops, n, &tag_op, NULL) !=
	    GRPC_CALL_OK)
		return 0;
	return call_wait(c, &tag_op);
}

/* ---- the checks before the handler ------------------------------------ */

static const struct rf_rpc_method *method_find(const struct rf_rpc_server *s,
					       grpc_slice path)
{
	size_t n = GRPC_SLICE_LENGTH(path);

	for (size_t i = 0; i < s->n_methods; i++) {
		const char *p = s->methods[i].path;

		if (strlen(p) == n && memcmp(p, GRPC_SLICE_START_PTR(path),
					     n) == 0)
			return &s->methods[i];
	}
	return NULL;
}

/* Fills c->peer from the client certificate presented in the TLS
 * handshake, or anonymous when there is none, and checks it: *why (a
 * message, RF_EAUTH) is set when the certificate does not chain to the CA,
 * is outside its validity window or is not meant for client
 * authentication. cn and fingerprint are filled even then: they are the
 * evidence the refusal is audited with. */
static enum rf_rc peer_identify(struct rf_rpc_call *c, struct rf_err *why)
{
	grpc_auth_context *ac = grpc_call_auth_context(c->call);
	grpc_auth_property_iterator it;
	const grpc_auth_property *prop;
	struct rf_x509 *x = NULL;
	X509 *ox = NULL;
	BIO *bio = NULL;
	enum rf_rc rc = RF_OK;

	memset(&c->peer, 0, sizeof c->peer);
	c->peer.anonymous = 1;
	if (!ac)
		return RF_OK;
	it = grpc_auth_context_find_properties_by_name(
		ac, GRPC_X509_PEM_CERT_PROPERTY_NAME);
	prop = grpc_auth_property_iterator_next(&it);
	if (!prop)
		goto out;
	c->peer.anonymous = 0;
	rc = rf_x509_parse_pem(prop->value, prop->value_length, &x, why);
	if (rc) {
		rc = rf_err_prefix(why, "unusable client certificate");
		goto out;
	}
	if (rf_x509_fingerprint(x, c->peer.fingerprint, NULL))
		c->peer.fingerprint[0] = '\0';
	if (rf_x509_cn(x, c->peer.cn, sizeof c->peer.cn, NULL))
		c->peer.cn[0] = '\0';
	if (rf_x509_ou(x, c->peer.role, sizeof c->peer.role, NULL))
		c->peer.role[0] = '\0'; /* no role: refused by role checks */
	if (!c->peer.fingerprint[0] || !c->peer.cn[0]) {
		rc = rf_err_set(why, RF_EAUTH,
				"unusable client certificate: no %s",
				c->peer.cn[0] ? "fingerprint" : "subject CN");
		goto out;
	}
	/* the chain and the validity window, now: what the handshake would
	 * have checked with GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY */
	rc = rf_x509_verify(x, c->s->ca, (int64_t)time(NULL), why);
	if (rc) {
		rc = RF_EAUTH;
		why->rc = RF_EAUTH;
		goto out;
	}
	/* and what it is for: a server or CA certificate is no client */
	bio = BIO_new_mem_buf(prop->value, (int)prop->value_length);
	ox = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	if (!ox || X509_check_purpose(ox, X509_PURPOSE_SSL_CLIENT, 0) != 1 ||
	    X509_check_ca(ox) != 0) {
		rc = rf_err_set(why, RF_EAUTH,
				"certificate '%s' is not a client "
				"certificate", c->peer.cn);
		goto out;
	}
out:
	ERR_clear_error();
	X509_free(ox);
	BIO_free(bio);
	rf_x509_destroy(x);
	grpc_auth_context_release(ac);
	return rc;
}

static int role_allowed(const struct rf_rpc_method *m, const char *role)
{
	if (!m->roles)
		return 1;
	for (const char *const *r = m->roles; *r; r++)
		if (strcmp(*r, role) == 0)
			return 1;
	return 0;
}

/* Tells the server's refused hook about a call stopped before its
 * handler. */
static void call_refused(struct rf_rpc_call *c, const char *path,
			 const struct rf_err *why)
{
	const struct rf_rpc_server *s = c->s;

	if (s->refused)
		s->refused(path, &c->peer, why->rc, rf_err_msg(why), s->user);
}

/* The status refusing the call before its handler, or OK; the refusal is
 * reported to the refused hook. */
static grpc_status_code call_check(struct rf_rpc_call *c, grpc_slice path,
				   struct rf_err *e)
{
	const struct rf_rpc_server *s = c->s;
	char pathz[RF_RPC_PATH_MAX + 1];
	size_t plen = GRPC_SLICE_LENGTH(path);
	grpc_status_code st = GRPC_STATUS_OK;
	enum rf_rc prc;

	if (plen > RF_RPC_PATH_MAX)
		plen = RF_RPC_PATH_MAX;
	memcpy(pathz, GRPC_SLICE_START_PTR(path), plen);
	pathz[plen] = '\0';
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)pathz[i] < 0x20 ||
		    (unsigned char)pathz[i] > 0x7e)
			pathz[i] = '?'; /* evidence, not a terminal escape */

	prc = peer_identify(c, e);
	c->m = method_find(s, path);
	if (!c->m) {
		rf_err_set(e, RF_EUNSUPPORTED, "unknown method '%s'", pathz);
		st = GRPC_STATUS_UNIMPLEMENTED;
	} else if (prc) {
		st = GRPC_STATUS_UNAUTHENTICATED;
	} else if (c->peer.anonymous) {
		if (c->m->allow_anonymous)
			return GRPC_STATUS_OK;
		rf_err_set(e, RF_EAUTH,
			   "method '%s' needs a client certificate",
			   c->m->path);
		st = GRPC_STATUS_PERMISSION_DENIED;
	} else if (s->revoked && s->revoked(c->peer.fingerprint, s->user)) {
		rf_err_set(e, RF_EAUTH, "certificate '%s' (%s) is revoked",
			   c->peer.cn, c->peer.fingerprint);
		st = GRPC_STATUS_UNAUTHENTICATED;
	} else if (!role_allowed(c->m, c->peer.role)) {
		rf_err_set(e, RF_EAUTH, "role '%s' of '%s' may not call '%s'",
			   c->peer.role, c->peer.cn, c->m->path);
		st = GRPC_STATUS_PERMISSION_DENIED;
	}
	if (st != GRPC_STATUS_OK)
		call_refused(c, c->m ? c->m->path : pathz, e);
	return st;
}

/* ---- serving one call ------------------------------------------------- */

/* Receives one request message, appended to dst (which the caller has
 * reset, or not: rf_rpc_call_read_all reassembles in place). *eof when the
 * client has half-closed. */
static enum rf_rc call_recv(struct rf_rpc_call *c, struct rf_buf *dst,
			    int *eof, struct rf_err *e)
{
	grpc_byte_buffer *bb = NULL;
	grpc_op ops[2];
	size_t n = 0, len;
	enum rf_rc rc;

	*eof = 0;
	if (c->read_eof) {
		*eof = 1;
		return RF_OK;
	}
	if (c->dead)
		return rf_err_set(e, RF_EIO, "call '%s' was cancelled",
				  c->m->path);
	memset(ops, 0, sizeof ops);
	if (!c->md_sent) {
		ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
		n++;
	}
	ops[n].op = GRPC_OP_RECV_MESSAGE;
	ops[n].data.recv_message.recv_message = &bb;
	n++;
	if (!call_batch(c, ops, n)) {
		c->dead = 1;
		if (bb)
			grpc_byte_buffer_destroy(bb);
		return rf_err_set(e, RF_EIO, "call '%s' was cancelled",
				  c->m->path);
	}
	c->md_sent = 1;
	if (!bb) {
		c->read_eof = 1;
		*eof = 1;
		return RF_OK;
	}
	len = grpc_byte_buffer_length(bb);
	if (len > c->req.max) {
		grpc_byte_buffer_destroy(bb);
		c->toobig = 1;
		return rf_err_set(e, RF_ETOOBIG,
				  "request message of %zu bytes exceeds the "
				  "limit of %zu bytes of '%s'", len,
				  c->req.max, c->m->path);
	}
	rc = rf__rpc_bb_read(bb, dst, e);
	grpc_byte_buffer_destroy(bb);
	return rc;
}

/* Sends the status (with the response message when there is one) and waits
 * for the call to close. */
static void call_finish(struct rf_rpc_call *c, grpc_status_code st,
			const char *msg)
{
	grpc_byte_buffer *bb = NULL;
	grpc_slice details = grpc_slice_from_copied_string(msg ? msg : "");
	grpc_op ops[3];
	size_t n = 0;

	memset(ops, 0, sizeof ops);
	if (!c->md_sent) {
		ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
		n++;
	}
	if (st == GRPC_STATUS_OK && c->m &&
	    c->m->kind != RF_RPC_SERVER_STREAM) {
		bb = rf__rpc_bb_create(c->resp.data, c->resp.len);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = bb;
		n++;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = st;
	ops[n].data.send_status_from_server.status_details =
		st == GRPC_STATUS_OK ? NULL : &details;
	n++;
	(void)call_batch(c, ops, n); /* fails only when the call is dead */
	c->md_sent = 1;
	if (c->close_pending)
		(void)call_wait(c, &tag_close);
	if (bb)
		grpc_byte_buffer_destroy(bb);
	grpc_slice_unref(details);
}

static void call_serve(struct worker *w, grpc_call *gcall,
		       const grpc_call_details *d)
{
	struct rf_rpc_server *s = w->s;
	struct rf_rpc_call c;
	struct rf_err he = {0};
	grpc_status_code st;
	grpc_op op;
	enum rf_rc rc;
	int eof;

	memset(&c, 0, sizeof c);
	c.s = s;
	c.cq = w->cq;
	c.call = gcall;
	c.deadline = gpr_convert_clock_type(d->deadline, GPR_CLOCK_MONOTONIC);
	rf_buf_init(&c.req, 0);
	rf_buf_init(&c.resp, RF_RPC_MSG_MAX);

	memset(&op, 0, sizeof op);
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c.close_cancelled;
	if (grpc_call_start_batch(gcall, &op, 1, &tag_close, NULL) !=
	    GRPC_CALL_OK) {
		grpc_call_cancel(gcall, NULL);
		return;
	}
	c.close_pending = 1;

	st = call_check(&c, d->method, &he);
	if (st != GRPC_STATUS_OK)
		goto finish;
	rf_buf_init(&c.req, c.m->max_request ? c.m->max_request
					     : RF_RPC_MSG_MAX);
	if (c.m->kind != RF_RPC_CLIENT_STREAM) {
		rc = call_recv(&c, &c.req, &eof, &he);
		if (rc == RF_OK && eof)
			rc = rf_err_set(&he, RF_EINVAL,
					"no request message for '%s'",
					c.m->path);
		if (rc) {
			if (c.toobig)
				call_refused(&c, c.m->path, &he);
			st = rf__rpc_status_from_rc(rc);
			goto finish;
		}
	}
	rc = c.m->handler(&c, s->user, &he);
	if (c.toobig) {
		st = GRPC_STATUS_RESOURCE_EXHAUSTED;
		if (rc != RF_ETOOBIG)
			rf_err_set(&he, RF_ETOOBIG,
				   "request message over the limit of '%s'",
				   c.m->path);
		call_refused(&c, c.m->path, &he);
	} else {
		st = rf__rpc_status_from_rc(rc);
		if (rc && !he.msg[0])
			rf_err_set(&he, rc, "%s", rf_strerror(rc));
	}
finish:
	call_finish(&c, st, st == GRPC_STATUS_OK ? NULL : he.msg);
	rf_buf_release_secret(&c.req);
	rf_buf_release_secret(&c.resp);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct rf_rpc_server *s = w->s;

	while (!atomic_load(&s->stopping)) {
		grpc_call *call = NULL;
		grpc_call_details d;
		grpc_metadata_array md;
		grpc_event ev;

		grpc_call_details_init(&d);
		grpc_metadata_array_init(&md);
		if (grpc_server_request_call(s->srv, &call, &d, &md, w->cq,
					     w->cq, &tag_new) !=
		    GRPC_CALL_OK) {
			grpc_call_details_destroy(&d);
			grpc_metadata_array_destroy(&md);
			break;
		}
		ev = grpc_completion_queue_next(
			w->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		if (ev.type == GRPC_OP_COMPLETE && ev.success && call)
			call_serve(w, call, &d);
		if (call)
			grpc_call_unref(call);
		grpc_call_details_destroy(&d);
		grpc_metadata_array_destroy(&md);
		if (ev.type != GRPC_OP_COMPLETE || !ev.success)
			break; /* the server is shutting down */
	}
	return NULL;
}

/* ---- the handler's side ----------------------------------------------- */

const struct rf_rpc_peer *rf_rpc_call_peer(const struct rf_rpc_call *c)
{
	return &c->peer;
}

const struct rf_rpc_method *rf_rpc_call_method(const struct rf_rpc_call *c)
{
	return c->m;
}

const uint8_t *rf_rpc_call_request(const struct rf_rpc_call *c, size_t *len)
{
	if (c->m->kind == RF_RPC_CLIENT_STREAM) {
		*len = 0;
		return NULL;
	}
	*len = c->req.len;
	return c->req.data ? c->req.data : (const uint8_t *)"";
}

int64_t rf_rpc_call_remaining_ms(const struct rf_rpc_call *c)
{
	gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
	gpr_timespec left;

	if (gpr_time_cmp(c->deadline, gpr_inf_future(GPR_CLOCK_MONOTONIC)) ==
	    0)
		return INT64_MAX;
	if (gpr_time_cmp(c->deadline, now) <= 0)
		return 0;
	left = gpr_time_sub(c->deadline, now);
	return (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
}

int rf_rpc_call_cancelled(struct rf_rpc_call *c)
{
	if (c->dead || !c->close_pending || atomic_load(&c->s->stopping))
		return 1;
	/* the only batch that can be pending here is the close */
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(
			c->cq, gpr_time_0(GPR_CLOCK_MONOTONIC), NULL);

		if (ev.type != GRPC_OP_COMPLETE)
			break;
		if (ev.tag == &tag_close) {
			c->close_pending = 0;
			c->dead = 1;
			return 1;
		}
	}
	return rf_rpc_call_remaining_ms(c) == 0;
}

enum rf_rc rf_rpc_call_read(struct rf_rpc_call *c, struct rf_buf *msg,
			    int *eof, struct rf_err *e)
{
	enum rf_rc rc;

	*eof = 0;
	rf_buf_reset(msg);
	if (c->m->kind != RF_RPC_CLIENT_STREAM)
		return rf_err_set(e, RF_EINVAL,
				  "'%s' is not a client-streaming method",
				  c->m->path);
	/* straight into msg: c->req (its max) only bounds the size */
	rc = call_recv(c, msg, eof, e);
	if (rc)
		rf_buf_reset(msg);
	return rc;
}

enum rf_rc rf_rpc_call_read_all(struct rf_rpc_call *c, struct rf_buf *out,
				struct rf_err *e)
{
	enum rf_rc rc;
	int eof = 0;

	if (c->m->kind != RF_RPC_CLIENT_STREAM)
		return rf_err_set(e, RF_EINVAL,
				  "'%s' is not a client-streaming method",
				  c->m->path);
	for (;;) {
		rc = call_recv(c, out, &eof, e);
		if (rc || eof)
			return rc;
	}
}

enum rf_rc rf_rpc_call_send(struct rf_rpc_call *c, const void *p, size_t n,
			    struct rf_err *e)
{
	grpc_byte_buffer *bb;
	grpc_op ops[2];
	size_t k = 0;
	int ok;

	if (c->m->kind != RF_RPC_SERVER_STREAM)
		return rf_err_set(e, RF_EINVAL,
				  "'%s' is not a server-streaming method",
				  c->m->path);
	if (n > RF_RPC_MSG_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "message of %zu bytes exceeds the limit of "
				  "%u bytes", n, RF_RPC_MSG_MAX);
	if (c->dead || !c->close_pending)
		return rf_err_set(e, RF_EIO, "call '%s' was cancelled",
				  c->m->path);
	memset(ops, 0, sizeof ops);
	if (!c->md_sent) {
		ops[k].op = GRPC_OP_SEND_INITIAL_METADATA;
		k++;
	}
	bb = rf__rpc_bb_create(p, n);
	ops[k].op = GRPC_OP_SEND_MESSAGE;
	ops[k].data.send_message.send_message = bb;
	k++;
	ok = call_batch(c, ops, k);
	grpc_byte_buffer_destroy(bb);
	c->md_sent = 1;
	if (!ok) {
		c->dead = 1;
		return rf_err_set(e, RF_EIO, "call '%s' was cancelled",
				  c->m->path);
	}
	return RF_OK;
}

enum rf_rc rf_rpc_call_send_chunked(struct rf_rpc_call *c, const void *p,
				    size_t n, struct rf_err *e)
{
	const uint8_t *q = p;

	while (n > 0) {
		size_t k = n < RF_RPC_CHUNK ? n : RF_RPC_CHUNK;
		enum rf_rc rc = rf_rpc_call_send(c, q, k, e);

		if (rc)
			return rc;
		q += k;
		n -= k;
	}
	return RF_OK;
}

enum rf_rc rf_rpc_call_respond(struct rf_rpc_call *c, const void *p, size_t n,
			       struct rf_err *e)
{
	if (c->m->kind == RF_RPC_SERVER_STREAM)
		return rf_err_set(e, RF_EINVAL,
				  "'%s' is a server-streaming method",
				  c->m->path);
	rf_buf_reset(&c->resp);
	return rf_buf_append(&c->resp, p, n, e);
}

/* ---- server life cycle ------------------------------------------------ */

/* Appends to args (room for 8 more) what lets clients keep a quiet
 * connection alive through a long training (rf_rpc.h): pings every
 * RF_RPC_KEEPALIVE_MS, with or without calls, are welcome; and the flow
 * control. */
static void server_keepalive_args(grpc_channel_args *args)
{
	static const struct {
		const char *key;
		int value;
	} kv[] = {
		/* accept a ping every half keepalive period, data or not */
		{GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
		 RF_RPC_KEEPALIVE_MS / 2},
		{GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1},
		/* strikes count pings more frequent than that; a few are
		 * tolerated before the connection is closed (GOAWAY) */
		{GRPC_ARG_HTTP2_MAX_PING_STRIKES, 10},
		/* the server pings its clients too, to drop dead ones */
		{GRPC_ARG_KEEPALIVE_TIME_MS, 2 * RF_RPC_KEEPALIVE_MS},
		{GRPC_ARG_KEEPALIVE_TIMEOUT_MS, RF_RPC_KEEPALIVE_TIMEOUT_MS},
		{GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0},
		/* a fixed receive window instead of one grown by BDP probes:
		 * what gRPC buffers for an upload stays bounded (rf_rpc.h) */
		{GRPC_ARG_HTTP2_BDP_PROBE, 0},
		{GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, RF_RPC_WINDOW},
	};

	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
		grpc_arg *a = &args->args[args->num_args++];

		a->type = GRPC_ARG_INTEGER;
		a->key = (char *)kv[i].key;
		a->value.integer = kv[i].value;
	}
}

static enum rf_rc opts_check(const struct rf_rpc_server_opts *o,
			     struct rf_err *e)
{
	if (!o || !o->listen || !o->cert_pem || !o->key_pem || !o->ca_pem)
		return rf_err_set(e, RF_EINVAL,
				  "rpc server needs an address, a certificate, "
				  "a key and a CA");
	if (!o->methods || o->n_methods == 0)
		return rf_err_set(e, RF_EINVAL, "rpc server has no methods");
	if (o->workers > 256)
		return rf_err_set(e, RF_EINVAL,
				  "%u worker threads is too many (max 256)",
				  o->workers);
	for (size_t i = 0; i < o->n_methods; i++) {
		const struct rf_rpc_method *m = &o->methods[i];

		if (!m->path || m->path[0] != '/' ||
		    strlen(m->path) > RF_RPC_PATH_MAX)
			return rf_err_set(e, RF_EINVAL,
					  "method %zu: path must start with "
					  "'/' and be at most %d bytes", i,
					  RF_RPC_PATH_MAX);
		if (!m->handler)
			return rf_err_set(e, RF_EINVAL,
					  "method '%s' has no handler",
					  m->path);
		if (m->kind != RF_RPC_UNARY &&
		    m->kind != RF_RPC_SERVER_STREAM &&
		    m->kind != RF_RPC_CLIENT_STREAM)
			return rf_err_set(e, RF_EINVAL,
					  "method '%s' has an unknown kind",
					  m->path);
		if (m->max_request > RF_RPC_MSG_MAX)
			return rf_err_set(e, RF_EINVAL,
					  "method '%s': max_request over %u "
					  "bytes", m->path, RF_RPC_MSG_MAX);
		for (size_t j = 0; j < i; j++)
			if (strcmp(o->methods[j].path, m->path) == 0)
				return rf_err_set(e, RF_EINVAL,
						  "method '%s' is listed "
						  "twice", m->path);
	}
	return RF_OK;
}

enum rf_rc rf_rpc_server_create(const struct rf_rpc_server_opts *o,
				struct rf_rpc_server **out, struct rf_err *e)
{
	struct rf_rpc_server *s = NULL;
	grpc_server_credentials *creds = NULL;
	grpc_ssl_pem_key_cert_pair pair;
	grpc_arg arg[10];
	grpc_channel_args args;
	enum rf_rc rc;

	*out = NULL;
	rc = opts_check(o, e);
	if (rc == RF_OK)
		rc = rf__rpc_pem_check(o->cert_pem, o->key_pem, o->ca_pem, e);
	if (rc)
		return rc;
	s = rf_calloc(1, sizeof *s);
	if (!s)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	s->n_workers = o->workers ? o->workers : RF_RPC_WORKERS_DEFAULT;
	s->workers = rf_calloc(s->n_workers, sizeof *s->workers);
	if (!s->workers) {
		rf_free(s);
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	}
	s->methods = o->methods;
	s->n_methods = o->n_methods;
	s->revoked = o->revoked;
	s->refused = o->refused;
	s->user = o->user;
	atomic_init(&s->stopping, 0);
	rf__rpc_grpc_ref();

	/* gRPC's own limit, before a message is read; the per-method limit
	 * is checked on each message */
	memset(arg, 0, sizeof arg);
	arg[0].type = GRPC_ARG_INTEGER;
	arg[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	arg[0].value.integer = (int)RF_RPC_MSG_MAX;
	/* gRPC sets SO_REUSEPORT by default: another process could then bind
	 * the same port and take calls meant for us */
	arg[1].type = GRPC_ARG_INTEGER;
	arg[1].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
	arg[1].value.integer = 0;
	args.num_args = 2;
	args.args = arg;
	server_keepalive_args(&args);
	s->srv = grpc_server_create(&args, NULL);
	s->shutdown_cq = grpc_completion_queue_create_for_pluck(NULL);
	for (unsigned i = 0; i < s->n_workers; i++) {
		s->workers[i].s = s;
		s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
		grpc_server_register_completion_queue(s->srv,
						      s->workers[i].cq, NULL);
	}

	rc = rf_x509_parse_pem(o->ca_pem, strlen(o->ca_pem), &s->ca, e);
	if (rc) {
		rf_err_prefix(e, "CA certificate");
		goto fail;
	}
	pair.private_key = o->key_pem;
	pair.cert_chain = o->cert_pem;
	/* the handshake asks for a client certificate and proves that the
	 * peer holds its key, but leaves the verification to call_check, on
	 * every call, so that a refused certificate is seen and reported
	 * (rf_rpc.h) */
	creds = grpc_ssl_server_credentials_create_ex(
		o->ca_pem, &pair, 1,
		GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY, NULL);
	if (!creds) {
		rc = rf_err_set(e, RF_ECRYPTO,
				"cannot use the server certificate and key");
		goto fail;
	}
	s->port = grpc_server_add_http2_port(s->srv, o->listen, creds);
	grpc_server_credentials_release(creds);
	if (s->port <= 0) {
		rc = rf_err_set(e, RF_EIO,
				"cannot listen on '%s' (address in use, bad "
				"address or unusable certificate and key)",
				o->listen);
		goto fail;
	}
	grpc_server_start(s->srv);
	s->started = 1;
	for (unsigned i = 0; i < s->n_workers; i++) {
		if (pthread_create(&s->workers[i].thread, NULL, worker_main,
				   &s->workers[i]) != 0) {
			rc = rf_err_set(e, RF_ENOMEM,
					"cannot start rpc worker threads");
			goto fail;
		}
		s->workers[i].started = 1;
	}
	*out = s;
	return RF_OK;
fail:
	rf_rpc_server_destroy(s);
	return rc;
}

int rf_rpc_server_port(const struct rf_rpc_server *s)
{
	return s->port;
}

static void cq_drain_destroy(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq,
					  gpr_inf_future(GPR_CLOCK_MONOTONIC),
					  NULL)
		       .type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

void rf_rpc_server_shutdown(struct rf_rpc_server *s)
{
	if (!s || s->shut)
		return;
	s->shut = 1;
	atomic_store(&s->stopping, 1);
	grpc_server_shutdown_and_notify(s->srv, s->shutdown_cq, &tag_new);
	grpc_server_cancel_all_calls(s->srv);
	for (unsigned i = 0; i < s->n_workers; i++)
		if (s->workers[i].started)
			pthread_join(s->workers[i].thread, NULL);
	(void)grpc_completion_queue_pluck(s->shutdown_cq, &tag_new,
					  gpr_inf_future(GPR_CLOCK_MONOTONIC),
					  NULL);
}

void rf_rpc_server_destroy(struct rf_rpc_server *s)
{
	if (!s)
		return;
	if (s->started) {
		rf_rpc_server_shutdown(s);
	} else if (s->srv) {
		/* never started: nothing to cancel, no worker to join */
		grpc_server_shutdown_and_notify(s->srv, s->shutdown_cq,
						&tag_new);
		(void)grpc_completion_queue_pluck(
			s->shutdown_cq, &tag_new,
			gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
	}
	if (s->srv)
		grpc_server_destroy(s->srv);
	for (unsigned i = 0; i < s->n_workers; i++)
		if (s->workers[i].cq)
			cq_drain_destroy(s->workers[i].cq);
	if (s->shutdown_cq) {
		grpc_completion_queue_shutdown(s->shutdown_cq);
		grpc_completion_queue_destroy(s->shutdown_cq);
	}
	rf_x509_destroy(s->ca);
	rf_free(s->workers);
	rf_free(s);
	rf__rpc_grpc_unref();
}
