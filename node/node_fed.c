/* node_fed.c - the loop of `radfed site serve`: tasks, decisions,
 * training and uploads. */
#include "node_fed.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node_enroll.h"
#include "node_site.h"
#include "radfed.pb-c.h"
#include "rf_alloc.h"
#include "rf_audit.h"
#include "rf_audit_events.h"
#include "rf_chunk.h"
#include "rf_config.h"
#include "rf_file.h"
#include "rf_log.h"
#include "rf_pb.h"
#include "rf_rpc.h"
#include "trn_ckpt.h"
#include "trn_train.h"

#define PATH_NEXT_TASK "/radfed.Federation/NextTask"
#define PATH_DECIDE "/radfed.Federation/Decide"
#define PATH_GET_MODEL "/radfed.Federation/GetModel"
#define PATH_UPLOAD "/radfed.Federation/UploadUpdate"

#define TASK_MAX (POL_SPEC_CANONICAL_MAX + 8192)
#define SMALL_MAX 4096
#define STATE_MAX (64 * 1024)
#define DECIDE_MS 30000
#define TRANSFER_MS (30 * 60 * 1000)
#define RETRY_MS 5000   /* pause after a task that failed */
#define SLICE_MS 100    /* sleeps are cut so that stop is seen quickly */
#define LINE_MAX_ 512

/* Audited when a global model does not hash to what the task announced:
 * {round, round_no, sha256 (what arrived), model_sha256 (announced),
 * reason}. */
#define EV_MODEL_REJECTED RF_AUDIT_EV_MODEL_REJECTED

struct fed {
	const char *dir;
	const struct node_fed_opts *o;
	struct node_site *site;
	struct pol_policy *policy;
	struct rf_key *agg_key;
	struct rf_key *audit_key;
	struct rf_audit *audit;
	struct rf_rpc_client *cl;
	bool have_data;
	struct trn_data_info data;
	char data_path[PATH_MAX];
	bool audit_failed; /* an event could not be written: stop */
	bool refused;      /* the current task was refused (and audited) */
	unsigned tasks;
	/* training progress, for on_epoch */
	const char *round;
	uint64_t round_no;
};

/* A task's round, as checked (all strings NUL-terminated, owned by the
 * decoded message). */
struct task {
	const Radfed__Task *t;
	struct node_fed_spec_claim claim;
};

/* ---- output ------------------------------------------------------------- */

static void say(struct fed *f, const char *fmt, ...) RF_PRINTF(2, 3);

static void say(struct fed *f, const char *fmt, ...)
{
	char line[LINE_MAX_];
	va_list ap;

	if (!f->o->on_line)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	f->o->on_line(f->o->ctx, line);
}

static bool stopping(const struct fed *f)
{
	return f->o->stop && *f->o->stop;
}

static void set_idle(struct fed *f, int idle)
{
	if (f->o->idle)
		*f->o->idle = idle;
}

/* Sleeps ms milliseconds, or less once stop is set. */
static void pause_ms(struct fed *f, int64_t ms)
{
	struct timespec ts;

	set_idle(f, 1);
	while (ms > 0 && !stopping(f)) {
		int64_t d = ms < SLICE_MS ? ms : SLICE_MS;

		ts.tv_sec = 0;
		ts.tv_nsec = (long)d * 1000000L;
		nanosleep(&ts, NULL);
		ms -= d;
	}
	set_idle(f, 0);
}

/* ---- audit -------------------------------------------------------------- */

static enum rf_rc j_key(struct rf_buf *b, const char *k, struct rf_err *e)
{
	return rf_buf_printf(b, e, "%s\"%s\":",
			     b->len > 0 && b->data[b->len - 1] != '{' &&
					     b->data[b->len - 1] != '['
				     ? ","
				     : "",
			     k);
}

static enum rf_rc j_str(struct rf_buf *b, const char *k, const char *v,
			struct rf_err *e)
{
	enum rf_rc rc = j_key(b, k, e);

	return rc ? rc : rf_json_quote(b, v, strlen(v), e);
}

static enum rf_rc j_u64(struct rf_buf *b, const char *k, uint64_t v,
			struct rf_err *e)
{
	enum rf_rc rc = j_key(b, k, e);

	return rc ? rc : rf_buf_printf(b, e, "%llu", (unsigned long long)v);
}

static enum rf_rc j_num(struct rf_buf *b, const char *k, double v,
			struct rf_err *e)
{
	enum rf_rc rc = j_key(b, k, e);

	if (rc)
		return rc;
	return isfinite(v) ? rf_buf_printf(b, e, "%.17g", v)
			   : rf_buf_puts(b, "null", e);
}

static enum rf_rc j_reasons(struct rf_buf *b,
			    const struct node_fed_decision *d,
			    struct rf_err *e)
{
	enum rf_rc rc = j_key(b, RF_AUDIT_KEY_REASONS, e);
	size_t i;

	if (!rc)
		rc = rf_buf_putc(b, '[', e);
	for (i = 0; !rc && i < d->nreasons; i++) {
		if (i)
			rc = rf_buf_putc(b, ',', e);
		if (!rc)
			rc = rf_json_quote(b, d->reasons[i],
					   strlen(d->reasons[i]), e);
	}
	return rc ? rc : rf_buf_putc(b, ']', e);
}

/* Appends the event whose data object is b (closed here). A failure is
 * fatal to the loop: nothing is done that could not be recorded. */
static enum rf_rc audit_buf(struct fed *f, const char *event,
			    struct rf_buf *b, struct rf_err *e)
{
	enum rf_rc rc = rf_buf_putc(b, '}', e);

