/*
 * rf_rpc_client.c - the client side of the RPC layer: one TLS channel, one
 * completion queue per call (so that threads share the channel safely),
 * every batch waited for with grpc_completion_queue_pluck.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "rf_alloc.h"
#include "rf_crypto.h"
#include "rf_rpc.h"
#include "rf_rpc_int.h"

struct rf_rpc_client {
	grpc_channel *ch;
	char *target;
	char *server_name; /* NULL: host of target */
	char *ca_pem;
	char *cert_pem;
	char *key_pem; /* zeroized on destroy */
};

/* one client call in progress */
struct ccall {
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_metadata_array imd;
	grpc_metadata_array tmd;
	grpc_status_code status;
	grpc_slice details;
	int status_started; /* the RECV_STATUS batch was started */
};

static char tag_op, tag_status;

/* ---- creation --------------------------------------------------------- */

/* Normalises a fingerprint written as hex with optional ':' into 64
 * lowercase digits. */
static enum rf_rc fp_normalise(const char *in, char out[RF_X509_FP_SIZE],
			       struct rf_err *e)
{
	size_t n = 0;

	for (const char *p = in; *p; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n == RF_X509_FP_SIZE - 1)
			return rf_err_set(e, RF_EINVAL,
					  "malformed CA fingerprint '%.80s'",
					  in);
		out[n++] = (char)tolower((unsigned char)*p);
	}
	if (n != RF_X509_FP_SIZE - 1)
		return rf_err_set(e, RF_EINVAL,
				  "malformed CA fingerprint '%.80s'", in);
	out[n] = '\0';
	return RF_OK;
}

static enum rf_rc ca_check(const struct rf_rpc_client_opts *o,
			   struct rf_err *e)
{
	struct rf_x509 *ca = NULL;
	char want[RF_X509_FP_SIZE], got[RF_X509_FP_SIZE];
	char cn[RF_X509_NAME_MAX + 1] = "";
	enum rf_rc rc;

	rc = rf_x509_parse_pem(o->ca_pem, strlen(o->ca_pem), &ca, e);
	if (rc) {
		rf_err_prefix(e, "CA certificate");
		return rc;
	}
	if (!o->ca_fingerprint)
		goto out;
	rc = fp_normalise(o->ca_fingerprint, want, e);
	if (rc)
		goto out;
	rc = rf_x509_fingerprint(ca, got, e);
	if (rc)
		goto out;
	if (!rf_ct_equal(want, got, RF_X509_FP_SIZE - 1)) {
		if (rf_x509_cn(ca, cn, sizeof cn, NULL))
			cn[0] = '\0';
		rc = rf_err_set(e, RF_EAUTH,
				"CA certificate '%s' has fingerprint %s, not "
				"the pinned %s", cn, got, want);
	}
out:
	rf_x509_destroy(ca);
	return rc;
}

static char *dup_opt(const char *s, int *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = rf_strdup(s);
	if (!d)
		*fail = 1;
	return d;
}

/* Appends to args (room for 6 more) the keepalive of rf_rpc.h (a ping
 * every RF_RPC_KEEPALIVE_MS, calls or not, data or not) and the flow
 * control. */
