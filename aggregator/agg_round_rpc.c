/* agg_round_rpc.c - the handlers of the round methods (see agg_round.h):
 * every request is hostile until each field has been bounded. */
#include "agg_round_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agg_strategy.h"
#include "radfed.pb-c.h"
#include "rf_alloc.h"
#include "rf_audit_events.h"
#include "rf_chunk.h"
#include "rf_file.h"
#include "rf_log.h"
#include "rf_pb.h"
#include "trn.h"

/* ---- request fields ------------------------------------------------------ */

/* A round id on the wire: decimal, 1 to 18 digits, no sign or leading
 * zero. */
static enum rf_rc parse_round(const char *s, const char *field, int64_t *id,
			      struct rf_err *e)
{
	size_t n = s ? strnlen(s, 20) : 0;
	int64_t v = 0;

	if (n == 0 || n > 18 || s[0] == '0')
		return rf_err_set(e, RF_EINVAL, "%s is not a round id", field);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return rf_err_set(e, RF_EINVAL, "%s is not a round id",
					  field);
		v = v * 10 + (s[i] - '0');
	}
	*id = v;
	return RF_OK;
}

static int hex64_ok(const char *s)
{
	if (!s || strnlen(s, 65) != 64)
		return 0;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static enum rf_rc unpack(struct rf_rpc_call *call,
			 const ProtobufCMessageDescriptor *d, size_t max,
			 ProtobufCMessage **out, struct rf_err *e)
{
	const uint8_t *p;
	size_t n;

	p = rf_rpc_call_request(call, &n);
	return rf_pb_unpack(d, p, n, max, out, e);
}

static const char *caller(struct rf_rpc_call *call)
{
	return rf_rpc_call_peer(call)->cn;
}

/* RF_ENOTFOUND for a round the registry does not know, else RF_EPOLICY
 * "round N is <state>, not running" (mutex held or not). */
static enum rf_rc not_running(struct agg_rounds *r, int64_t id,
			      struct rf_err *e)
{
	struct agg_round rd;
	struct rf_err e2 = { 0 };
	enum rf_rc rc;

	if (agg_registry_round_get(r->c->reg, id, &rd, &e2))
		return rf_err_set(e, RF_ENOTFOUND, "no round %" PRId64, id);
	rc = rf_err_set(e, RF_EPOLICY, "round %" PRId64 " is %s, not running",
			id, rd.state);
	agg_round_release(&rd);
	return rc;
}

/* ---- NextTask ------------------------------------------------------------ */

static enum rf_rc pack_task(const struct agg__live *l, Radfed__Task__Kind kind,
			    struct rf_buf *out, struct rf_err *e)
{
	Radfed__Task t = RADFED__TASK__INIT;

	t.kind = kind;
	t.round = (char *)l->idstr;
	t.spec_json = l->spec_json;
	t.spec_sha256 = (char *)l->spec_sha;
	t.spec_signature.data = (uint8_t *)l->sig;
	t.spec_signature.len = sizeof l->sig;
	t.researcher = (char *)l->researcher;
	if (kind == RADFED__TASK__KIND__TRAIN) {
		t.round_no = (uint64_t)l->round_no;
		t.model_sha256 = (char *)l->model_sha;
		t.model_bytes = l->model_bytes;
	}
	rf_buf_reset(out);
	return rf_pb_pack(&t.base, out, e);
}

/* Offers l to site (mutex held): the participant row, then the audit. */
static enum rf_rc offer(struct agg_rounds *r, struct agg__live *l,
			const char *site, struct rf_err *e)
{
	struct rf_buf d = RF_BUF_INIT(1024);
	enum rf_rc rc;

	rc = agg_registry_participant_set(r->c->reg, l->id, site,
					  AGG_PART_OFFERED, NULL,
					  agg_ctx_now(r->c), e);
	if (rc)
		return rc;
	if (!agg__site_add(l, site, AGG_PART_OFFERED))
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	rc = rf_buf_putc(&d, '{', e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_ROUND, l->idstr, e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_SITE, site, e);
	if (!rc)
		rc =
		    agg__json_str(&d, RF_AUDIT_KEY_SPEC_SHA256, l->spec_sha, e);
	if (!rc)
		rc = rf_buf_putc(&d, '}', e);
	if (!rc)
		rc = agg_ctx_audit(r->c, RF_AUDIT_EV_ROUND_OFFER,
				   rf_buf_str(&d), e);
	rf_buf_release(&d);
	if (!rc)
		agg__log(r, "round %s offered to '%s'", l->idstr, site);
	return rc;
}

/* The task of site now (mutex held): *found 0 when there is none. */
static enum rf_rc find_task(struct agg_rounds *r, const char *site,
			    struct rf_buf *out, int *found, struct rf_err *e)
{
	struct agg__live *l;
	struct agg__site *s;
	enum rf_rc rc;

	*found = 0;
	for (l = r->live; l; l = l->next) {
		s = agg__site_find(l, site);
		if (s && s->st != AGG_PART_OFFERED)
			continue;
		if (!s) {
			rc = offer(r, l, site, e);
			if (rc)
				return rc;
		}
		*found = 1;
		return pack_task(l, RADFED__TASK__KIND__OFFER, out, e);
	}
	for (l = r->live; l; l = l->next) {
		s = agg__site_find(l, site);
		if (l->busy || !s || s->st != AGG_PART_ACCEPTED ||
		    s->uploaded || s->uploading)
			continue;
		*found = 1;
		return pack_task(l, RADFED__TASK__KIND__TRAIN, out, e);
	}
	return RF_OK;
}

enum rf_rc agg_rounds_next_task(struct agg_rounds *r, struct rf_rpc_call *call,
				struct rf_err *e)
{
	Radfed__TaskRequest *req = NULL;
	struct rf_buf out = RF_BUF_INIT(RF_RPC_MSG_MAX);
	const char *site = caller(call);
	struct timespec end, now, ts;
	int64_t wait, left;
	enum rf_rc rc;
	int found = 0;

	rc = unpack(call, &radfed__task_request__descriptor,
		    AGG_SMALL_REQUEST_MAX, (ProtobufCMessage **)&req, e);
	if (rc)
		return rc;
	wait = req->wait_ms < AGG_POLL_MAX_MS ? req->wait_ms : AGG_POLL_MAX_MS;
	rf_pb_free(&req->base);
	agg__abstime(&end, wait);
	pthread_mutex_lock(&r->mu);
	for (;;) {
		rc = find_task(r, site, &out, &found, e);
		if (rc || found)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (int64_t)(end.tv_sec - now.tv_sec) * 1000 +
		       (end.tv_nsec - now.tv_nsec) / 1000000;
		if (left > rf_rpc_call_remaining_ms(call))
			left = rf_rpc_call_remaining_ms(call);
		if (left <= 0 || r->stop || rf_rpc_call_cancelled(call))
			break;
		agg__abstime(&ts, left < AGG_POLL_SLICE_MS ? left
							   : AGG_POLL_SLICE_MS);
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	}
	pthread_mutex_unlock(&r->mu);
	if (!rc && !found) {
		Radfed__Task t = RADFED__TASK__INIT;

		rc = rf_pb_pack(&t.base, &out, e);
	}
	if (!rc)
		rc = rf_rpc_call_respond(call, out.data, out.len, e);
	rf_buf_release(&out);
	return rc;
}

/* ---- Decide -------------------------------------------------------------- */

static enum rf_rc decision_audit(struct agg_rounds *r,
				 const struct agg__live *l, const char *site,
				 const Radfed__Decision *d, struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(AGG_DECIDE_MAX * 2);
	enum rf_rc rc;

	rc = rf_buf_putc(&b, '{', e);
	if (!rc)
		rc = agg__json_str(&b, RF_AUDIT_KEY_ROUND, l->idstr, e);
	if (!rc)
		rc = agg__json_str(&b, RF_AUDIT_KEY_SITE, site, e);
	if (!rc)
		rc = agg__json_raw(&b, RF_AUDIT_KEY_ACCEPTED,
				   d->accept ? "true" : "false", e);
	if (!rc)
		rc = agg__json_str(&b, RF_AUDIT_KEY_POLICY_SHA256,
				   d->policy_sha256, e);
	if (!rc)
		rc = agg__json_raw(&b, RF_AUDIT_KEY_REASONS, "[", e);
	for (size_t i = 0; !rc && i < d->n_reasons; i++) {
		if (i)
			rc = rf_buf_putc(&b, ',', e);
		if (!rc)
			rc = rf_json_quote(&b, d->reasons[i],
					   strlen(d->reasons[i]), e);
	}
	if (!rc)
		rc = rf_buf_puts(&b, "]}", e);
	if (!rc)
		rc = agg_ctx_audit(r->c, RF_AUDIT_EV_ROUND_DECISION,
				   rf_buf_str(&b), e);
	rf_buf_release(&b);
	return rc;
}

enum rf_rc agg_rounds_decide(struct agg_rounds *r, struct rf_rpc_call *call,
			     struct rf_err *e)
{
	Radfed__Decision *d = NULL;
	const char *site = caller(call);
	enum agg_part_state want;
	struct agg__live *l;
	struct agg__site *s;
	int64_t id = 0;
	enum rf_rc rc;

	rc = unpack(call, &radfed__decision__descriptor, AGG_DECIDE_MAX,
		    (ProtobufCMessage **)&d, e);
	if (rc)
		return rc;
	rc = parse_round(d->round, "round", &id, e);
	if (rc)
		goto out;
	if (!hex64_ok(d->policy_sha256)) {
		rc = rf_err_set(e, RF_EINVAL,
				"policy_sha256 is not 64 lowercase hex "
				"digits");
		goto out;
	}
	if (d->n_reasons > AGG_REASONS_MAX) {
		rc = rf_err_set(e, RF_EINVAL, "reasons: more than %d",
				AGG_REASONS_MAX);
		goto out;
	}
	for (size_t i = 0; i < d->n_reasons; i++)
		if (strnlen(d->reasons[i], AGG_REASON_MAX + 1) >
		    AGG_REASON_MAX) {
			rc = rf_err_set(e, RF_EINVAL,
					"reasons[%zu] over %d bytes", i,
					AGG_REASON_MAX);
			goto out;
		}
	want = d->accept ? AGG_PART_ACCEPTED : AGG_PART_DECLINED;
	pthread_mutex_lock(&r->mu);
	l = agg__live_find(r, id);
	s = l ? agg__site_find(l, site) : NULL;
	if (!l) {
		rc = not_running(r, id, e);
	} else if (!s) {
		rc = rf_err_set(e, RF_EPOLICY,
				"round %" PRId64 " was not offered to '%s'", id,
				site);
	} else if (s->st != AGG_PART_OFFERED) {
		/* the same answer again (a retry) is fine */
		if (s->st != want || strcmp(s->policy, d->policy_sha256) != 0)
			rc = rf_err_set(e, RF_EPOLICY,
					"'%s' already decided on round "
					"%" PRId64,
					site, id);
	} else {
		rc = agg_registry_participant_set(r->c->reg, id, site, want,
						  d->policy_sha256,
						  agg_ctx_now(r->c), e);
		if (!rc) {
			s->st = want;
			memcpy(s->policy, d->policy_sha256, sizeof s->policy);
			rc = decision_audit(r, l, site, d, e);
			agg__log(r, "round %s %s by '%s'", l->idstr,
				 d->accept ? "accepted" : "declined", site);
			agg__changed(r);
		}
	}
	pthread_mutex_unlock(&r->mu);
out:
	rf_pb_free(&d->base);
	return rc;
}

/* ---- GetModel and ExportModel -------------------------------------------- */

/* Sends the model file at path, checking it is still the one of hash
 * sha. The file is hashed again as it is sent, although its hash is on
 * record (a node announces its update's hash instead: rf_chunk_out_announce):
 * model.sent is then true of the bytes that left, even when the file was
 * damaged on disk since it was recorded (the transfer fails, the receiver
 * keeps nothing, and no model.sent is written). */
static enum rf_rc send_model(struct rf_rpc_call *call, const char *path,
			     const char *sha, uint64_t *bytes, struct rf_err *e)
{
	struct rf_chunk_out o;
	char hex[AGG_HEX256_SIZE];
	enum rf_rc rc;

	memset(&o, 0, sizeof o);
	o.fd = -1;
	rc = rf_chunk_out_file(&o, path, 0, e);
	if (!rc)
		rc = rf_chunk_send(call, &o, e);
	if (!rc)
		rc = rf_hex_encode(o.sha256, sizeof o.sha256, hex, sizeof hex,
				   e);
	if (!rc && strcmp(hex, sha) != 0)
		rc = rf_err_set(e, RF_EINTEGRITY, "'%s' no longer hashes to %s",
				path, sha);
	if (!rc)
		*bytes = o.total;
	rf_chunk_out_release(&o);
	return rc;
}

enum rf_rc agg_rounds_get_model(struct agg_rounds *r, struct rf_rpc_call *call,
				struct rf_err *e)
{
	Radfed__ModelRequest *req = NULL;
	struct rf_buf d = RF_BUF_INIT(1024);
	const char *site = caller(call);
	char path[AGG_PATH_MAX], sha[AGG_HEX256_SIZE], idstr[24];
	struct agg__live *l;
	struct agg__site *s;
	uint64_t bytes = 0;
	int64_t id = 0, rno = 0;
	enum rf_rc rc;

	rc = unpack(call, &radfed__model_request__descriptor,
		    AGG_SMALL_REQUEST_MAX, (ProtobufCMessage **)&req, e);
	if (rc)
		return rc;
	rc = parse_round(req->round, "round", &id, e);
	if (rc)
		goto out;
	pthread_mutex_lock(&r->mu);
	l = agg__live_find(r, id);
	s = l ? agg__site_find(l, site) : NULL;
	if (!l)
		rc = not_running(r, id, e);
	else if (!s || s->st != AGG_PART_ACCEPTED)
		rc = rf_err_set(e, RF_EPOLICY,
				"'%s' has not accepted round %" PRId64, site,
				id);
	else if (req->round_no != (uint64_t)l->round_no)
		rc = rf_err_set(e, RF_EPOLICY,
				"round_no %" PRIu64 " is not the current "
				"iteration %" PRId64,
				req->round_no, l->round_no);
	else {
		rno = l->round_no;
		memcpy(sha, l->model_sha, sizeof sha);
		memcpy(idstr, l->idstr, sizeof idstr);
		rc = agg__model_path(r, id, rno - 1, path, sizeof path, e);
	}
	pthread_mutex_unlock(&r->mu);
	if (!rc)
		rc = send_model(call, path, sha, &bytes, e);
	if (!rc)
		rc = rf_buf_putc(&d, '{', e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_ROUND, idstr, e);
	if (!rc)
		rc = agg__json_int(&d, RF_AUDIT_KEY_ROUND_NO, rno, e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_SITE, site, e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_SHA256, sha, e);
	if (!rc)
		rc = agg__json_int(&d, RF_AUDIT_KEY_BYTES, (int64_t)bytes, e);
	if (!rc)
		rc = rf_buf_putc(&d, '}', e);
	if (!rc)
		rc = agg_ctx_audit(r->c, RF_AUDIT_EV_MODEL_SENT, rf_buf_str(&d),
				   e);
out:
	rf_buf_release(&d);
	rf_pb_free(&req->base);
	return rc;
}

struct pick {
	int64_t want; /* < 0: the latest */
	int found;
	int64_t round_no;
	char sha[AGG_HEX256_SIZE];
	char path[AGG_PATH_MAX];
};

static enum rf_rc pick_model(const struct agg_model *m, void *ctx,
			     struct rf_err *e)
{
	struct pick *p = ctx;

	(void)e;
	if (p->want >= 0 && m->round_no != p->want)
		return RF_OK;
	p->found = 1;
	p->round_no = m->round_no;
	memcpy(p->sha, m->sha256, sizeof p->sha);
	snprintf(p->path, sizeof p->path, "%s", m->path);
	return RF_OK;
}

enum rf_rc agg_rounds_export(struct agg_rounds *r, struct rf_rpc_call *call,
			     struct rf_err *e)
{
	Radfed__ExportRequest *req = NULL;
	struct rf_buf d = RF_BUF_INIT(1024);
	struct pick p;
	uint64_t bytes = 0;
	int64_t id = 0;
	enum rf_rc rc;

	rc = unpack(call, &radfed__export_request__descriptor,
		    AGG_SMALL_REQUEST_MAX, (ProtobufCMessage **)&req, e);
	if (rc)
		return rc;
	memset(&p, 0, sizeof p);
	rc = parse_round(req->round, "round", &id, e);
	if (rc)
		goto out;
	if (!req->latest && req->round_no > 1000000) {
		rc = rf_err_set(e, RF_EINVAL,
				"round_no %" PRIu64 " is out of range",
				req->round_no);
		goto out;
	}
	p.want = req->latest ? -1 : (int64_t)req->round_no;
	rc = agg_registry_models(r->c->reg, id, pick_model, &p, e);
	if (!rc && !p.found)
		rc = rf_err_set(e, RF_ENOTFOUND,
				"round %" PRId64 " has no model %s", id,
				req->latest ? "yet" : "of that round_no");
	if (!rc)
		rc = send_model(call, p.path, p.sha, &bytes, e);
	if (!rc)
		rc = rf_buf_putc(&d, '{', e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_ROUND, req->round, e);
	if (!rc)
		rc = agg__json_int(&d, RF_AUDIT_KEY_ROUND_NO, p.round_no, e);
	if (!rc)
		rc =
		    agg__json_str(&d, RF_AUDIT_KEY_RESEARCHER, caller(call), e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_SHA256, p.sha, e);
	if (!rc)
		rc = rf_buf_putc(&d, '}', e);
	if (!rc)
		rc = agg_ctx_audit(r->c, RF_AUDIT_EV_EXPORT, rf_buf_str(&d), e);
out:
	rf_buf_release(&d);
	rf_pb_free(&req->base);
	return rc;
}

/* ---- UploadUpdate -------------------------------------------------------- */

/* What an upload is about, for its audit events. */
struct up {
	const char *site;
	char round[24];
	int64_t id, round_no;
	char sha[AGG_HEX256_SIZE];
	uint64_t total, samples;
	struct agg__site *claimed; /* uploading set by this call */
};

static void reject_audit(struct agg_rounds *r, const struct up *u,
			 const struct rf_err *why)
{
	struct rf_buf d = RF_BUF_INIT(2048);
	struct rf_err e = { 0 };

	if (!rf_buf_putc(&d, '{', &e) &&
	    !agg__json_str(&d, RF_AUDIT_KEY_ROUND, u->round, &e) &&
	    !agg__json_int(&d, RF_AUDIT_KEY_ROUND_NO, u->round_no, &e) &&
	    !agg__json_str(&d, RF_AUDIT_KEY_SITE, u->site, &e) &&
	    !agg__json_str(&d, RF_AUDIT_KEY_REASON, why->msg, &e) &&
	    !rf_buf_putc(&d, '}', &e))
		(void)!agg_ctx_audit(r->c, RF_AUDIT_EV_UPDATE_REJECTED,
				     rf_buf_str(&d), &e);
	rf_buf_release(&d);
}

static enum rf_rc check_header(const Radfed__UpdateHeader *h, struct up *u,
			       struct rf_err *e)
{
	size_t ml;
	enum rf_rc rc;

	rc = parse_round(h->round, "header.round", &u->id, e);
	if (rc)
		return rc;
	snprintf(u->round, sizeof u->round, "%" PRId64, u->id);
	if (h->round_no < 1 || h->round_no > 1000000)
		return rf_err_set(e, RF_EINVAL,
				  "header.round_no %" PRIu64 " is out of range",
				  h->round_no);
	u->round_no = (int64_t)h->round_no;
	if (strcmp(h->kind, RF_AUDIT_KIND_DELTA) != 0)
		return rf_err_set(e, RF_EINVAL,
				  "header.kind must be '" RF_AUDIT_KIND_DELTA
				  "'");
	if (h->samples < 1 || h->samples > AGG_SAMPLES_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "header.samples %" PRIu64 " is out of range",
				  h->samples);
	if (h->sha256.len != RF_SHA256_LEN)
		return rf_err_set(e, RF_EINVAL,
				  "header.sha256 must be %d bytes",
				  RF_SHA256_LEN);
	rc = rf_hex_encode(h->sha256.data, RF_SHA256_LEN, u->sha, sizeof u->sha,
			   e);
	if (rc)
		return rc;
	if (!hex64_ok(h->base_sha256))
		return rf_err_set(e, RF_EINVAL,
				  "header.base_sha256 is not 64 lowercase "
				  "hex digits");
	ml = strnlen(h->metrics_json, AGG_METRICS_MAX + 1);
	if (ml > AGG_METRICS_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "header.metrics_json over %d bytes",
				  AGG_METRICS_MAX);
	if (ml) {
		size_t a = 0, b = ml;

		while (a < ml && strchr(" \t\r\n", h->metrics_json[a]))
			a++;
		while (b > a && strchr(" \t\r\n", h->metrics_json[b - 1]))
			b--;
		if (a == b || h->metrics_json[a] != '{' ||
		    h->metrics_json[b - 1] != '}')
			return rf_err_set(e, RF_EINVAL,
					  "header.metrics_json is not a "
					  "JSON object");
	}
	u->samples = h->samples;
	u->total = h->total_bytes;
	return RF_OK;
}

/* What the registry holds for one site's update of one iteration. */
struct recorded {
	const char *site;
	int found;
	char sha[AGG_HEX256_SIZE];
};

static enum rf_rc recorded_fn(const struct agg_update *up, void *ctx,
			      struct rf_err *e)
{
	struct recorded *rec = ctx;

	(void)e;
	if (strcmp(up->site, rec->site) == 0) {
		rec->found = 1;
		memcpy(rec->sha, up->sha256, sizeof rec->sha);
	}
	return RF_OK;
}

/* Checks the header against the round (mutex held) and claims the site's
 * upload slot. *dup is set for a repeat of the recorded upload, whatever
 * the round's state now: a site whose receipt was lost (the aggregator
 * restarted, the connection broke) sends the same update again, possibly
 * after the iteration was aggregated, and must get its receipt. */
static enum rf_rc claim(struct agg_rounds *r, const Radfed__UpdateHeader *h,
			struct up *u, int *dup, struct rf_err *e)
{
	struct agg__live *l = agg__live_find(r, u->id);
	struct agg__site *s = l ? agg__site_find(l, u->site) : NULL;
	struct recorded rec;
	struct rf_err e2 = { 0 };

	*dup = 0;
	memset(&rec, 0, sizeof rec);
	rec.site = u->site;
	if (agg_registry_updates(r->c->reg, u->id, u->round_no, recorded_fn,
				 &rec, &e2) == RF_OK &&
	    rec.found) {
		if (strcmp(rec.sha, u->sha) == 0) {
			*dup = 1;
			return RF_OK;
		}
		return rf_err_set(e, RF_EEXIST,
				  "another update of '%s' for round %s "
				  "iteration %" PRId64 " is already recorded",
				  u->site, u->round, u->round_no);
	}
	if (!l)
		return not_running(r, u->id, e);
	if (!s || s->st != AGG_PART_ACCEPTED)
		return rf_err_set(e, RF_EPOLICY,
				  "'%s' has not accepted round %s", u->site,
				  u->round);
	if (u->round_no != l->round_no)
		return rf_err_set(e, RF_EPOLICY,
				  "header.round_no %" PRId64 " is not the "
				  "current iteration %" PRId64,
				  u->round_no, l->round_no);
	if (s->uploaded) {
		if (strcmp(s->sha, u->sha) == 0) {
			*dup = 1;
			return RF_OK;
		}
		return rf_err_set(e, RF_EEXIST,
				  "another update of '%s' for round %s "
				  "iteration %" PRId64 " is already recorded",
				  u->site, u->round, u->round_no);
	}
	if (strcmp(h->base_sha256, l->model_sha) != 0)
		return rf_err_set(e, RF_EPOLICY,
				  "header.base_sha256 is not the global model "
				  "of iteration %" PRId64,
				  l->round_no);
	if (u->total != (uint64_t)l->nfloat * 4)
		return rf_err_set(e, RF_EINVAL,
				  "header.total_bytes %" PRIu64 " is not %zu "
				  "(%zu float32 parameters)",
				  u->total, l->nfloat * 4, l->nfloat);
	if (s->uploading)
		return rf_err_set(e, RF_EPOLICY,
				  "an upload of '%s' for round %s is already "
				  "in progress",
				  u->site, u->round);
	if (l->busy)
		return rf_err_set(e, RF_EPOLICY,
				  "iteration %" PRId64 " of round %s is "
				  "being aggregated",
				  l->round_no, u->round);
	s->uploading = 1;
	u->claimed = s;
	return RF_OK;
}

/* Gives the slot back (mutex held): the live round may be gone. */
static void unclaim(struct agg_rounds *r, struct up *u)
{
	struct agg__live *l;
	struct agg__site *s;

	if (!u->claimed)
		return;
	l = agg__live_find(r, u->id);
	s = l ? agg__site_find(l, u->site) : NULL;
	if (s)
		s->uploading = 0;
	u->claimed = NULL;
}

/* Records a received upload (mutex held). */
static enum rf_rc record(struct agg_rounds *r, struct up *u,
			 const char *metrics, uint64_t bytes, struct rf_err *e)
{
	struct agg__live *l = agg__live_find(r, u->id);
	struct agg__site *s = l ? agg__site_find(l, u->site) : NULL;
	struct rf_buf d = RF_BUF_INIT(2048);
	struct agg_update up;
	enum rf_rc rc;

	if (!l || !s || l->round_no != u->round_no || l->busy)
		return rf_err_set(e, RF_EPOLICY,
				  "iteration %" PRId64 " of round %s closed "
				  "during the upload",
				  u->round_no, u->round);
	memset(&up, 0, sizeof up);
	up.round_id = u->id;
	up.round_no = u->round_no;
	up.site = u->site;
	memcpy(up.sha256, u->sha, sizeof up.sha256);
	up.bytes = (int64_t)bytes;
	up.samples = (int64_t)u->samples;
	up.metrics_json = metrics[0] ? metrics : NULL;
	up.received_at = agg_ctx_now(r->c);
	rc = agg_registry_update_add(r->c->reg, &up, e);
	if (rc)
		return rc;
	s->uploaded = 1;
	memcpy(s->sha, u->sha, sizeof s->sha);
	s->samples = u->samples;
	s->bytes = bytes;
	rc = rf_buf_putc(&d, '{', e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_ROUND, u->round, e);
	if (!rc)
		rc = agg__json_int(&d, RF_AUDIT_KEY_ROUND_NO, u->round_no, e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_SITE, u->site, e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_SHA256, u->sha, e);
	if (!rc)
		rc = agg__json_int(&d, RF_AUDIT_KEY_BYTES, (int64_t)bytes, e);
	if (!rc)
		rc = agg__json_int(&d, RF_AUDIT_KEY_SAMPLES,
				   (int64_t)u->samples, e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_KIND, RF_AUDIT_KIND_DELTA,
				   e);
	if (!rc)
		rc = rf_buf_putc(&d, '}', e);
	if (!rc)
		rc = agg_ctx_audit(r->c, RF_AUDIT_EV_UPDATE_RECEIVED,
				   rf_buf_str(&d), e);
	rf_buf_release(&d);
	/* the update is recorded: an audit failure is reported, not undone */
	if (rc)
		agg__log(r, "round %s: audit of the update of '%s' failed: %s",
			 u->round, u->site, e->msg);
	agg__log(r,
		 "round %s: update of '%s' for iteration %" PRId64 " (%" PRIu64
		 " samples)",
		 u->round, u->site, u->round_no, u->samples);
	agg__changed(r);
	return RF_OK;
}

static enum rf_rc receipt(struct rf_rpc_call *call, const char *sha,
			  uint64_t bytes, int dup, struct rf_err *e)
{
	Radfed__UploadReceipt rr = RADFED__UPLOAD_RECEIPT__INIT;
	struct rf_buf out = RF_BUF_INIT(1024);
	enum rf_rc rc;

	rr.sha256 = (char *)sha;
	rr.bytes = bytes;
	rr.duplicate = dup;
	rc = rf_pb_pack(&rr.base, &out, e);
	if (!rc)
		rc = rf_rpc_call_respond(call, out.data, out.len, e);
	rf_buf_release(&out);
	return rc;
}

enum rf_rc agg_rounds_upload(struct agg_rounds *r, struct rf_rpc_call *call,
			     struct rf_err *e)
{
	struct rf_buf msg = RF_BUF_INIT(AGG_UPLOAD_MSG_MAX);
	Radfed__UpdatePart *head = NULL, *part = NULL;
	struct rf_chunk_in in;
	char path[AGG_PATH_MAX], dir[AGG_PATH_MAX], hex[AGG_HEX256_SIZE];
	struct up u;
	uint64_t bytes = 0, msgs = 0;
	int eof = 0, dup = 0, in_open = 0, recorded = 0;
	enum rf_rc rc;

	memset(&u, 0, sizeof u);
	memset(&in, 0, sizeof in);
	u.site = caller(call);
	rc = rf_rpc_call_read(call, &msg, &eof, e);
	if (!rc && eof)
		rc = rf_err_set(e, RF_EPROTO, "upload without a header");
	if (!rc)
		rc = rf_pb_unpack(&radfed__update_part__descriptor, msg.data,
				  msg.len, AGG_UPLOAD_MSG_MAX,
				  (ProtobufCMessage **)&head, e);
	if (!rc && (!head->header || head->chunk))
		rc = rf_err_set(e, RF_EPROTO,
				"the first message must hold the header "
				"alone");
	if (!rc)
		rc = check_header(head->header, &u, e);
	if (rc)
		goto out;
	pthread_mutex_lock(&r->mu);
	rc = claim(r, head->header, &u, &dup, e);
	pthread_mutex_unlock(&r->mu);
	if (rc)
		goto out;
	if (dup) {
		/* read what the client sends (bounded), record nothing */
		while (!rc && !eof && msgs++ <= u.total / RF_CHUNK_DATA + 1)
			rc = rf_rpc_call_read(call, &msg, &eof, e);
		if (!rc)
			rc = receipt(call, u.sha, u.total, 1, e);
		goto out;
	}
	snprintf(hex, sizeof hex, "%" PRId64, u.round_no);
	rc = agg__round_path(r, u.id, hex, dir, sizeof dir, e);
	if (!rc)
		rc = rf_mkdirs(dir, 0700, e);
	if (!rc)
		rc = agg__delta_path(r, u.id, u.round_no, u.site, path,
				     sizeof path, e);
	if (!rc)
		rc = rf_chunk_in_file(&in, path, u.total, e);
	if (rc)
		goto out;
	in_open = 1;
	while (!rc) {
		rc = rf_rpc_call_read(call, &msg, &eof, e);
		if (rc || eof)
			break;
		rc = rf_pb_unpack(&radfed__update_part__descriptor, msg.data,
				  msg.len, AGG_UPLOAD_MSG_MAX,
				  (ProtobufCMessage **)&part, e);
		if (!rc && (!part->chunk || part->header))
			rc = rf_err_set(e, RF_EPROTO,
					"a message after the header must "
					"hold a chunk alone");
		if (!rc)
			rc = rf_chunk_in_add(&in, &part->chunk->base, e);
		rf_pb_free(part ? &part->base : NULL);
		part = NULL;
	}
	if (!rc)
		rc = rf_chunk_in_finish(&in, hex, &bytes, e);
	if (!rc && bytes != u.total)
		rc = rf_err_set(e, RF_EINTEGRITY,
				"%" PRIu64 " bytes arrived, header.total_bytes "
				"said %" PRIu64,
				bytes, u.total);
	if (!rc && strcmp(hex, u.sha) != 0)
		rc = rf_err_set(e, RF_EINTEGRITY,
				"the payload hashes to %s, header.sha256 "
				"says %s",
				hex, u.sha);
	if (rc)
		goto out;
	pthread_mutex_lock(&r->mu);
	unclaim(r, &u);
	rc = record(r, &u, head->header->metrics_json, bytes, e);
	recorded = !rc;
	pthread_mutex_unlock(&r->mu);
	if (!rc)
		rc = receipt(call, u.sha, bytes, 0, e);
out:
	if (in_open)
		rf_chunk_in_release(&in);
	if (rc && !recorded) {
		pthread_mutex_lock(&r->mu);
		unclaim(r, &u);
		reject_audit(r, &u, e);
		agg__log(r, "round %s: update of '%s' refused: %s",
			 u.round[0] ? u.round : "?", u.site, e->msg);
		pthread_mutex_unlock(&r->mu);
	} else if (u.claimed) {
		pthread_mutex_lock(&r->mu);
		unclaim(r, &u);
		pthread_mutex_unlock(&r->mu);
	}
	rf_pb_free(head ? &head->base : NULL);
	rf_buf_release(&msg);
	return rc;
}

/* ---- StartRound ---------------------------------------------------------- */

/* Builds model 0 of spec at path (HDF5 lock taken here). */
static enum rf_rc make_model0(struct agg_rounds *r, const struct pol_spec *spec,
			      const char *path, struct rf_err *e)
{
	struct trn_net *net = NULL;
	struct trn_ckpt_meta meta;
	struct trn_param *params;
	size_t np;
	enum rf_rc rc;

	agg_rounds_hdf5_lock(r);
	rc = agg__net_build(spec, &net, &meta, e);
	if (!rc) {
		params = trn_net_params(net, &np);
		rc = trn_ckpt_save(path, &meta, params, np, e);
	}
	trn_net_destroy(net);
	agg_rounds_hdf5_unlock(r);
	return rc;
}

/* The spec and its strategy, checked: RF_EINVAL naming what is wrong. */
static enum rf_rc check_spec(const char *yaml, size_t len,
			     struct pol_spec **spec, struct rf_err *e)
{
	struct agg_param kv[POL_SPEC_PARAMS_MAX];
	double hp[AGG_STRATEGY_PARAMS_MAX];
	const struct agg_strategy_vtable *vt;
	enum rf_rc rc;

	rc = pol_spec_parse(spec, "spec_yaml", yaml, len, e);
	if (rc == RF_ECONFIG) {
		/* a spec error is the caller's: INVALID_ARGUMENT */
		rc = RF_EINVAL;
		if (e)
			e->rc = rc;
	}
	if (rc)
		return rc;
	vt = agg_strategy_find(pol_strategy_name((*spec)->strategy));
	if (!vt) {
		rc = rf_err_set(e, RF_EINVAL,
				"spec_yaml: strategy '%s' is not "
				"available",
				pol_strategy_name((*spec)->strategy));
		goto fail;
	}
	for (size_t i = 0; i < (*spec)->nparams; i++) {
		kv[i].name = (*spec)->params[i].name;
		kv[i].value = (*spec)->params[i].value;
	}
	rc = agg_strategy_hparams(vt, kv, (*spec)->nparams, hp, e);
	if (rc) {
		rf_err_prefix(e, "spec_yaml: strategy '%s'", vt->name);
		goto fail;
	}
	return RF_OK;
fail:
	pol_spec_destroy(*spec);
	*spec = NULL;
	return rc;
}

static enum rf_rc started_audit(struct agg_rounds *r, const struct agg__live *l,
				struct rf_err *e)
{
	struct rf_buf d = RF_BUF_INIT(2048);
	enum rf_rc rc;

	rc = rf_buf_putc(&d, '{', e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_ROUND, l->idstr, e);
	if (!rc)
		rc =
		    agg__json_str(&d, RF_AUDIT_KEY_SPEC_SHA256, l->spec_sha, e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_RESEARCHER, l->researcher,
				   e);
	if (!rc)
		rc = rf_buf_putc(&d, '}', e);
	if (!rc)
		rc = agg_ctx_audit(r->c, RF_AUDIT_EV_ROUND_STARTED,
				   rf_buf_str(&d), e);
	rf_buf_release(&d);
	return rc;
}

static enum rf_rc pack_info(struct agg_rounds *r, int64_t id,
			    struct rf_buf *out, struct rf_err *e);

enum rf_rc agg_rounds_start(struct agg_rounds *r, struct rf_rpc_call *call,
			    struct rf_err *e)
{
	Radfed__StartRoundRequest *req = NULL;
	struct pol_spec *spec = NULL;
	struct rf_buf json = RF_BUF_INIT(POL_SPEC_CANONICAL_MAX);
	struct rf_buf msg = RF_BUF_INIT(1024);
	struct rf_buf out = RF_BUF_INIT(RF_RPC_MSG_MAX);
	struct agg_round_new rn;
	struct agg_round_change c;
	struct agg_model m;
	struct agg__live *l = NULL;
	const char *researcher = caller(call);
	const char *state = "starting";
	uint8_t sig[AGG_SIG_LEN], dig[RF_SHA256_LEN];
	char path[AGG_PATH_MAX], dir[AGG_PATH_MAX], idstr[24];
	char sha[AGG_HEX256_SIZE], msha[AGG_HEX256_SIZE];
	uint64_t mbytes = 0;
	int64_t id = 0, now;
	size_t len;
	enum rf_rc rc;

	rc = unpack(call, &radfed__start_round_request__descriptor,
		    AGG_START_ROUND_MAX, (ProtobufCMessage **)&req, e);
	if (rc)
		return rc;
	len = strnlen(req->spec_yaml, AGG_SPEC_MAX + 1);
	if (len == 0 || len > AGG_SPEC_MAX) {
		rc = rf_err_set(e, RF_EINVAL, "spec_yaml must be 1 to %d bytes",
				AGG_SPEC_MAX);
		goto out;
	}
	rc = check_spec(req->spec_yaml, len, &spec, e);
	if (!rc)
		rc = pol_spec_canonical(spec, &json, e);
	if (!rc)
		rc = rf_buf_putc(&json, '\0', e);
	if (!rc)
		rc = rf_sha256(json.data, json.len - 1, dig, e);
	if (!rc)
		rc = rf_hex_encode(dig, sizeof dig, sha, sizeof sha, e);
	if (rc)
		goto out;
	rn.spec_yaml = req->spec_yaml;
	rn.spec_json = (const char *)json.data;
	rn.researcher = researcher;
	rn.state = "starting";
	now = agg_ctx_now(r->c);
	rc = agg_registry_round_begin(r->c->reg, &rn, now, &id, e);
	if (rc)
		goto out;
	snprintf(idstr, sizeof idstr, "%" PRId64, id);
	/* the signed statement (docs/federation.md) */
	rc = rf_buf_printf(&msg, e, "radfed.round.v1\n%s\n%s\n%s", idstr, sha,
			   researcher);
	if (!rc)
		rc =
		    rf_ed25519_sign(r->c->audit_key, msg.data, msg.len, sig, e);
	if (!rc)
		rc = agg__round_path(r, id, NULL, dir, sizeof dir, e);
	if (!rc)
		rc = rf_mkdirs(dir, 0700, e);
	if (!rc)
		rc = agg__model_path(r, id, 0, path, sizeof path, e);
	if (!rc)
		rc = make_model0(r, spec, path, e);
	if (!rc)
		rc = rf_chunk_hash_file(path, dig, msha, &mbytes, e);
	if (rc)
		goto failed;
	now = agg_ctx_now(r->c);
	memset(&m, 0, sizeof m);
	m.round_id = id;
	m.round_no = 0;
	memcpy(m.sha256, msha, sizeof m.sha256);
	m.path = path;
	m.created_at = now;
	memset(&c, 0, sizeof c);
	c.state = "running";
	c.round_no = 1;
	c.model_sha256 = msha;
	c.model_path = path;
	c.deadline = now + agg__max_wait_s(spec);
	c.signature = sig;
	c.model = &m;
	rc =
	    agg_registry_round_set_state(r->c->reg, id, "starting", &c, now, e);
	if (!rc) {
		state = "running";
		rc = agg__live_load(r, id, &l, e);
	}
	if (rc)
		goto failed;
	pthread_mutex_lock(&r->mu);
	if (started_audit(r, l, e))
		agg__log(r, "round %s: audit of its start failed: %s", l->idstr,
			 e->msg);
	agg__log(r,
		 "round %s '%s' started by '%s': %" PRId64 " iteration(s)"
		 ", %s, at least %" PRId64 " site(s)",
		 l->idstr, l->spec->name, researcher, l->spec->rounds,
		 pol_strategy_name(l->spec->strategy), l->spec->min_sites);
	agg__live_add(r, l);
	pthread_mutex_unlock(&r->mu);
	if (!rc)
		rc = pack_info(r, id, &out, e);
	if (!rc)
		rc = rf_rpc_call_respond(call, out.data, out.len, e);
	goto out;
failed : {
	struct agg_round_change fc;
	struct rf_err e2 = { 0 };

	memset(&fc, 0, sizeof fc);
	fc.state = "failed";
	fc.round_no = -1;
	fc.error = e->msg;
	(void)!agg_registry_round_set_state(r->c->reg, id, state, &fc,
					    agg_ctx_now(r->c), &e2);
}
out:
	rf_zeroize(sig, sizeof sig);
	pol_spec_destroy(spec);
	rf_buf_release(&json);
	rf_buf_release(&msg);
	rf_buf_release(&out);
	rf_pb_free(req ? &req->base : NULL);
	return rc;
}

/* ---- RoundStatus and WatchRound ------------------------------------------ */

/* Every allocation of one reply, freed at once. */
struct pool {
	void **v;
	size_t n, cap;
	int oom;
};

static void *pool_keep(struct pool *p, void *x)
{
	if (!x) {
		p->oom = 1;
		return NULL;
	}
	if (p->n == p->cap) {
		size_t c = p->cap ? 2 * p->cap : 32;
		void **q = rf_realloc(p->v, c * sizeof *q);

		if (!q) {
			rf_free(x);
			p->oom = 1;
			return NULL;
		}
		p->v = q;
		p->cap = c;
	}
	p->v[p->n++] = x;
	return x;
}

static char *pool_str(struct pool *p, const char *s)
{
	return pool_keep(p, rf_strdup(s ? s : ""));
}

/* Appends x to the pool-owned array *arr of *n pointers. */
static void pool_push(struct pool *p, void ***arr, size_t *n, void *x)
{
	void **q;

	if (!x)
		return;
	q = rf_realloc(*arr, (*n + 1) * sizeof *q);
	if (!q) {
		p->oom = 1;
		return;
	}
	if (*arr != q) {
		for (size_t i = 0; i < p->n; i++)
			if (p->v[i] == (void *)*arr)
				p->v[i] = q;
		if (!*arr && !pool_keep(p, q))
			return;
	}
	q[(*n)++] = x;
	*arr = q;
}

static void pool_free(struct pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		rf_free(p->v[i]);
	rf_free(p->v);
	memset(p, 0, sizeof *p);
}

struct info_ctx {
	struct pool *p;
	Radfed__RoundInfo *ri;
	Radfed__Iteration *it;
	int running;
	int64_t round_no;
	/* sites that uploaded in the iteration in progress */
	char **cur;
	size_t ncur;
};

static enum rf_rc info_model(const struct agg_model *m, void *ctx,
			     struct rf_err *e)
{
	struct info_ctx *ic = ctx;

	(void)e;
	for (size_t i = 0; i < ic->ri->n_iterations; i++) {
		Radfed__Iteration *it = ic->ri->iterations[i];

		if ((int64_t)it->round_no == m->round_no) {
			it->model_sha256 = pool_str(ic->p, m->sha256);
			it->aggregated_at = m->created_at;
		}
	}
	if (m->round_no >= 0)
		ic->ri->model_sha256 = pool_str(ic->p, m->sha256);
	return RF_OK;
}

static enum rf_rc info_update(const struct agg_update *u, void *ctx,
			      struct rf_err *e)
{
	struct info_ctx *ic = ctx;
	Radfed__SiteUpdate *su;

	(void)e;
	su = pool_keep(ic->p, rf_malloc(sizeof *su));
	if (!su)
		return RF_OK;
	radfed__site_update__init(su);
	su->site = pool_str(ic->p, u->site);
	su->samples = (uint64_t)u->samples;
	su->bytes = (uint64_t)u->bytes;
	su->sha256 = pool_str(ic->p, u->sha256);
	su->metrics_json = pool_str(ic->p, u->metrics_json);
	pool_push(ic->p, (void ***)&ic->it->updates, &ic->it->n_updates, su);
	if (ic->running && u->round_no == ic->round_no)
		pool_push(ic->p, (void ***)&ic->cur, &ic->ncur,
			  pool_str(ic->p, u->site));
	return RF_OK;
}

static enum rf_rc info_part(const struct agg_participant *pa, void *ctx,
			    struct rf_err *e)
{
	struct info_ctx *ic = ctx;
	Radfed__SiteState *ss;
	const char *st = agg_part_state_name(pa->state);

	(void)e;
	for (size_t i = 0; i < ic->ncur; i++)
		if (ic->cur[i] && strcmp(ic->cur[i], pa->site) == 0)
			st = agg_part_state_name(AGG_PART_UPLOADED);
	ss = pool_keep(ic->p, rf_malloc(sizeof *ss));
	if (!ss)
		return RF_OK;
	radfed__site_state__init(ss);
	ss->site = pool_str(ic->p, pa->site);
	ss->state = pool_str(ic->p, st);
	ss->policy_sha256 = pool_str(ic->p, pa->policy_sha256);
	pool_push(ic->p, (void ***)&ic->ri->sites, &ic->ri->n_sites, ss);
	return RF_OK;
}

/* Fills *ri (pool-owned) with round id as the registry holds it. */
static enum rf_rc build_info(struct agg_rounds *r, const struct agg_round *rd,
			     struct pool *p, Radfed__RoundInfo *ri,
			     struct rf_err *e)
{
	struct pol_spec *spec = NULL;
	struct info_ctx ic;
	char idstr[24];
	enum rf_rc rc = RF_OK;

	memset(&ic, 0, sizeof ic);
	radfed__round_info__init(ri);
	snprintf(idstr, sizeof idstr, "%" PRId64, rd->id);
	ri->round = pool_str(p, idstr);
	ri->state = pool_str(p, rd->state);
	ri->round_no = rd->round_no > 0 ? (uint64_t)rd->round_no : 0;
	ri->spec_sha256 = pool_str(p, rd->spec_sha256);
	ri->researcher = pool_str(p, rd->researcher);
	ri->created_at = rd->created_at;
	ri->updated_at = rd->updated_at;
	ri->error = pool_str(p, rd->error);
	ri->model_sha256 = pool_str(p, rd->model_sha256);
	ri->name = pool_str(p, "");
	if (rd->spec_json &&
	    pol_spec_parse(&spec, "spec", rd->spec_json, strlen(rd->spec_json),
			   e) == RF_OK) {
		ri->name = pool_str(p, spec->name);
		ri->rounds = (uint64_t)spec->rounds;
		ri->min_sites = (uint64_t)spec->min_sites;
	}
	pol_spec_destroy(spec);
	ic.p = p;
	ic.ri = ri;
	ic.running = strcmp(rd->state, "running") == 0;
	ic.round_no = rd->round_no;
	if (ic.running)
		ri->deadline = rd->deadline;
	for (int64_t n = 1; !rc && n <= rd->round_no && n <= 1000000; n++) {
		Radfed__Iteration *it = pool_keep(p, rf_malloc(sizeof *it));

		if (!it)
			break;
		radfed__iteration__init(it);
		it->round_no = (uint64_t)n;
		it->model_sha256 = pool_str(p, "");
		pool_push(p, (void ***)&ri->iterations, &ri->n_iterations, it);
		ic.it = it;
		rc = agg_registry_updates(r->c->reg, rd->id, n, info_update,
					  &ic, e);
	}
	if (!rc)
		rc = agg_registry_models(r->c->reg, rd->id, info_model, &ic, e);
	if (!rc)
		rc = agg_registry_participants(r->c->reg, rd->id, info_part,
					       &ic, e);
	if (!rc && p->oom)
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
	return rc;
}

static enum rf_rc pack_status(struct agg_rounds *r, const int64_t *ids,
			      size_t n, struct rf_buf *out, struct rf_err *e)
{
	Radfed__RoundStatusReply rep = RADFED__ROUND_STATUS_REPLY__INIT;
	struct pool p;
	enum rf_rc rc = RF_OK;

	memset(&p, 0, sizeof p);
	for (size_t i = 0; !rc && i < n; i++) {
		Radfed__RoundInfo *ri = pool_keep(&p, rf_malloc(sizeof *ri));
		struct agg_round rd;

		if (!ri) {
			rc = rf_err_set(e, RF_ENOMEM, "out of memory");
			break;
		}
		rc = agg_registry_round_get(r->c->reg, ids[i], &rd, e);
		if (!rc)
			rc = build_info(r, &rd, &p, ri, e);
		agg_round_release(&rd);
		pool_push(&p, (void ***)&rep.rounds, &rep.n_rounds, ri);
	}
	if (!rc && p.oom)
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
	rf_buf_reset(out);
	if (!rc)
		rc = rf_pb_pack(&rep.base, out, e);
	if (rc == RF_ETOOBIG)
		rf_err_set(e, RF_ETOOBIG,
			   "the status is over %u bytes: ask for one round",
			   RF_RPC_MSG_MAX);
	pool_free(&p);
	return rc;
}

static enum rf_rc pack_info(struct agg_rounds *r, int64_t id,
			    struct rf_buf *out, struct rf_err *e)
{
	struct agg_round rd;
	struct pool p;
	Radfed__RoundInfo ri;
	enum rf_rc rc;

	memset(&p, 0, sizeof p);
	rc = agg_registry_round_get(r->c->reg, id, &rd, e);
	if (!rc)
		rc = build_info(r, &rd, &p, &ri, e);
	rf_buf_reset(out);
	if (!rc)
		rc = rf_pb_pack(&ri.base, out, e);
	agg_round_release(&rd);
	pool_free(&p);
	return rc;
}

struct idlist {
	int64_t *v;
	size_t n;
	int oom;
};

static enum rf_rc list_id(const struct agg_round *rd, void *ctx,
			  struct rf_err *e)
{
	struct idlist *l = ctx;
	int64_t *q = rf_realloc(l->v, (l->n + 1) * sizeof *q);

	if (!q)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	q[l->n++] = rd->id;
	l->v = q;
	return RF_OK;
}

enum rf_rc agg_rounds_status(struct agg_rounds *r, struct rf_rpc_call *call,
			     struct rf_err *e)
{
	Radfed__RoundStatusRequest *req = NULL;
	struct rf_buf out = RF_BUF_INIT(RF_RPC_MSG_MAX);
	struct idlist ids = { NULL, 0, 0 };
	struct agg_round rd;
	int64_t id = 0;
	enum rf_rc rc;

	rc = unpack(call, &radfed__round_status_request__descriptor,
		    AGG_SMALL_REQUEST_MAX, (ProtobufCMessage **)&req, e);
	if (rc)
		return rc;
	if (req->round[0]) {
		rc = parse_round(req->round, "round", &id, e);
		if (!rc && agg_registry_round_get(r->c->reg, id, &rd, e) == 0)
			agg_round_release(&rd);
		else if (!rc)
			rc = rf_err_set(e, RF_ENOTFOUND, "no round %" PRId64,
					id);
		if (!rc)
			rc = pack_status(r, &id, 1, &out, e);
	} else {
		rc = agg_registry_round_list(r->c->reg, list_id, &ids, e);
		if (!rc)
			rc = pack_status(r, ids.v, ids.n, &out, e);
	}
	if (!rc)
		rc = rf_rpc_call_respond(call, out.data, out.len, e);
	rf_free(ids.v);
	rf_buf_release(&out);
	rf_pb_free(&req->base);
	return rc;
}

enum rf_rc agg_rounds_watch(struct agg_rounds *r, struct rf_rpc_call *call,
			    struct rf_err *e)
{
	Radfed__RoundStatusRequest *req = NULL;
	struct rf_buf out = RF_BUF_INIT(RF_RPC_MSG_MAX);
	struct agg_round rd;
	struct timespec ts;
	uint64_t seen;
	int64_t id = 0;
	int ended;
	enum rf_rc rc;

	rc = unpack(call, &radfed__round_status_request__descriptor,
		    AGG_SMALL_REQUEST_MAX, (ProtobufCMessage **)&req, e);
	if (rc)
		return rc;
	rc = parse_round(req->round, "round", &id, e);
	rf_pb_free(&req->base);
	while (!rc) {
		pthread_mutex_lock(&r->mu);
		seen = r->gen;
		pthread_mutex_unlock(&r->mu);
		rc = agg_registry_round_get(r->c->reg, id, &rd, e);
		if (rc)
			break;
		ended = strcmp(rd.state, "done") == 0 ||
			strcmp(rd.state, "failed") == 0;
		agg_round_release(&rd);
		rc = pack_status(r, &id, 1, &out, e);
		if (!rc)
			rc = rf_rpc_call_send(call, out.data, out.len, e);
		if (rc || ended)
			break;
		pthread_mutex_lock(&r->mu);
		while (r->gen == seen && !r->stop &&
		       !rf_rpc_call_cancelled(call)) {
			agg__abstime(&ts, AGG_POLL_SLICE_MS);
			pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		}
		if (r->gen == seen)
			rc = rf_err_set(e, RF_EIO, "watch ended");
		pthread_mutex_unlock(&r->mu);
	}
	rf_buf_release(&out);
	return rc;
}