	if (!rc)
		rc = rf_audit_append(f->audit, event, rf_buf_str(b), NULL, e);
	if (rc)
		f->audit_failed = true;
	return rc;
}

/* An event with string members only: kv is NULL-terminated pairs. */
static enum rf_rc audit_kv(struct fed *f, const char *event,
			   const char *const *kv, struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(RF_AUDIT_DATA_MAX);
	enum rf_rc rc = rf_buf_putc(&b, '{', e);

	for (; !rc && kv[0]; kv += 2)
		rc = j_str(&b, kv[0], kv[1], e);
	if (!rc)
		rc = audit_buf(f, event, &b, e);
	else
		f->audit_failed = true;
	rf_buf_release(&b);
	return rc;
}

/* Copies s into out (n > 0) with every byte outside printable ASCII
 * replaced by '?': text from the wire goes into the log and the output
 * whole and valid, whatever was cut or sent. */
static void ascii_copy(char *out, size_t n, const char *s)
{
	size_t i;

	for (i = 0; s && s[i] && i + 1 < n; i++)
		out[i] = (unsigned char)s[i] >= 0x20 &&
				 (unsigned char)s[i] < 0x7f
			     ? s[i]
			     : '?';
	out[i] = '\0';
}

/* Refuses a task before any work: audited and reported. The round shown
 * is cut to what a valid one may be. */
static enum rf_rc refuse(struct fed *f, const char *round,
			 const char *why, struct rf_err *e)
{
	char r[NODE_FED_ROUND_MAX + 1], reason[RF_ERR_MSG_MAX];
	const char *kv[] = { RF_AUDIT_KEY_ROUND, r, RF_AUDIT_KEY_REASON,
			     reason, NULL };

	ascii_copy(r, sizeof r, round);
	ascii_copy(reason, sizeof reason, why);
	f->refused = true;
	say(f, "refused a task for round '%s': %s", r, reason);
	return audit_kv(f, NODE_FED_EV_TASK_REFUSED, kv, e);
}

/* ---- files of a round --------------------------------------------------- */

static enum rf_rc round_path(const struct fed *f, const char *round,
			     const char *name, char out[PATH_MAX],
			     struct rf_err *e)
{
	char sub[NODE_FED_ROUND_MAX + 64];

	if (!node_fed_round_valid(round))
		return rf_err_set(e, RF_EINVAL, "malformed round id");
	snprintf(sub, sizeof sub, "fed/%s%s%s", round, name ? "/" : "",
		 name ? name : "");
	return rf_path_join(out, PATH_MAX, f->dir, sub, e);
}

static enum rf_rc round_dir(const struct fed *f, const char *round,
			    struct rf_err *e)
{
	char p[PATH_MAX];
	enum rf_rc rc = round_path(f, round, NULL, p, e);

	return rc ? rc : rf_mkdirs(p, 0700, e);
}

static bool exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* A decision as stored in decision.json. */
struct stored {
	bool found;
	bool accepted;
	char spec_sha256[2 * RF_SHA256_LEN + 1];
	struct node_fed_decision d;
};

static enum rf_rc load_decision(const struct fed *f, const char *round,
				struct stored *s, struct rf_err *e)
{
	const struct rf_cfg_node *root, *rs;
	struct rf_cfg *cfg = NULL;
	struct rf_cfg_limits lim;
	const char *sha = NULL, *pol = NULL;
	char p[PATH_MAX];
	enum rf_rc rc;
	size_t i;

	memset(s, 0, sizeof *s);
	rc = round_path(f, round, "decision.json", p, e);
	if (rc || !exists(p))
		return rc;
	memset(&lim, 0, sizeof lim);
	lim.max_bytes = STATE_MAX;
	lim.max_depth = 4;
	lim.max_nodes = 256;
	rc = rf_cfg_load_file(&cfg, p, &lim, e);
	if (rc)
		return rc;
	root = rf_cfg_root(cfg);
	rc = rf_cfg_get_bool(root, "accepted", RF_CFG_REQUIRED, &s->accepted,
			     e);
	if (!rc)
		rc = rf_cfg_get_str(root, "spec_sha256", RF_CFG_REQUIRED, &sha,
				    e);
	if (!rc)
		rc = rf_cfg_get_str(root, "policy_sha256", RF_CFG_REQUIRED,
				    &pol, e);
	if (!rc)
		rc = rf_cfg_get_node(root, "reasons", RF_CFG_SEQ,
				     RF_CFG_REQUIRED, &rs, e);
	if (rc)
		goto out;
	snprintf(s->spec_sha256, sizeof s->spec_sha256, "%s", sha);
	snprintf(s->d.policy_sha256, sizeof s->d.policy_sha256, "%s", pol);
	s->d.accepted = s->accepted;
	for (i = 0; i < rs->count && i < NODE_FED_REASONS_MAX; i++)
		if (rs->values[i]->kind == RF_CFG_SCALAR)
			snprintf(s->d.reasons[s->d.nreasons++],
				 POL_REASON_MAX, "%s", rs->values[i]->text);
	s->found = true;
out:
	rf_cfg_destroy(cfg);
	return rc;
}