static void client_keepalive_args(grpc_channel_args *args)
{
	static const struct {
		const char *key;
		int value;
	} kv[] = {
		{GRPC_ARG_KEEPALIVE_TIME_MS, RF_RPC_KEEPALIVE_MS},
		{GRPC_ARG_KEEPALIVE_TIMEOUT_MS, RF_RPC_KEEPALIVE_TIMEOUT_MS},
		{GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1},
		/* 0: no limit on pings between data frames (default 2) */
		{GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0},
		/* a fixed receive window instead of one grown by BDP probes:
		 * what gRPC buffers for a download stays bounded (rf_rpc.h) */
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

enum rf_rc rf_rpc_client_create(const struct rf_rpc_client_opts *o,
				struct rf_rpc_client **out, struct rf_err *e)
{
	struct rf_rpc_client *c;
	grpc_channel_credentials *creds;
	grpc_ssl_pem_key_cert_pair pair;
	grpc_arg args[10];
	grpc_channel_args ca;
	int fail = 0;
	enum rf_rc rc;

	*out = NULL;
	if (!o || !o->target || !o->target[0] || !o->ca_pem)
		return rf_err_set(e, RF_EINVAL,
				  "rpc client needs a target and a CA");
	if (!o->cert_pem != !o->key_pem)
		return rf_err_set(e, RF_EINVAL,
				  "rpc client needs both a certificate and a "
				  "key, or neither");
	rc = ca_check(o, e);
	if (rc == RF_OK && o->cert_pem)
		rc = rf__rpc_pem_check(o->cert_pem, o->key_pem, o->ca_pem, e);
	if (rc)
		return rc;
	c = rf_calloc(1, sizeof *c);
	if (!c)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	c->target = dup_opt(o->target, &fail);
	c->server_name = dup_opt(o->server_name, &fail);
	c->ca_pem = dup_opt(o->ca_pem, &fail);
	c->cert_pem = dup_opt(o->cert_pem, &fail);
	c->key_pem = dup_opt(o->key_pem, &fail);
	if (fail) {
		rf_rpc_client_destroy(c);
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	}
	rf__rpc_grpc_ref();
	pair.private_key = c->key_pem;
	pair.cert_chain = c->cert_pem;
	creds = grpc_ssl_credentials_create_ex(c->ca_pem,
					       c->cert_pem ? &pair : NULL,
					       NULL, NULL);
	memset(args, 0, sizeof args);
	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[0].value.integer = (int)RF_RPC_MSG_MAX;
	ca.num_args = 1;
	ca.args = args;
	client_keepalive_args(&ca);
	if (c->server_name) {
		args[ca.num_args].type = GRPC_ARG_STRING;
		args[ca.num_args].key =
			(char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
		args[ca.num_args].value.string = c->server_name;
		ca.num_args++;
	}
	c->ch = grpc_channel_create(c->target, creds, &ca);
	grpc_channel_credentials_release(creds);
	*out = c;
	return RF_OK;
}

void rf_rpc_client_destroy(struct rf_rpc_client *c)
{
	if (!c)
		return;
	if (c->ch) {
		grpc_channel_destroy(c->ch);
		rf__rpc_grpc_unref();
	}
	rf_free(c->target);
	rf_free(c->server_name);
	rf_free(c->ca_pem);
	rf_free(c->cert_pem);
	if (c->key_pem)
		rf_free_secret(c->key_pem, strlen(c->key_pem));
	rf_free(c);
}

/* ---- one call --------------------------------------------------------- */

static enum rf_rc ccall_start(struct rf_rpc_client *c, const char *method,
			      int64_t deadline_ms, struct ccall *cc,
			      struct rf_err *e)
{
	gpr_timespec deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
	grpc_slice path;

	memset(cc, 0, sizeof *cc);
	grpc_metadata_array_init(&cc->imd);
	grpc_metadata_array_init(&cc->tmd);
	cc->details = grpc_empty_slice();
	if (!method || method[0] != '/' || strlen(method) > RF_RPC_PATH_MAX)
		return rf_err_set(e, RF_EINVAL, "bad method path '%.*s'",
				  RF_RPC_PATH_MAX, method ? method : "");
	if (deadline_ms < 0)
		return rf_err_set(e, RF_EINVAL, "negative deadline");
	if (deadline_ms > 0)
		deadline = gpr_time_add(
			gpr_now(GPR_CLOCK_MONOTONIC),
			gpr_time_from_millis(deadline_ms, GPR_TIMESPAN));
	cc->cq = grpc_completion_queue_create_for_pluck(NULL);
	/* copied: gRPC may hold the path after the call is released */
	path = grpc_slice_from_copied_string(method);
	cc->call = grpc_channel_create_call(c->ch, NULL,
					    GRPC_PROPAGATE_DEFAULTS, cc->cq,
					    path, NULL, deadline, NULL);
	grpc_slice_unref(path);
	if (!cc->call)
		return rf_err_set(e, RF_EINTERNAL,
				  "cannot create a call to '%s'", method);
	return RF_OK;
}

static int ccall_wait(struct ccall *cc, void *tag)
{
	grpc_event ev = grpc_completion_queue_pluck(
		cc->cq, tag, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);

	return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/* Starts a batch with tag and waits for it. 0 when it failed. */
static int ccall_batch(struct ccall *cc, const grpc_op *ops, size_t n)
{
	if (grpc_call_start_batch(cc->call, ops, n, &tag_op, NULL) !=
	    GRPC_CALL_OK)
		return 0;
	return ccall_wait(cc, &tag_op);
}

/* Starts the batch that receives the final status (and, for a
 * client-streaming call, the initial metadata and *resp). */
static enum rf_rc ccall_start_status(struct ccall *cc,
				     grpc_byte_buffer **resp,
				     struct rf_err *e)
{
	grpc_op ops[3];
	size_t n = 0;

	memset(ops, 0, sizeof ops);
	if (resp) {
		ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
		ops[n].data.recv_initial_metadata.recv_initial_metadata =
			&cc->imd;
		n++;
		ops[n].op = GRPC_OP_RECV_MESSAGE;
		ops[n].data.recv_message.recv_message = resp;
		n++;
	}
	ops[n].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[n].data.recv_status_on_client.trailing_metadata = &cc->tmd;
	ops[n].data.recv_status_on_client.status = &cc->status;
	ops[n].data.recv_status_on_client.status_details = &cc->details;
	n++;
	if (grpc_call_start_batch(cc->call, ops, n, &tag_status, NULL) !=
	    GRPC_CALL_OK)
		return rf_err_set(e, RF_EINTERNAL,
				  "cannot start a gRPC batch");
	cc->status_started = 1;
	return RF_OK;
}

/* Why the server may have refused our certificate, as far as we can tell
 * from here: checked against our CA (usually the one that issued it) at
 * the current time. Empty when it looks valid. */
static void own_cert_diagnose(const struct rf_rpc_client *c, char *out,
			      size_t size)
{
	struct rf_x509 *cert = NULL, *ca = NULL;
	struct rf_err e = {0};

	out[0] = '\0';
	if (!c->cert_pem ||
	    rf_x509_parse_pem(c->cert_pem, strlen(c->cert_pem), &cert, NULL) ||
	    rf_x509_parse_pem(c->ca_pem, strlen(c->ca_pem), &ca, NULL))
		goto out;
	if (rf_x509_verify(cert, ca, (int64_t)time(NULL), &e))
		snprintf(out, size, ": %s", rf_err_msg(&e));
out:
	rf_x509_destroy(cert);
	rf_x509_destroy(ca);
}

/* The call's outcome as a code, with the reason in e. */
static enum rf_rc ccall_status(struct rf_rpc_client *c, struct ccall *cc,
			       const char *method, struct rf_err *e)
{
	enum rf_rc rc = rf__rpc_rc_from_status(cc->status);
	int n = (int)GRPC_SLICE_LENGTH(cc->details);
	const char *d = (const char *)GRPC_SLICE_START_PTR(cc->details);

	if (rc == RF_OK)
		return RF_OK;
	if (cc->status == GRPC_STATUS_UNAVAILABLE) {
		struct rf_err pe = {0};
		char why[RF_ERR_MSG_MAX] = "";
		int refused_us = 0;
		enum rf_rc prc = rf__rpc_probe(c->target, c->server_name,
					       c->ca_pem, c->cert_pem,
					       c->key_pem, &refused_us, &pe);

		if (refused_us)
			own_cert_diagnose(c, why, sizeof why);
		if (prc == RF_EAUTH)
			return rf_err_set(e, RF_EAUTH,
					  "TLS handshake with '%s' failed: "
					  "%s%s", c->target, rf_err_msg(&pe),
					  why);
		if (prc != RF_OK)
			return rf_err_set(e, RF_EIO, "cannot reach '%s': %s",
					  c->target, rf_err_msg(&pe));
	}
	if (cc->status == GRPC_STATUS_DEADLINE_EXCEEDED)
		return rf_err_set(e, rc, "call '%s' to '%s' timed out",
				  method, c->target);
	return rf_err_set(e, rc, "call '%s' to '%s' failed: %.*s", method,
			  c->target, n, d);
}

static void ccall_end(struct ccall *cc)
{
	if (cc->call) {
		if (cc->status_started)
			(void)ccall_wait(cc, &tag_status);
		grpc_call_unref(cc->call);
	}
	if (cc->cq) {
		grpc_completion_queue_shutdown(cc->cq);
		grpc_completion_queue_destroy(cc->cq);
	}
	grpc_metadata_array_destroy(&cc->imd);
	grpc_metadata_array_destroy(&cc->tmd);
	grpc_slice_unref(cc->details);
}

static enum rf_rc read_response(grpc_byte_buffer *bb, struct rf_buf *resp,
				const char *method, struct rf_err *e)
{
	enum rf_rc rc;

	rf_buf_reset(resp);
	if (!bb)
		return rf_err_set(e, RF_EPROTO,
				  "call '%s' returned no response message",
				  method);
	rc = rf__rpc_bb_read(bb, resp, e);
	if (rc)
		rf_err_prefix(e, "response of '%s'", method);
	return rc;
}

enum rf_rc rf_rpc_client_unary(struct rf_rpc_client *c, const char *method,
			       const void *req, size_t req_len,
			       int64_t deadline_ms, struct rf_buf *resp,
			       struct rf_err *e)
{
	struct ccall cc;
	grpc_byte_buffer *send = NULL, *recv = NULL;
	grpc_op ops[6];
	enum rf_rc rc;

	rc = ccall_start(c, method, deadline_ms, &cc, e);
	if (rc)
		goto out;
	if (req_len > RF_RPC_MSG_MAX) {
		rc = rf_err_set(e, RF_ETOOBIG,
				"request of %zu bytes exceeds the limit of %u "
				"bytes", req_len, RF_RPC_MSG_MAX);
		goto out;
	}
	send = rf__rpc_bb_create(req, req_len);
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &cc.imd;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &cc.tmd;
	ops[5].data.recv_status_on_client.status = &cc.status;
	ops[5].data.recv_status_on_client.status_details = &cc.details;
	if (!ccall_batch(&cc, ops, 6)) {
		rc = rf_err_set(e, RF_EINTERNAL, "call '%s' failed to run",
				method);
		goto out;
	}
	rc = ccall_status(c, &cc, method, e);
	if (rc == RF_OK)
		rc = read_response(recv, resp, method, e);
out:
	ccall_end(&cc);
	if (send)
		grpc_byte_buffer_destroy(send);
	if (recv)
		grpc_byte_buffer_destroy(recv);
	return rc;
}

/* Gives the message in bb to fn: straight from gRPC's memory when it is
 * one slice, else reassembled in msg (reset first, reused). */
static enum rf_rc deliver(grpc_byte_buffer *bb, struct rf_buf *msg,
			  rf_rpc_msg_fn fn, void *ctx, struct rf_err *e)
{
	enum rf_rc rc;

	if (bb->type == GRPC_BB_RAW &&
	    bb->data.raw.compression == GRPC_COMPRESS_NONE &&
	    bb->data.raw.slice_buffer.count == 1) {
		grpc_slice s = bb->data.raw.slice_buffer.slices[0];

		if (GRPC_SLICE_LENGTH(s) > RF_RPC_MSG_MAX)
			return rf_err_set(e, RF_ETOOBIG,
					  "message of %zu bytes exceeds the "
					  "limit of %u bytes",
					  (size_t)GRPC_SLICE_LENGTH(s),
					  RF_RPC_MSG_MAX);
		return fn(GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s), ctx,
			  e);
	}
	rf_buf_reset(msg);
	rc = rf__rpc_bb_read(bb, msg, e);
	if (rc == RF_OK)
		rc = fn(msg->data ? msg->data : (const uint8_t *)"", msg->len,
			ctx, e);
	return rc;
}

enum rf_rc rf_rpc_client_server_stream(struct rf_rpc_client *c,
				       const char *method, const void *req,
				       size_t req_len, int64_t deadline_ms,
				       rf_rpc_msg_fn fn, void *ctx,
				       struct rf_err *e)
{
	struct ccall cc;
	struct rf_buf msg = RF_BUF_INIT(RF_RPC_MSG_MAX);
	grpc_byte_buffer *send = NULL, *recv = NULL;
	grpc_op ops[4];
	enum rf_rc rc, frc = RF_OK;

	rc = ccall_start(c, method, deadline_ms, &cc, e);
	if (rc)
		goto out;
	if (req_len > RF_RPC_MSG_MAX) {
		rc = rf_err_set(e, RF_ETOOBIG,
				"request of %zu bytes exceeds the limit of %u "
				"bytes", req_len, RF_RPC_MSG_MAX);
		goto out;
	}
	rc = ccall_start_status(&cc, NULL, e);
	if (rc)
		goto out;
	send = rf__rpc_bb_create(req, req_len);
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &cc.imd;
	if (ccall_batch(&cc, ops, 4)) {
		for (;;) {
			memset(ops, 0, sizeof ops);
			ops[0].op = GRPC_OP_RECV_MESSAGE;
			ops[0].data.recv_message.recv_message = &recv;
			if (!ccall_batch(&cc, ops, 1) || !recv)
				break;
			frc = deliver(recv, &msg, fn, ctx, e);
			grpc_byte_buffer_destroy(recv);
			recv = NULL;
			if (frc) {
				grpc_call_cancel(cc.call, NULL);
				break;
			}
		}
	}
	(void)ccall_wait(&cc, &tag_status);
	cc.status_started = 0;
	rc = frc ? frc : ccall_status(c, &cc, method, e);
out:
	ccall_end(&cc);
	if (send)
		grpc_byte_buffer_destroy(send);
	if (recv)
		grpc_byte_buffer_destroy(recv);
	rf_buf_release(&msg);
	return rc;
}

static enum rf_rc download_append(const uint8_t *p, size_t n, void *ctx,
				  struct rf_err *e)
{
	struct rf_buf *out = ctx;

	if (n > out->max || out->len > out->max - n)
		return rf_err_set(e, RF_ETOOBIG,
				  "download exceeds the limit of %zu bytes",
				  out->max);
	return rf_buf_append(out, p, n, e);
}

enum rf_rc rf_rpc_client_download(struct rf_rpc_client *c, const char *method,
				  const void *req, size_t req_len,
				  int64_t deadline_ms, struct rf_buf *out,
				  struct rf_err *e)
{
	rf_buf_reset(out);
	return rf_rpc_client_server_stream(c, method, req, req_len,
					   deadline_ms, download_append, out,
					   e);
}

enum rf_rc rf_rpc_client_client_stream(struct rf_rpc_client *c,
				       const char *method, rf_rpc_next_fn next,
				       void *ctx, int64_t deadline_ms,
				       struct rf_buf *resp, struct rf_err *e)
{
	struct ccall cc;
	grpc_byte_buffer *recv = NULL;
	grpc_op ops[2];
	enum rf_rc rc, frc = RF_OK;
	int alive;

	rc = ccall_start(c, method, deadline_ms, &cc, e);
	if (rc)
		goto out;
	rc = ccall_start_status(&cc, &recv, e);
	if (rc)
		goto out;
	memset(ops, 0, sizeof ops);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	alive = ccall_batch(&cc, ops, 1);
	while (alive) {
		const uint8_t *p = NULL;
		grpc_byte_buffer *bb;
		size_t n = 0;

		frc = next(&p, &n, ctx, e);
		if (frc == RF_OK && p && n > RF_RPC_MSG_MAX)
			frc = rf_err_set(e, RF_ETOOBIG,
					 "message of %zu bytes exceeds the "
					 "limit of %u bytes", n,
					 RF_RPC_MSG_MAX);
		if (frc) {
			grpc_call_cancel(cc.call, NULL);
			break;
		}
		memset(ops, 0, sizeof ops);
		if (!p) {
			ops[0].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
			(void)ccall_batch(&cc, ops, 1);
			break;
		}
		bb = rf__rpc_bb_create(p, n);
		ops[0].op = GRPC_OP_SEND_MESSAGE;
		ops[0].data.send_message.send_message = bb;
		alive = ccall_batch(&cc, ops, 1);
		grpc_byte_buffer_destroy(bb);
	}
	/* a failed send means the call is over: its status says why */
	(void)ccall_wait(&cc, &tag_status);
	cc.status_started = 0;
	rc = frc ? frc : ccall_status(c, &cc, method, e);
	if (rc == RF_OK)
		rc = read_response(recv, resp, method, e);
out:
	ccall_end(&cc);
	if (recv)
		grpc_byte_buffer_destroy(recv);
	return rc;
}

struct upload {
	const uint8_t *p;
	size_t left;
	int sent; /* at least one message sent */
};

static enum rf_rc upload_next(const uint8_t **p, size_t *n, void *ctx,
			      struct rf_err *e)
{
	struct upload *u = ctx;
	size_t k = u->left < RF_RPC_CHUNK ? u->left : RF_RPC_CHUNK;

	(void)e;
	if (u->sent && u->left == 0) {
		*p = NULL;
		*n = 0;
		return RF_OK;
	}
	*p = u->p ? u->p : (const uint8_t *)"";
	*n = k;
	u->p = u->p ? u->p + k : NULL;
	u->left -= k;
	u->sent = 1;
	return RF_OK;
}

enum rf_rc rf_rpc_client_upload(struct rf_rpc_client *c, const char *method,
				const void *p, size_t n, int64_t deadline_ms,
				struct rf_buf *resp, struct rf_err *e)
{
	struct upload u = {p, n, 0};

	if (!p && n)
		return rf_err_set(e, RF_EINVAL, "upload of NULL data");
	return rf_rpc_client_client_stream(c, method, upload_next, &u,
					   deadline_ms, resp, e);
}