static enum rf_rc save_decision(const struct fed *f, const char *round,
				const char *spec_sha256,
				const struct node_fed_decision *d,
				struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(STATE_MAX);
	char p[PATH_MAX];
	enum rf_rc rc = rf_buf_putc(&b, '{', e);

	if (!rc)
		rc = j_str(&b, RF_AUDIT_KEY_ROUND, round, e);
	if (!rc)
		rc = j_str(&b, RF_AUDIT_KEY_SPEC_SHA256, spec_sha256, e);
	if (!rc)
		rc = j_key(&b, RF_AUDIT_KEY_ACCEPTED, e);
	if (!rc)
		rc = rf_buf_puts(&b, d->accepted ? "true" : "false", e);
	if (!rc)
		rc = j_str(&b, RF_AUDIT_KEY_POLICY_SHA256, d->policy_sha256, e);
	if (!rc)
		rc = j_reasons(&b, d, e);
	if (!rc)
		rc = rf_buf_puts(&b, "}\n", e);
	if (!rc)
		rc = round_path(f, round, "decision.json", p, e);
	if (!rc)
		rc = rf_file_write_atomic(p, b.data, b.len, 0600, e);
	rf_buf_release(&b);
	return rc;
}

/* ---- calls -------------------------------------------------------------- */

static enum rf_rc next_task(struct fed *f, Radfed__Task **out,
			    struct rf_err *e)
{
	Radfed__TaskRequest req = RADFED__TASK_REQUEST__INIT;
	struct rf_buf msg = RF_BUF_INIT(SMALL_MAX);
	struct rf_buf in = RF_BUF_INIT(TASK_MAX);
	ProtobufCMessage *m = NULL;
	enum rf_rc rc;

	*out = NULL;
	req.wait_ms = f->o->wait_ms ? f->o->wait_ms : NODE_FED_WAIT_MS;
	rc = rf_pb_pack(&req.base, &msg, e);
	if (!rc)
		rc = rf_rpc_client_unary(f->cl, PATH_NEXT_TASK, msg.data,
					 msg.len,
					 (int64_t)req.wait_ms + 10000, &in, e);
	if (!rc)
		rc = rf_pb_unpack(&radfed__task__descriptor, in.data, in.len,
				  TASK_MAX, &m, e);
	if (!rc)
		*out = (Radfed__Task *)m;
	rf_buf_release(&msg);
	rf_buf_release(&in);
	return rc;
}

static enum rf_rc send_decision(struct fed *f, const char *round,
				const struct node_fed_decision *d,
				struct rf_err *e)
{
	Radfed__Decision req = RADFED__DECISION__INIT;
	struct rf_buf msg = RF_BUF_INIT(STATE_MAX);
	struct rf_buf in = RF_BUF_INIT(SMALL_MAX);
	char *reasons[NODE_FED_REASONS_MAX];
	enum rf_rc rc;
	size_t i;

	for (i = 0; i < d->nreasons; i++)
		reasons[i] = (char *)d->reasons[i];
	req.round = (char *)round;
	req.accept = d->accepted;
	req.policy_sha256 = (char *)d->policy_sha256;
	req.n_reasons = d->nreasons;
	req.reasons = reasons;
	rc = rf_pb_pack(&req.base, &msg, e);
	if (!rc)
		rc = rf_rpc_client_unary(f->cl, PATH_DECIDE, msg.data, msg.len,
					 DECIDE_MS, &in, e);
	rf_buf_release(&msg);
	rf_buf_release(&in);
	return rc;
}

/* ---- OFFER -------------------------------------------------------------- */

static void claim_of(const Radfed__Task *t, struct node_fed_spec_claim *c)
{
	c->round = t->round;
	c->spec_json = t->spec_json;
	c->spec_len = strlen(t->spec_json);
	c->spec_sha256 = t->spec_sha256;
	c->sig = t->spec_signature.data;
	c->sig_len = t->spec_signature.len;
	c->researcher = t->researcher;
}

static void reasons_text(const struct node_fed_decision *d, char *out,
			 size_t n)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < d->nreasons && used + 1 < n; i++) {
		int k = snprintf(out + used, n - used, "%s%s", i ? "; " : "",
				 d->reasons[i]);

		if (k < 0)
			break;
		used += (size_t)k < n - used ? (size_t)k : n - used - 1;
	}
}

static enum rf_rc audit_decision(struct fed *f, const char *round,
				 const struct node_fed_decision *d,
				 struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(RF_AUDIT_DATA_MAX);
	enum rf_rc rc = rf_buf_putc(&b, '{', e);

	if (!rc)
		rc = j_str(&b, RF_AUDIT_KEY_ROUND, round, e);
	if (!rc)
		rc = j_str(&b, RF_AUDIT_KEY_POLICY_SHA256, d->policy_sha256, e);
	if (!rc)
		rc = j_reasons(&b, d, e);
	if (!rc)
		rc = audit_buf(f,
			       d->accepted ? RF_AUDIT_EV_ROUND_ACCEPTED
					   : RF_AUDIT_EV_ROUND_DECLINED,
			       &b, e);
	else
		f->audit_failed = true;
	rf_buf_release(&b);
	return rc;
}

static enum rf_rc on_offer(struct fed *f, const Radfed__Task *t,
			   struct rf_err *e)
{
	struct node_fed_spec_claim c;
	struct node_fed_decision d;
	struct pol_spec *spec = NULL;
	struct stored st;
	struct rf_err pe = { 0 };
	char p[PATH_MAX], why[LINE_MAX_], msg[POL_REASON_MAX - 40];
	enum rf_rc rc;

	claim_of(t, &c);
	rc = node_fed_verify_claim(f->agg_key, &c, e);
	if (rc)
		return refuse(f, t->round, rf_err_msg(e), e) ? e->rc : rc;
	rc = load_decision(f, t->round, &st, e);
	if (rc)
		return rc;
	if (st.found) {
		if (strcmp(st.spec_sha256, t->spec_sha256) != 0)
			return refuse(f, t->round,
				      "the round was offered before with "
				      "another spec",
				      e)
				       ? e->rc
				       : RF_EINTEGRITY;
		say(f, "round %s: decided before (%s), answering again",
		    t->round, st.accepted ? "accepted" : "declined");
		return send_decision(f, t->round, &st.d, e);
	}
	{
		const char *kv[] = { RF_AUDIT_KEY_ROUND, t->round,
				     RF_AUDIT_KEY_SPEC_SHA256, t->spec_sha256,
				     NULL };

		rc = audit_kv(f, RF_AUDIT_EV_ROUND_OFFERED, kv, e);
		if (rc)
			return rc;
	}
	rc = pol_spec_parse(&spec, "offered spec", c.spec_json, c.spec_len,
			    &pe);
	if (rc == RF_ENOMEM) {
		rf_err_set(e, rc, "%s", rf_err_msg(&pe));
		goto out;
	}
	if (rc) {
		/* a signed spec this node cannot read: declined, saying why */
		memset(&d, 0, sizeof d);
		snprintf(d.policy_sha256, sizeof d.policy_sha256, "%s",
			 pol_policy_hash(f->policy));
		ascii_copy(msg, sizeof msg, rf_err_msg(&pe));
		snprintf(d.reasons[0], POL_REASON_MAX,
			 "this site cannot read the spec: %s", msg);
		d.nreasons = 1;
	} else {
		rc = node_fed_evaluate(f->policy, spec, t->researcher,
				       f->have_data ? &f->data : NULL, &d, e);
		if (rc)
			goto out;
		say(f, "round %s offered: '%s' by %s, %s %ux%ux%u, %lld "
		       "iterations",
		    t->round, spec->name, t->researcher, spec->model,
		    spec->channels, spec->height, spec->width,
		    (long long)spec->rounds);
	}
	rc = audit_decision(f, t->round, &d, e);
	if (!rc)
		rc = round_dir(f, t->round, e);
	if (!rc)
		rc = round_path(f, t->round, "spec.json", p, e);
	if (!rc)
		rc = rf_file_write_atomic(p, c.spec_json, c.spec_len, 0600, e);
	if (!rc)
		rc = save_decision(f, t->round, t->spec_sha256, &d, e);
	if (rc)
		goto out;
	reasons_text(&d, why, sizeof why);
	if (d.accepted)
		say(f, "round %s accepted (policy %.12s)", t->round,
		    d.policy_sha256);
	else
		say(f, "round %s declined: %s", t->round, why);
	rc = send_decision(f, t->round, &d, e);
out:
	pol_spec_destroy(spec);
	return rc;
}

/* ---- TRAIN -------------------------------------------------------------- */

static void on_epoch(void *ctx, const struct trn_epoch_report *r)
{
	struct fed *f = ctx;

	say(f,
	    "round %s iteration %llu: epoch %u/%u loss %.4f val_auc %.4f "
	    "val_acc %.4f (%zu images, %.0f/s)",
	    f->round, (unsigned long long)f->round_no, r->epoch, r->epochs,
	    r->loss, r->val_auc, r->val_acc, r->train_images,
	    r->images_per_s);
}

static enum rf_rc metrics_json(const struct trn_train_result *r,
			       unsigned epochs, struct rf_buf *b,
			       struct rf_err *e)
{
	enum rf_rc rc = rf_buf_putc(b, '{', e);

	if (!rc)
		rc = j_num(b, "loss", r->last.loss, e);
	if (!rc)
		rc = j_num(b, "val_loss", r->last.val_loss, e);
	if (!rc)
		rc = j_num(b, "val_acc", r->last.val_acc, e);
	if (!rc)
		rc = j_num(b, "val_bal_acc", r->last.val_bal_acc, e);
	if (!rc)
		rc = j_num(b, "val_auc", r->last.val_auc, e);
	if (!rc)
		rc = j_u64(b, "train_images", r->last.train_images, e);
	if (!rc)
		rc = j_u64(b, "val_images", r->last.val_images, e);
	if (!rc)
		rc = j_u64(b, "epochs", epochs, e);
	return rc ? rc : rf_buf_putc(b, '}', e);
}

/* Reads update-<r>.json back: the metrics object and its train_images. */
static enum rf_rc load_metrics(const char *path, struct rf_buf *json,
			       uint64_t *samples, struct rf_err *e)
{
	struct rf_cfg *cfg = NULL;
	int64_t n = 0;
	enum rf_rc rc = rf_file_read(path, json, e);

	if (!rc)
		rc = rf_cfg_load_string(&cfg, path, (const char *)json->data,
					json->len, NULL, e);
	if (!rc)
		rc = rf_cfg_get_int(rf_cfg_root(cfg), "train_images", 1,
				    INT64_MAX, RF_CFG_REQUIRED, &n, e);
	if (!rc)
		rc = rf_buf_putc(json, '\0', e);
	if (!rc) {
		json->len--;
		*samples = (uint64_t)n;
	}
	rf_cfg_destroy(cfg);
	return rc;
}

static int is_hex64(const char *s)
{
	size_t i;

	if (strlen(s) != 2 * RF_SHA256_LEN)
		return 0;
	for (i = 0; i < 2 * RF_SHA256_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* The global model of iteration t->round_no, downloaded (or kept from an
 * earlier attempt) and checked against the task's hash. */
static enum rf_rc get_model(struct fed *f, const Radfed__Task *t,
			    const char *path, struct rf_err *e)
{
	Radfed__ModelRequest req = RADFED__MODEL_REQUEST__INIT;
	struct rf_buf msg = RF_BUF_INIT(SMALL_MAX);
	struct rf_chunk_in in;
	char hex[2 * RF_SHA256_LEN + 1], rno[24], nb[24];
	uint64_t bytes = 0;
	enum rf_rc rc;

	if (exists(path)) {
		rc = rf_chunk_hash_file(path, NULL, hex, &bytes, e);
		if (!rc && strcmp(hex, t->model_sha256) == 0)
			return RF_OK;
		unlink(path);
	}
	memset(&in, 0, sizeof in);
	in.fd = -1;
	req.round = t->round;
	req.round_no = t->round_no;
	rc = rf_pb_pack(&req.base, &msg, e);
	if (!rc)
		rc = rf_chunk_in_file(&in, path,
				      t->model_bytes ? t->model_bytes
						     : NODE_FED_MODEL_MAX,
				      e);
	if (!rc)
		rc = rf_chunk_download(f->cl, PATH_GET_MODEL, msg.data,
				       msg.len, TRANSFER_MS, &in, hex, &bytes,
				       e);
	rf_chunk_in_release(&in);
	rf_buf_release(&msg);
	snprintf(rno, sizeof rno, "%llu", (unsigned long long)t->round_no);
	if (rc == RF_EINTEGRITY) {
		/* the stream is not the model its own hash announces (the
		 * aggregator announces the registry's hash without hashing
		 * the file again): nothing was kept */
		const char *kv[] = { RF_AUDIT_KEY_ROUND, t->round,
				     RF_AUDIT_KEY_ROUND_NO, rno,
				     RF_AUDIT_KEY_SHA256, "",
				     RF_AUDIT_KEY_MODEL_SHA256,
				     t->model_sha256,
				     RF_AUDIT_KEY_REASON, e->msg, NULL };
		struct rf_err e2 = { 0 };

		if (audit_kv(f, EV_MODEL_REJECTED, kv, &e2))
			return rf_err_set(e, e2.rc, "%s", e2.msg);
		return rc;
	}
	if (rc)
		return rc;
	if (strcmp(hex, t->model_sha256) != 0 ||
	    (t->model_bytes && bytes != t->model_bytes)) {
		const char *kv[] = { RF_AUDIT_KEY_ROUND, t->round,
				     RF_AUDIT_KEY_ROUND_NO, rno,
				     RF_AUDIT_KEY_SHA256, hex,
				     RF_AUDIT_KEY_MODEL_SHA256,
				     t->model_sha256,
				     RF_AUDIT_KEY_REASON,
				     "the model does not match the task",
				     NULL };

		unlink(path);
		if (audit_kv(f, EV_MODEL_REJECTED, kv, e))
			return e->rc;
		return rf_err_set(e, RF_EINTEGRITY,
				  "round %s: the global model hashes to %s, "
				  "the task announced %s",
				  t->round, hex, t->model_sha256);
	}
	{
		struct rf_buf b = RF_BUF_INIT(SMALL_MAX);

		rc = rf_buf_putc(&b, '{', e);
		if (!rc)
			rc = j_str(&b, RF_AUDIT_KEY_ROUND, t->round, e);
		if (!rc)
			rc = j_u64(&b, RF_AUDIT_KEY_ROUND_NO, t->round_no, e);
		if (!rc)
			rc = j_str(&b, RF_AUDIT_KEY_SHA256, hex, e);
		if (!rc)
			rc = j_u64(&b, RF_AUDIT_KEY_BYTES, bytes, e);
		if (!rc)
			rc = audit_buf(f, RF_AUDIT_EV_MODEL_RECEIVED, &b, e);
		else
			f->audit_failed = true;
		rf_buf_release(&b);
	}
	snprintf(nb, sizeof nb, "%llu", (unsigned long long)bytes);
	if (!rc)
		say(f, "round %s iteration %llu: global model received (%s "
		       "bytes, sha256 %.12s)",
		    t->round, (unsigned long long)t->round_no, nb, hex);
	return rc;
}

/* Trains from the global model and writes the delta and its metrics. */
static enum rf_rc train(struct fed *f, const Radfed__Task *t,
			const struct pol_spec *spec, const char *global,
			const char *delta, const char *metrics,
			struct rf_err *e)
{
	struct trn_train_config c;
	struct trn_train_result r;
	struct trn_ckpt_meta meta;
	struct rf_buf mj = RF_BUF_INIT(SMALL_MAX);
	struct rf_buf b = RF_BUF_INIT(SMALL_MAX);
	char local[PATH_MAX], name[64];
	enum rf_rc rc;

	rc = trn_ckpt_read_meta(global, &meta, e);
	if (rc)
		return rc;
	if (strcmp(meta.model, spec->model) != 0 ||
	    meta.channels != spec->channels || meta.height != spec->height ||
	    meta.width != spec->width || meta.classes != spec->nlabels)
		return rf_err_set(e, RF_EINTEGRITY,
				  "round %s: the global model is a %s "
				  "%u,%u,%u with %u classes, not what the "
				  "spec asks",
				  t->round, meta.model, meta.channels,
				  meta.height, meta.width, meta.classes);
	snprintf(name, sizeof name, "local-%llu.h5",
		 (unsigned long long)t->round_no);
	rc = round_path(f, t->round, name, local, e);
	if (rc)
		return rc;
	trn_train_config_init(&c);
	c.data = f->data_path;
	c.model = spec->model;
	c.init = global;
	c.out = local;
	c.epochs = (unsigned)spec->local.epochs;
	c.batch = (unsigned)spec->local.batch;
	c.optim.kind = spec->local.optimizer;
	c.optim.lr = (float)spec->local.lr;
	c.optim.momentum = (float)spec->local.momentum;
	c.optim.weight_decay = (float)spec->local.weight_decay;
	c.optim.prox_mu = (float)spec->local.prox_mu;
	c.val_fraction = spec->val_fraction;
	c.seed = (uint64_t)spec->seed + t->round_no;
	c.round = (int64_t)t->round_no;
	c.on_epoch = on_epoch;
	c.ctx = f;
	f->round = t->round;
	f->round_no = t->round_no;
	say(f, "round %s iteration %llu: training %u epochs on %s",
	    t->round, (unsigned long long)t->round_no, c.epochs, spec->model);
	rc = trn_train_run(&c, &r, e);
	if (rc)
		return rc;
	rc = metrics_json(&r, c.epochs, &mj, e);
	if (!rc)
		rc = rf_buf_putc(&b, '{', e);
	if (!rc)
		rc = j_str(&b, RF_AUDIT_KEY_ROUND, t->round, e);
	if (!rc)
		rc = j_u64(&b, RF_AUDIT_KEY_ROUND_NO, t->round_no, e);
	if (!rc)
		rc = j_u64(&b, RF_AUDIT_KEY_SAMPLES, r.last.train_images, e);
	if (!rc)
		rc = j_key(&b, RF_AUDIT_KEY_METRICS, e);
	if (!rc)
		rc = rf_buf_append(&b, mj.data, mj.len, e);
	if (!rc)
		rc = audit_buf(f, RF_AUDIT_EV_TRAINED, &b, e);
	else
		f->audit_failed = true;
	if (!rc)
		rc = node_fed_delta_file(global, local, delta, NULL, e);
	if (!rc)
		rc = rf_file_write_atomic(metrics, mj.data, mj.len, 0600, e);
	rf_buf_release(&mj);
	rf_buf_release(&b);
	return rc;
}

/* The messages of an upload: the header, then the chunks of the file. */
struct upload {
	struct rf_buf head;
	bool head_sent;
	struct rf_chunk_out out;
};

static enum rf_rc upload_next(const uint8_t **p, size_t *n, void *ctx,
			      struct rf_err *e)
{
	struct upload *u = ctx;
	int last = 0;

	if (!u->head_sent) {
		u->head_sent = true;
		*p = u->head.data;
		*n = u->head.len;
		return RF_OK;
	}
	return rf_chunk_out_next(&u->out, p, n, &last, e);
}

static enum rf_rc upload(struct fed *f, const Radfed__Task *t,
			 const char *delta, const char *metrics,
			 struct rf_err *e)
{
	Radfed__UpdateHeader h = RADFED__UPDATE_HEADER__INIT;
	Radfed__UpdatePart part = RADFED__UPDATE_PART__INIT;
	Radfed__UploadReceipt *rcpt = NULL;
	ProtobufCMessage *m = NULL;
	struct rf_buf mj = RF_BUF_INIT(STATE_MAX);
	struct rf_buf in = RF_BUF_INIT(SMALL_MAX);
	struct rf_buf b = RF_BUF_INIT(SMALL_MAX);
	struct upload u;
	uint8_t sha[RF_SHA256_LEN];
	char hex[2 * RF_SHA256_LEN + 1];
	uint64_t bytes = 0, samples = 0;
	enum rf_rc rc;

	memset(&u, 0, sizeof u);
	u.out.fd = -1;
	rf_buf_init(&u.head, RF_CHUNK_MSG_MAX);
	rc = load_metrics(metrics, &mj, &samples, e);
	if (!rc)
		rc = rf_chunk_hash_file(delta, sha, hex, &bytes, e);
	if (rc)
		goto out;
	h.round = t->round;
	h.round_no = t->round_no;
	h.samples = samples;
	h.kind = (char *)RF_AUDIT_KIND_DELTA;
	h.total_bytes = bytes;
	h.sha256.data = sha;
	h.sha256.len = sizeof sha;
	h.metrics_json = (char *)mj.data;
	h.base_sha256 = t->model_sha256;
	part.header = &h;
	rc = rf_pb_pack(&part.base, &u.head, e);
	if (!rc)
		rc = rf_chunk_out_file(&u.out, delta, 2, e);
	/* the stream's hash is the header's: not computed a second time, the
	 * aggregator checks the bytes against it */
	if (!rc) {
		rf_chunk_out_announce(&u.out, sha);
		rc = rf_rpc_client_client_stream(f->cl, PATH_UPLOAD,
						 upload_next, &u, TRANSFER_MS,
						 &in, e);
	}
	if (!rc)
		rc = rf_pb_unpack(&radfed__upload_receipt__descriptor, in.data,
				  in.len, SMALL_MAX, &m, e);
	if (rc)
		goto out;
	rcpt = (Radfed__UploadReceipt *)m;
	if (strcmp(rcpt->sha256, hex) != 0 || rcpt->bytes != bytes) {
		rc = rf_err_set(e, RF_EINTEGRITY,
				"round %s: the aggregator recorded %llu bytes "
				"with sha256 %.64s, we sent %llu with %s",
				t->round, (unsigned long long)rcpt->bytes,
				rcpt->sha256, (unsigned long long)bytes, hex);
		goto out;
	}
	rc = rf_buf_putc(&b, '{', e);
	if (!rc)
		rc = j_str(&b, RF_AUDIT_KEY_ROUND, t->round, e);
	if (!rc)
		rc = j_u64(&b, RF_AUDIT_KEY_ROUND_NO, t->round_no, e);
	if (!rc)
		rc = j_str(&b, RF_AUDIT_KEY_SHA256, hex, e);
	if (!rc)
		rc = j_u64(&b, RF_AUDIT_KEY_BYTES, bytes, e);
	if (!rc)
		rc = j_u64(&b, RF_AUDIT_KEY_SAMPLES, samples, e);
	if (!rc)
		rc = j_str(&b, RF_AUDIT_KEY_KIND, RF_AUDIT_KIND_DELTA, e);
	if (!rc)
		rc = audit_buf(f, RF_AUDIT_EV_UPDATE_SENT, &b, e);
	else
		f->audit_failed = true;
	if (!rc)
		say(f, "round %s iteration %llu: update sent (%llu bytes, "
		       "%llu samples, sha256 %.12s)%s",
		    t->round, (unsigned long long)t->round_no,
		    (unsigned long long)bytes, (unsigned long long)samples,
		    hex, rcpt->duplicate ? ", already recorded" : "");
out:
	rf_pb_free(m);
	rf_chunk_out_release(&u.out);
	rf_buf_release(&u.head);
	rf_buf_release(&mj);
	rf_buf_release(&in);
	rf_buf_release(&b);
	return rc;
}

static int64_t jitter(int64_t ms);

static enum rf_rc on_train(struct fed *f, const Radfed__Task *t,
			   struct rf_err *e)
{
	struct node_fed_spec_claim c;
	struct pol_spec *spec = NULL;
	struct stored st;
	char global[PATH_MAX], delta[PATH_MAX], metrics[PATH_MAX];
	char name[64];
	int64_t backoff = NODE_FED_BACKOFF_MIN_MS;
	enum rf_rc rc;

	claim_of(t, &c);
	rc = node_fed_verify_claim(f->agg_key, &c, e);
	if (rc)
		return refuse(f, t->round, rf_err_msg(e), e) ? e->rc : rc;
	rc = load_decision(f, t->round, &st, e);
	if (rc)
		return rc;
	if (!st.found || !st.accepted ||
	    strcmp(st.spec_sha256, t->spec_sha256) != 0)
		return refuse(f, t->round,
			      !st.found ? "a round this site never decided on"
			      : !st.accepted
				  ? "a round this site declined"
				  : "the spec differs from the one accepted",
			      e)
			       ? e->rc
			       : RF_EPOLICY;
	rc = pol_spec_parse(&spec, "accepted spec", c.spec_json, c.spec_len,
			    e);
	if (rc)
		return rc;
	if (t->round_no < 1 || t->round_no > (uint64_t)spec->rounds ||
	    !is_hex64(t->model_sha256) || t->model_bytes > NODE_FED_MODEL_MAX) {
		rc = refuse(f, t->round,
			    "iteration, model hash or model size out of "
			    "bounds",
			    e)
			     ? e->rc
			     : RF_EPROTO;
		goto out;
	}
	snprintf(name, sizeof name, "global-%llu.h5",
		 (unsigned long long)(t->round_no - 1));
	rc = round_path(f, t->round, name, global, e);
	snprintf(name, sizeof name, "update-%llu.delta",
		 (unsigned long long)t->round_no);
	if (!rc)
		rc = round_path(f, t->round, name, delta, e);
	snprintf(name, sizeof name, "update-%llu.json",
		 (unsigned long long)t->round_no);
	if (!rc)
		rc = round_path(f, t->round, name, metrics, e);
	if (rc)
		goto out;
	if (!exists(delta) || !exists(metrics)) {
		rc = get_model(f, t, global, e);
		if (!rc)
			rc = train(f, t, spec, global, delta, metrics, e);
		if (rc)
			goto out;
	} else {
		say(f, "round %s iteration %llu: sending the update made "
		       "earlier",
		    t->round, (unsigned long long)t->round_no);
	}
	/* A transport failure leaves it unknown whether the aggregator
	 * recorded the update: send it again until an answer comes (a
	 * recorded one is answered "duplicate"), so that update.sent is
	 * logged for every update the aggregator holds. */
	while (!stopping(f)) {
		rc = upload(f, t, delta, metrics, e);
		if ((rc != RF_EIO && rc != RF_ETIMEDOUT) || f->audit_failed)
			break;
		say(f, "round %s iteration %llu: upload interrupted (%s); "
		       "sending it again",
		    t->round, (unsigned long long)t->round_no, rf_err_msg(e));
		pause_ms(f, jitter(backoff));
		backoff = backoff * 2 > NODE_FED_BACKOFF_MAX_MS
				  ? NODE_FED_BACKOFF_MAX_MS
				  : backoff * 2;
	}
out:
	pol_spec_destroy(spec);
	return rc;
}

/* ---- the loop ----------------------------------------------------------- */

static int64_t jitter(int64_t ms)
{
	uint8_t r[2] = { 0, 0 };
	struct rf_err e = { 0 };
	unsigned v;

	if (rf_random_bytes(r, sizeof r, &e))
		return ms;
	v = (unsigned)r[0] << 8 | r[1];
	/* +-20 % */
	return ms * 8 / 10 + (int64_t)((double)ms * 0.4 * v / 65535.0);
}

static enum rf_rc open_all(struct fed *f, struct rf_err *e)
{
	struct trn_data *data = NULL;
	char p[PATH_MAX], actor[RF_AUDIT_NAME_MAX];
	struct rf_audit_opts ao;
	struct stat st;
	enum rf_rc rc;

	rc = node_site_open(f->dir, &f->site, e);
	if (rc)
		return rc;
	if (f->o->policy)
		snprintf(p, sizeof p, "%s", f->o->policy);
	else if ((rc = rf_path_join(p, sizeof p, f->dir, "policy.yaml", e)))
		return rc;
	rc = pol_policy_load(&f->policy, p, e);
	if (rc) {
		if (rc == RF_EIO || rc == RF_ENOTFOUND)
			rf_err_prefix(e, "site policy");
		return rc;
	}
	rc = rf_path_join(f->data_path, sizeof f->data_path, f->dir,
			  "store/dataset.h5", e);
	if (rc)
		return rc;
	if (stat(f->data_path, &st) != 0)
		return rf_err_set(e, RF_ENOTFOUND,
				  "no dataset '%s': ingest first (radfed "
				  "site ingest)",
				  f->data_path);
	rc = trn_data_open(f->data_path, &data, e);
	if (rc)
		return rc;
	trn_data_info(data, &f->data);
	trn_data_close(data);
	f->have_data = true;
	rc = rf_path_join(p, sizeof p, f->dir, "keys/aggregator.pub", e);
	if (!rc && stat(p, &st) != 0)
		return rf_err_set(e, RF_ENOTFOUND,
				  "no aggregator key '%s': is the site "
				  "enrolled (radfed site enroll)?",
				  p);
	if (!rc)
		rc = rf_key_load_public_pem(p, &f->agg_key, e);
	if (!rc && rf_key_type(f->agg_key) != RF_KEY_ED25519)
		rc = rf_err_set(e, RF_ECRYPTO, "'%s' is not an Ed25519 key",
				p);
	if (!rc)
		rc = node_enroll_client(f->dir, &f->cl, e);
	if (!rc)
		rc = rf_path_join(p, sizeof p, f->dir, "keys/audit.key", e);
	if (!rc)
		rc = rf_key_load_private_pem(p, &f->audit_key, e);
	if (!rc)
		rc = rf_path_join(p, sizeof p, f->dir, "logs/audit.jsonl", e);
	if (rc)
		return rc;
	snprintf(actor, sizeof actor, "%s%s", RF_AUDIT_ACTOR_SITE_PREFIX,
		 f->site->name);
	/* a signed checkpoint after every event: the node may be stopped
	 * at any moment (a signal during the long poll ends the process)
	 * and its log must never end with unsigned lines */
	memset(&ao, 0, sizeof ao);
	ao.checkpoint_every = 1;
	return rf_audit_open(p, actor, f->audit_key, &ao, &f->audit, e);
}

static enum rf_rc serve_loop(struct fed *f, struct rf_err *e)
{
	int64_t backoff = NODE_FED_BACKOFF_MIN_MS;
	int connected = -1; /* unknown, then 0 or 1 */
	struct rf_err te;
	enum rf_rc rc;

	while (!stopping(f)) {
		Radfed__Task *t = NULL;

		if (f->o->max_tasks && f->tasks >= f->o->max_tasks)
			break;
		rf_err_clear(&te);
		set_idle(f, 1);
		rc = next_task(f, &t, &te);
		set_idle(f, 0);
		if (rc) {
			int64_t wait = jitter(backoff);

			if (connected != 0)
				say(f, "aggregator unreachable: %s; "
				       "retrying (backoff up to %d s)",
				    rf_err_msg(&te),
				    NODE_FED_BACKOFF_MAX_MS / 1000);
			connected = 0;
			pause_ms(f, wait);
			backoff = backoff * 2 > NODE_FED_BACKOFF_MAX_MS
					  ? NODE_FED_BACKOFF_MAX_MS
					  : backoff * 2;
			continue;
		}
		if (connected != 1)
			say(f, "connected to the aggregator, waiting for "
			       "tasks");
		connected = 1;
		backoff = NODE_FED_BACKOFF_MIN_MS;
		if (t->kind == RADFED__TASK__KIND__NONE) {
			rf_pb_free(&t->base);
			if (f->o->until_idle)
				break;
			continue;
		}
		f->tasks++;
		f->refused = false;
		if (t->kind == RADFED__TASK__KIND__OFFER)
			rc = on_offer(f, t, &te);
		else if (t->kind == RADFED__TASK__KIND__TRAIN)
			rc = on_train(f, t, &te);
		else
			rc = rf_err_set(&te, RF_EPROTO,
					"unknown kind of task %d",
					(int)t->kind);
		rf_pb_free(&t->base);
		if (f->audit_failed) {
			*e = te;
			return e->rc ? e->rc : RF_EIO;
		}
		if (rc && !stopping(f)) {
			if (!f->refused)
				say(f, "task failed: %s; retrying later",
				    rf_err_msg(&te));
			pause_ms(f, RETRY_MS);
		}
	}
	return RF_OK;
}

enum rf_rc node_fed_serve(const char *dir, const struct node_fed_opts *o,
			  struct rf_err *e)
{
	struct fed f;
	struct rf_err ce = { 0 };
	enum rf_rc rc;

	memset(&f, 0, sizeof f);
	f.dir = dir;
	f.o = o;
	rc = open_all(&f, e);
	if (!rc) {
		say(&f, "site '%s' serving: policy %.12s, dataset %ux%ux%u "
			"with %u classes (%zu records)",
		    f.site->name, pol_policy_hash(f.policy), f.data.channels,
		    f.data.height, f.data.width, f.data.classes,
		    f.data.records);
		rc = serve_loop(&f, e);
	}
	if (f.audit && rf_audit_close(f.audit, &ce) && !rc)
		rc = rf_err_set(e, ce.rc, "%s", rf_err_msg(&ce));
	rf_rpc_client_destroy(f.cl);
	rf_key_destroy(f.agg_key);
	rf_key_destroy(f.audit_key);
	pol_policy_destroy(f.policy);
	node_site_close(f.site);
	return rc;
}
