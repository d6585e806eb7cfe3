/* test_rounds.c - the aggregator's round engine end to end, in one
 * process: an aggregator folder and its server on loopback, two sites and
 * a researcher enrolled through the real Enroll path, rounds driven over
 * real TLS with hand-made deltas whose aggregate the test computes itself
 * (fedavg: w1 = w0 + sum(n_k d_k) / sum(n_k)), refusals of bad uploads,
 * decline, a deadline with too few sites, a restart of the engine in the
 * middle of an iteration, and the audit log's events. */
#include "rf_test.h"

#include <math.h>
#include <time.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agg_ctx.h"
#include "agg_enroll.h"
#include "agg_round.h"
#include "agg_server.h"
#include "node_enroll.h"
#include "node_site.h"
#include "radfed.pb-c.h"
#include "rf_audit.h"
#include "rf_buf.h"
#include "rf_chunk.h"
#include "rf_crypto.h"
#include "rf_file.h"
#include "rf_pb.h"
#include "rf_rpc.h"
#include "trn.h"
#include "trn_ckpt.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

struct world {
	char root[600];
	char agg[700];
	char site_a[700], site_b[700], res[700];
	struct agg_ctx *ctx;
	struct agg_server *srv;
	char listen[64];
	atomic_llong skew; /* seconds added to the wall clock */
	struct rf_rpc_client *a, *b, *r;
};

static int64_t skewed_clock(void *p)
{
	struct world *w = p;

	return (int64_t)time(NULL) + atomic_load(&w->skew);
}

static void enroll_one(struct world *w, const char *dir,
		       enum node_enroll_kind kind, const char *name,
		       enum agg_role role)
{
	char token[AGG_TOKEN_SIZE];
	struct node_enroll_opts o = { 0 };
	struct node_enroll_result res;
	struct rf_err e = { 0 };
	int64_t exp = 0;

	RF_ASSERT_OK_E(agg_invite(w->ctx, name, role, 3600, token, &exp, &e),
		       &e);
	o.dir = dir;
	o.kind = kind;
	o.name = kind == NODE_ENROLL_SITE ? NULL : name;
	o.aggregator = w->listen;
	o.server_name = "localhost";
	o.token = token;
	o.ca_fingerprint = w->ctx->ca_fp;
	RF_ASSERT_OK_E(node_enroll(&o, &res, &e), &e);
}

/* A client of the identity enrolled in dir, dialing the current port
 * (the port changes when the server restarts: another process may take
 * the old one meanwhile). */
static struct rf_rpc_client *client_for(struct world *w, const char *dir)
{
	struct rf_buf cert = RF_BUF_INIT(1 << 20), key = RF_BUF_INIT(1 << 20);
	struct rf_buf ca = RF_BUF_INIT(1 << 20);
	struct rf_rpc_client_opts o;
	struct rf_rpc_client *c = NULL;
	struct rf_err e = { 0 };
	char p[900];

	snprintf(p, sizeof p, "%s/keys/tls.pem", dir);
	RF_ASSERT_OK_E(rf_file_read(p, &cert, &e), &e);
	snprintf(p, sizeof p, "%s/keys/tls.key", dir);
	RF_ASSERT_OK_E(rf_file_read(p, &key, &e), &e);
	snprintf(p, sizeof p, "%s/keys/ca.pem", dir);
	RF_ASSERT_OK_E(rf_file_read(p, &ca, &e), &e);
	memset(&o, 0, sizeof o);
	o.target = w->listen;
	o.server_name = "localhost";
	o.cert_pem = rf_buf_str(&cert);
	o.key_pem = rf_buf_str(&key);
	o.ca_pem = rf_buf_str(&ca);
	RF_ASSERT_OK_E(rf_rpc_client_create(&o, &c, &e), &e);
	rf_buf_release(&cert);
	rf_buf_release_secret(&key);
	rf_buf_release(&ca);
	return c;
}

/* Starts the server on a free port and (re)makes the clients. */
static void server_start(struct world *w)
{
	struct rf_err e = { 0 };

	RF_ASSERT_OK_E(agg_server_create(w->ctx, "127.0.0.1:0", &w->srv, &e),
		       &e);
	snprintf(w->listen, sizeof w->listen, "127.0.0.1:%d",
		 agg_server_port(w->srv));
	if (!w->a)
		return; /* not enrolled yet */
	rf_rpc_client_destroy(w->a);
	rf_rpc_client_destroy(w->b);
	rf_rpc_client_destroy(w->r);
	w->a = client_for(w, w->site_a);
	w->b = client_for(w, w->site_b);
	w->r = client_for(w, w->res);
}

static int world_setup(void **state)
{
	struct world *w = calloc(1, sizeof *w);
	struct agg_init_opts o = { "test-consortium", "127.0.0.1:0", NULL, 0 };
	struct rf_err e = { 0 };

	assert_non_null(w);
	snprintf(w->root, sizeof w->root, "%s", rf_test_tmpdir("rounds"));
	snprintf(w->agg, sizeof w->agg, "%s/agg", w->root);
	snprintf(w->site_a, sizeof w->site_a, "%s/site-a", w->root);
	snprintf(w->site_b, sizeof w->site_b, "%s/site-b", w->root);
	snprintf(w->res, sizeof w->res, "%s/alice", w->root);
	RF_ASSERT_OK_E(agg_ctx_init(w->agg, &o, &e), &e);
	RF_ASSERT_OK_E(agg_ctx_open(w->agg, &w->ctx, &e), &e);
	w->ctx->clock = skewed_clock;
	w->ctx->clock_ctx = w;
	server_start(w);
	RF_ASSERT_OK_E(node_site_init(w->site_a, "site-a", &e), &e);
	RF_ASSERT_OK_E(node_site_init(w->site_b, "site-b", &e), &e);
	enroll_one(w, w->site_a, NODE_ENROLL_SITE, "site-a", AGG_ROLE_SITE);
	enroll_one(w, w->site_b, NODE_ENROLL_SITE, "site-b", AGG_ROLE_SITE);
	enroll_one(w, w->res, NODE_ENROLL_IDENTITY, "alice",
		   AGG_ROLE_RESEARCHER);
	/* the enrolled folders work as the node opens them */
	RF_ASSERT_OK_E(node_enroll_client(w->site_a, &w->a, &e), &e);
	RF_ASSERT_OK_E(node_enroll_client(w->site_b, &w->b, &e), &e);
	RF_ASSERT_OK_E(node_enroll_client(w->res, &w->r, &e), &e);
	*state = w;
	return 0;
}

static int world_teardown(void **state)
{
	struct world *w = *state;

	rf_rpc_client_destroy(w->a);
	rf_rpc_client_destroy(w->b);
	rf_rpc_client_destroy(w->r);
	agg_server_destroy(w->srv);
	agg_ctx_close(w->ctx);
	free(w);
	return 0;
}

/* ---- calls ------------------------------------------------------------- */

static enum rf_rc call_unary(struct rf_rpc_client *c, const char *path,
			     const ProtobufCMessage *req,
			     const ProtobufCMessageDescriptor *d,
			     ProtobufCMessage **out, struct rf_err *e)
{
	struct rf_buf q = RF_BUF_INIT(RF_RPC_MSG_MAX);
	struct rf_buf resp = RF_BUF_INIT(RF_RPC_MSG_MAX);
	enum rf_rc rc;

	*out = NULL;
	RF_ASSERT_OK(rf_pb_pack(req, &q, NULL));
	rc = rf_rpc_client_unary(c, path, q.data, q.len, 60000, &resp, e);
	if (!rc)
		RF_ASSERT_OK_E(rf_pb_unpack(d, resp.data, resp.len,
					    RF_RPC_MSG_MAX, out, e),
			       e);
	rf_buf_release(&q);
	rf_buf_release(&resp);
	return rc;
}

static Radfed__RoundInfo *start_round(struct world *w, const char *yaml)
{
	Radfed__StartRoundRequest q = RADFED__START_ROUND_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	struct rf_err e = { 0 };

	q.spec_yaml = (char *)yaml;
	RF_ASSERT_OK_E(call_unary(w->r, AGG_START_ROUND_PATH, &q.base,
				  &radfed__round_info__descriptor, &m, &e),
		       &e);
	return (Radfed__RoundInfo *)m;
}

static Radfed__RoundStatusReply *status(struct world *w, const char *round)
{
	Radfed__RoundStatusRequest q = RADFED__ROUND_STATUS_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	struct rf_err e = { 0 };

	q.round = (char *)round;
	RF_ASSERT_OK_E(call_unary(w->r, AGG_ROUND_STATUS_PATH, &q.base,
				  &radfed__round_status_reply__descriptor, &m,
				  &e),
		       &e);
	assert_int_equal(((Radfed__RoundStatusReply *)m)->n_rounds, 1);
	return (Radfed__RoundStatusReply *)m;
}

/* Polls the status until the round reaches state at iteration round_no
 * (the engine's thread aggregates in the background). */
static Radfed__RoundStatusReply *wait_for(struct world *w, const char *round,
					  const char *state, uint64_t round_no)
{
	for (int i = 0; i < 600; i++) {
		Radfed__RoundStatusReply *s = status(w, round);

		if (strcmp(s->rounds[0]->state, state) == 0 &&
		    s->rounds[0]->round_no == round_no)
			return s;
		rf_pb_free(&s->base);
		sleep_ms(50);
	}
	fail_msg("round %s never reached %s at %llu", round, state,
		 (unsigned long long)round_no);
	return NULL;
}

static Radfed__Task *next_task(struct rf_rpc_client *c, uint32_t wait_ms)
{
	Radfed__TaskRequest q = RADFED__TASK_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	struct rf_err e = { 0 };

	q.wait_ms = wait_ms;
	RF_ASSERT_OK_E(call_unary(c, AGG_NEXT_TASK_PATH, &q.base,
				  &radfed__task__descriptor, &m, &e),
		       &e);
	return (Radfed__Task *)m;
}

static const char policy_hash[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static enum rf_rc decide(struct rf_rpc_client *c, const char *round, int accept,
			 const char *policy, struct rf_err *e)
{
	Radfed__Decision q = RADFED__DECISION__INIT;
	char *reasons[] = { (char *)"labels differ" };
	ProtobufCMessage *m = NULL;
	enum rf_rc rc;

	q.round = (char *)round;
	q.accept = accept;
	q.policy_sha256 = (char *)policy;
	if (!accept) {
		q.n_reasons = 1;
		q.reasons = reasons;
	}
	rc = call_unary(c, AGG_DECIDE_PATH, &q.base, &radfed__empty__descriptor,
			&m, e);
	rf_pb_free(m);
	return rc;
}

/* Downloads the global model of (round, round_no) to path. */
static enum rf_rc get_model(struct rf_rpc_client *c, const char *round,
			    uint64_t round_no, const char *path,
			    char hex[AGG_HEX256_SIZE], struct rf_err *e)
{
	Radfed__ModelRequest q = RADFED__MODEL_REQUEST__INIT;
	struct rf_buf b = RF_BUF_INIT(1024);
	struct rf_chunk_in in;
	uint64_t bytes = 0;
	enum rf_rc rc;

	q.round = (char *)round;
	q.round_no = round_no;
	RF_ASSERT_OK(rf_pb_pack(&q.base, &b, NULL));
	memset(&in, 0, sizeof in);
	RF_ASSERT_OK(rf_chunk_in_file(&in, path, 64u << 20, NULL));
	rc = rf_chunk_download(c, AGG_GET_MODEL_PATH, b.data, b.len, 60000, &in,
			       hex, &bytes, e);
	rf_chunk_in_release(&in);
	rf_buf_release(&b);
	return rc;
}

static enum rf_rc export_model(struct world *w, const char *round,
			       uint64_t round_no, int latest, const char *path,
			       char hex[AGG_HEX256_SIZE], struct rf_err *e)
{
	Radfed__ExportRequest q = RADFED__EXPORT_REQUEST__INIT;
	struct rf_buf b = RF_BUF_INIT(1024);
	struct rf_chunk_in in;
	uint64_t bytes = 0;
	enum rf_rc rc;

	q.round = (char *)round;
	q.round_no = round_no;
	q.latest = latest;
	RF_ASSERT_OK(rf_pb_pack(&q.base, &b, NULL));
	memset(&in, 0, sizeof in);
	RF_ASSERT_OK(rf_chunk_in_file(&in, path, 64u << 20, NULL));
	rc = rf_chunk_download(w->r, AGG_EXPORT_PATH, b.data, b.len, 60000, &in,
			       hex, &bytes, e);
	rf_chunk_in_release(&in);
	rf_buf_release(&b);
	return rc;
}

/* An upload: the header, then the payload's chunks as UpdatePart.chunk. */
struct upload {
	struct rf_buf head;
	struct rf_chunk_out o;
	int sent_head;
	int header_only;
};

static enum rf_rc upload_next(const uint8_t **p, size_t *n, void *ctx,
			      struct rf_err *e)
{
	struct upload *u = ctx;
	int last = 0;

	if (!u->sent_head) {
		u->sent_head = 1;
		*p = u->head.data;
		*n = u->head.len;
		return RF_OK;
	}
	if (u->header_only) {
		*p = NULL;
		*n = 0;
		return RF_OK;
	}
	return rf_chunk_out_next(&u->o, p, n, &last, e);
}

struct upload_opts {
	const char *round;
	uint64_t round_no;
	uint64_t samples;
	const char *base_sha256;
	const float *delta; /* little-endian float32 on this machine */
	size_t n;
	int64_t total_adjust; /* added to total_bytes */
	int wrong_sha;        /* announce the hash of other bytes */
	int header_only;      /* a refusal at the header: no chunks */
	const char *metrics;
};

static enum rf_rc upload(struct rf_rpc_client *c, const struct upload_opts *uo,
			 Radfed__UploadReceipt **rr, struct rf_err *e)
{
	Radfed__UpdatePart part = RADFED__UPDATE_PART__INIT;
	Radfed__UpdateHeader h = RADFED__UPDATE_HEADER__INIT;
	struct rf_buf resp = RF_BUF_INIT(4096);
	struct upload u;
	uint8_t sha[RF_SHA256_LEN];
	ProtobufCMessage *m = NULL;
	enum rf_rc rc;

	memset(&u, 0, sizeof u);
	u.header_only = uo->header_only;
	rf_buf_init(&u.head, RF_RPC_MSG_MAX);
	RF_ASSERT_OK(rf_sha256(uo->delta, uo->n * 4, sha, NULL));
	if (uo->wrong_sha)
		sha[0] ^= 1;
	h.round = (char *)uo->round;
	h.round_no = uo->round_no;
	h.samples = uo->samples;
	h.kind = (char *)"delta";
	h.total_bytes = (uint64_t)((int64_t)(uo->n * 4) + uo->total_adjust);
	h.sha256.data = sha;
	h.sha256.len = sizeof sha;
	h.metrics_json = (char *)(uo->metrics ? uo->metrics
					      : "{\"loss\": 0.5, \"val_auc\": "
						"null}");
	h.base_sha256 = (char *)uo->base_sha256;
	part.header = &h;
	RF_ASSERT_OK(rf_pb_pack(&part.base, &u.head, NULL));
	RF_ASSERT_OK(rf_chunk_out_mem(&u.o, uo->delta, uo->n * 4, 2, NULL));
	rc = rf_rpc_client_client_stream(c, AGG_UPLOAD_PATH, upload_next, &u,
					 60000, &resp, e);
	if (!rc) {
		RF_ASSERT_OK(rf_pb_unpack(&radfed__upload_receipt__descriptor,
					  resp.data, resp.len, 4096, &m, NULL));
		*rr = (Radfed__UploadReceipt *)m;
	}
	rf_chunk_out_release(&u.o);
	rf_buf_release(&u.head);
	rf_buf_release(&resp);
	return rc;
}

struct watch {
	int messages;
	char last_state[32];
};

static enum rf_rc watch_msg(const uint8_t *p, size_t n, void *ctx,
			    struct rf_err *e)
{
	struct watch *wa = ctx;
	ProtobufCMessage *m = NULL;
	Radfed__RoundStatusReply *rep;

	RF_ASSERT_OK_E(rf_pb_unpack(&radfed__round_status_reply__descriptor, p,
				    n, RF_RPC_MSG_MAX, &m, e),
		       e);
	rep = (Radfed__RoundStatusReply *)m;
	assert_int_equal(rep->n_rounds, 1);
	snprintf(wa->last_state, sizeof wa->last_state, "%s",
		 rep->rounds[0]->state);
	wa->messages++;
	rf_pb_free(m);
	return RF_OK;
}

/* ---- models ------------------------------------------------------------ */

static const char spec_fmt[] = "name: chest x-ray %s\n"
			       "model: cnn-small\n"
			       "input: 1x64x64\n"
			       "labels: [normal, effusion]\n"
			       "rounds: %d\n"
			       "min-sites: %d\n"
			       "max-wait: 60s\n"
			       "strategy: {name: fedavg, params: {eta: 1}}\n"
			       "seed: 7\n";

/* The flat parameters of the model file at path (cnn-small, 1x64x64, 2
 * classes), read under the engine's HDF5 lock. */
static float *model_flat(struct world *w, const char *path, size_t *n)
{
	struct trn_model_spec ms = { 1, 64, 64, 2, 0 };
	const struct trn_model_vtable *vt = trn_model_find("cnn-small");
	struct trn_ckpt_meta meta;
	struct trn_net *net = NULL;
	struct trn_param *params;
	struct rf_err e = { 0 };
	size_t np;
	float *flat;

	agg_rounds_hdf5_lock(agg_server_rounds(w->srv));
	RF_ASSERT_OK_E(trn_model_build("cnn-small", &ms, 1, TRN_LOSS_SOFTMAX_CE,
				       NULL, 1, &net, &e),
		       &e);
	params = trn_net_params(net, &np);
	memset(&meta, 0, sizeof meta);
	snprintf(meta.model, sizeof meta.model, "cnn-small");
	meta.arch_version = vt->arch_version;
	meta.channels = 1;
	meta.height = 64;
	meta.width = 64;
	meta.classes = 2;
	RF_ASSERT_OK_E(trn_ckpt_load(path, &meta, params, np, &e), &e);
	*n = trn_flat_count(params, np);
	flat = malloc(*n * sizeof *flat);
	assert_non_null(flat);
	trn_flat_get(params, np, flat);
	trn_net_destroy(net);
	agg_rounds_hdf5_unlock(agg_server_rounds(w->srv));
	return flat;
}

/* Two hand-made deltas of n floats. */
static void make_deltas(float *da, float *db, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		da[i] = 0.001f * (float)((int)(i % 7) - 3);
		db[i] = -0.0025f * (float)((int)(i % 5) - 2) + 0.0001f;
	}
}

/* Checks w_new = w_old + (na * da + nb * db) / (na + nb), the fedavg
 * step with eta 1, computed here in double. */
static void check_fedavg(const float *w_old, const float *w_new,
			 const float *da, double na, const float *db, double nb,
			 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double want =
		    (double)w_old[i] + (na * da[i] + nb * db[i]) / (na + nb);

		if (fabs((double)w_new[i] - want) > 1e-6)
			fail_msg("parameter %zu: %.9g, want %.9g", i,
				 (double)w_new[i], want);
	}
}

/* ---- audit --------------------------------------------------------------- */

struct events {
	char list[16384];
	char filter[64];
	char data[8192]; /* the data of the last event matching filter */
};

static enum rf_rc collect(const struct rf_audit_entry *ent, void *ctx,
			  struct rf_err *e)
{
	struct events *ev = ctx;
	size_t n = strlen(ev->list);

	(void)e;
	if (strcmp(ent->event, "checkpoint") == 0)
		return RF_OK;
	snprintf(ev->list + n, sizeof ev->list - n, "%s%s", n ? " " : "",
		 ent->event);
	if (strcmp(ent->event, ev->filter) == 0)
		snprintf(ev->data, sizeof ev->data, "%.*s", (int)ent->data_len,
			 ent->data);
	return RF_OK;
}

/* The aggregator's events after verifying the log, and the data of the
 * last `filter` event. */
static void audit_events(struct world *w, const char *filter, struct events *ev)
{
	char p[900];
	struct rf_audit_report r;
	struct rf_err e = { 0 };
	const struct rf_key *trusted[1] = { w->ctx->audit_key };

	memset(ev, 0, sizeof *ev);
	snprintf(ev->filter, sizeof ev->filter, "%s", filter);
	snprintf(p, sizeof p, "%s/logs/audit.jsonl", w->agg);
	RF_ASSERT_OK_E(rf_audit_iterate(p, trusted, 1, collect, ev, &r, &e),
		       &e);
}

static int count_of(const char *list, const char *word)
{
	size_t wl = strlen(word);
	int n = 0;

	for (const char *p = list; (p = strstr(p, word)); p += wl)
		if ((p == list || p[-1] == ' ') && (p[wl] == ' ' || !p[wl]))
			n++;
	return n;
}

/* ---- tests ------------------------------------------------------------- */

/* A two-iteration fedavg round with two sites, every refusal of a bad
 * upload on the way, and the export of its models. */
static void test_round_fedavg(void **state)
{
	struct world *w = *state;
	char yaml[1024], msg[512], p0[900], p1[900], p2[900], px[900];
	char hex[AGG_HEX256_SIZE], h0[AGG_HEX256_SIZE], h1[AGG_HEX256_SIZE];
	uint8_t dig[RF_SHA256_LEN];
	char round[24];
	Radfed__RoundInfo *ri;
	Radfed__RoundStatusReply *st;
	Radfed__Task *t;
	Radfed__UploadReceipt *rr = NULL;
	struct upload_opts uo;
	struct rf_err e = { 0 };
	struct events ev;
	float *w0, *w1, *w2, *da, *db;
	size_t n, n1;

	snprintf(yaml, sizeof yaml, spec_fmt, "A", 2, 2);
	ri = start_round(w, yaml);
	snprintf(round, sizeof round, "%s", ri->round);
	assert_string_equal(ri->state, "running");
	assert_int_equal(ri->round_no, 1);
	assert_int_equal(ri->rounds, 2);
	assert_int_equal(ri->min_sites, 2);
	assert_string_equal(ri->researcher, "alice");
	assert_string_equal(ri->name, "chest x-ray A");
	assert_true(ri->deadline >= (int64_t)time(NULL) + 55);
	rf_pb_free(&ri->base);

	/* both sites are offered the round, signed by the audit key */
	t = next_task(w->a, 5000);
	assert_int_equal(t->kind, RADFED__TASK__KIND__OFFER);
	assert_string_equal(t->round, round);
	assert_string_equal(t->researcher, "alice");
	RF_ASSERT_OK(rf_sha256(t->spec_json, strlen(t->spec_json), dig, NULL));
	RF_ASSERT_OK(rf_hex_encode(dig, sizeof dig, hex, sizeof hex, NULL));
	assert_string_equal(t->spec_sha256, hex);
	snprintf(msg, sizeof msg, "radfed.round.v1\n%s\n%s\nalice", round, hex);
	assert_int_equal(t->spec_signature.len, 64);
	RF_ASSERT_OK(rf_ed25519_verify(w->ctx->audit_key, msg, strlen(msg),
				       t->spec_signature.data, NULL));
	rf_pb_free(&t->base);
	/* asking again offers it again (not decided yet) */
	t = next_task(w->a, 0);
	assert_int_equal(t->kind, RADFED__TASK__KIND__OFFER);
	rf_pb_free(&t->base);
	t = next_task(w->b, 5000);
	assert_int_equal(t->kind, RADFED__TASK__KIND__OFFER);
	rf_pb_free(&t->base);

	RF_ASSERT_OK_E(decide(w->a, round, 1, policy_hash, &e), &e);
	/* the same answer again is fine, another one is not */
	RF_ASSERT_OK_E(decide(w->a, round, 1, policy_hash, &e), &e);
	RF_ASSERT_RC(decide(w->a, round, 0, policy_hash, &e), RF_EPOLICY);
	RF_ASSERT_RC(decide(w->a, round, 1, "xyz", &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "policy_sha256"));
	RF_ASSERT_RC(decide(w->a, "12x", 1, policy_hash, &e), RF_EINVAL);
	RF_ASSERT_RC(decide(w->a, "999", 1, policy_hash, &e), RF_ENOTFOUND);
	RF_ASSERT_OK_E(decide(w->b, round, 1, policy_hash, &e), &e);

	/* iteration 1: the global model is model 0 */
	t = next_task(w->a, 5000);
	assert_int_equal(t->kind, RADFED__TASK__KIND__TRAIN);
	assert_int_equal(t->round_no, 1);
	snprintf(h0, sizeof h0, "%s", t->model_sha256);
	snprintf(p0, sizeof p0, "%s/model0.h5", w->root);
	RF_ASSERT_RC(get_model(w->a, round, 2, p0, hex, &e), RF_EPOLICY);
	RF_ASSERT_OK_E(get_model(w->a, round, 1, p0, hex, &e), &e);
	assert_string_equal(hex, h0);
	{
		struct stat sb;

		assert_int_equal(stat(p0, &sb), 0);
		assert_int_equal(t->model_bytes, (uint64_t)sb.st_size);
	}
	/* a model damaged on the aggregator's disk (same size) is refused
	 * by the aggregator itself, which hashes what it sends; the
	 * receiver keeps what it had and no model.sent is written */
	{
		char mp[1024];
		struct rf_buf m = RF_BUF_INIT(64u << 20);
		uint8_t was;

		snprintf(mp, sizeof mp, "%s/rounds/%s/model-0.h5", w->agg,
			 round);
		RF_ASSERT_OK(rf_file_read(mp, &m, NULL));
		was = m.data[m.len / 2];
		m.data[m.len / 2] ^= 0x01;
		RF_ASSERT_OK(rf_file_write_atomic(mp, m.data, m.len, 0600,
						  NULL));
		RF_ASSERT_RC(get_model(w->a, round, 1, p0, hex, &e),
			     RF_EINTEGRITY);
		assert_non_null(strstr(e.msg, "no longer hashes to"));
		m.data[m.len / 2] = was;
		RF_ASSERT_OK(rf_file_write_atomic(mp, m.data, m.len, 0600,
						  NULL));
		rf_buf_release(&m);
		RF_ASSERT_OK_E(rf_chunk_hash_file(p0, NULL, hex, NULL, &e),
			       &e);
		assert_string_equal(hex, h0);
	}
	rf_pb_free(&t->base);
	w0 = model_flat(w, p0, &n);
	da = malloc(n * sizeof *da);
	db = malloc(n * sizeof *db);
	assert_true(da && db);
	make_deltas(da, db, n);

	memset(&uo, 0, sizeof uo);
	uo.round = round;
	uo.round_no = 1;
	uo.samples = 3;
	uo.base_sha256 = h0;
	uo.delta = da;
	uo.n = n;
	/* refused: wrong size, wrong iteration, bad hash, stale base,
	 * metrics that are not an object; those refused at the header are
	 * sent without their chunks (the server answers before reading
	 * them) */
	uo.header_only = 1;
	uo.total_adjust = -4;
	RF_ASSERT_RC(upload(w->a, &uo, &rr, &e), RF_EINVAL);
	assert_non_null(strstr(e.msg, "total_bytes"));
	uo.total_adjust = 0;
	uo.round_no = 2;
	RF_ASSERT_RC(upload(w->a, &uo, &rr, &e), RF_EPOLICY);
	assert_non_null(strstr(e.msg, "round_no"));
	uo.round_no = 1;
	uo.base_sha256 = policy_hash;
	RF_ASSERT_RC(upload(w->a, &uo, &rr, &e), RF_EPOLICY);
	assert_non_null(strstr(e.msg, "base_sha256"));
	uo.base_sha256 = h0;
	uo.metrics = "[1]";
	RF_ASSERT_RC(upload(w->a, &uo, &rr, &e), RF_EINVAL);
	uo.metrics = NULL;
	uo.header_only = 0;
	uo.wrong_sha = 1;
	RF_ASSERT_RC(upload(w->a, &uo, &rr, &e), RF_EINTEGRITY);
	uo.wrong_sha = 0;
	/* accepted, then the same again is a duplicate, another is not */
	RF_ASSERT_OK_E(upload(w->a, &uo, &rr, &e), &e);
	assert_int_equal(rr->duplicate, 0);
	assert_int_equal(rr->bytes, n * 4);
	RF_ASSERT_OK(rf_sha256(da, n * 4, dig, NULL));
	RF_ASSERT_OK(rf_hex_encode(dig, sizeof dig, hex, sizeof hex, NULL));
	assert_string_equal(rr->sha256, hex);
	rf_pb_free(&rr->base);
	RF_ASSERT_OK_E(upload(w->a, &uo, &rr, &e), &e);
	assert_int_equal(rr->duplicate, 1);
	rf_pb_free(&rr->base);
	uo.delta = db;
	uo.header_only = 1;
	RF_ASSERT_RC(upload(w->a, &uo, &rr, &e), RF_EEXIST);
	uo.header_only = 0;
	/* site-a has nothing more to do in this iteration */
	t = next_task(w->a, 0);
	assert_int_equal(t->kind, RADFED__TASK__KIND__NONE);
	rf_pb_free(&t->base);

	/* the status shows who uploaded */
	st = status(w, round);
	ri = st->rounds[0];
	assert_int_equal(ri->n_sites, 2);
	assert_string_equal(ri->sites[0]->site, "site-a");
	assert_string_equal(ri->sites[0]->state, "uploaded");
	assert_string_equal(ri->sites[0]->policy_sha256, policy_hash);
	assert_string_equal(ri->sites[1]->state, "accepted");
	assert_int_equal(ri->n_iterations, 1);
	assert_int_equal(ri->iterations[0]->n_updates, 1);
	assert_int_equal(ri->iterations[0]->updates[0]->samples, 3);
	assert_string_equal(ri->iterations[0]->updates[0]->sha256, hex);
	assert_string_equal(ri->iterations[0]->model_sha256, "");
	rf_pb_free(&st->base);

	/* site-b's update completes the iteration: the engine aggregates */
	uo.samples = 1;
	RF_ASSERT_OK_E(upload(w->b, &uo, &rr, &e), &e);
	rf_pb_free(&rr->base);
	st = wait_for(w, round, "running", 2);
	ri = st->rounds[0];
	assert_int_equal(ri->iterations[0]->n_updates, 2);
	snprintf(h1, sizeof h1, "%s", ri->iterations[0]->model_sha256);
	assert_string_equal(ri->model_sha256, h1);
	rf_pb_free(&st->base);

	t = next_task(w->b, 5000);
	assert_int_equal(t->kind, RADFED__TASK__KIND__TRAIN);
	assert_int_equal(t->round_no, 2);
	assert_string_equal(t->model_sha256, h1);
	rf_pb_free(&t->base);
	snprintf(p1, sizeof p1, "%s/model1.h5", w->root);
	RF_ASSERT_OK_E(get_model(w->b, round, 2, p1, hex, &e), &e);
	assert_string_equal(hex, h1);
	w1 = model_flat(w, p1, &n1);
	assert_int_equal(n1, n);
	check_fedavg(w0, w1, da, 3, db, 1, n);

	/* iteration 2, the last: the other way round */
	uo.round_no = 2;
	uo.base_sha256 = h1;
	uo.delta = db;
	uo.samples = 2;
	RF_ASSERT_OK_E(upload(w->a, &uo, &rr, &e), &e);
	rf_pb_free(&rr->base);
	uo.delta = da;
	uo.samples = 5;
	RF_ASSERT_OK_E(upload(w->b, &uo, &rr, &e), &e);
	rf_pb_free(&rr->base);
	st = wait_for(w, round, "done", 2);
	ri = st->rounds[0];
	assert_int_equal(ri->n_iterations, 2);
	assert_string_equal(ri->iterations[0]->model_sha256, h1);
	assert_string_not_equal(ri->iterations[1]->model_sha256, "");
	snprintf(px, sizeof px, "%s", ri->iterations[1]->model_sha256);
	rf_pb_free(&st->base);

	/* the researcher exports the latest model and model 0 */
	snprintf(p2, sizeof p2, "%s/model2.h5", w->root);
	RF_ASSERT_OK_E(export_model(w, round, 0, 1, p2, hex, &e), &e);
	assert_string_equal(hex, px);
	w2 = model_flat(w, p2, &n1);
	check_fedavg(w1, w2, db, 2, da, 5, n);
	RF_ASSERT_OK_E(export_model(w, round, 0, 0, p0, hex, &e), &e);
	assert_string_equal(hex, h0);
	RF_ASSERT_RC(export_model(w, round, 3, 0, p0, hex, &e), RF_ENOTFOUND);
	/* watching an ended round: its status, then the end of the stream */
	{
		Radfed__RoundStatusRequest q =
		    RADFED__ROUND_STATUS_REQUEST__INIT;
		struct rf_buf b = RF_BUF_INIT(1024);
		struct watch wa = { 0, "" };

		q.round = round;
		RF_ASSERT_OK(rf_pb_pack(&q.base, &b, NULL));
		RF_ASSERT_OK_E(rf_rpc_client_server_stream(
				   w->r, AGG_WATCH_ROUND_PATH, b.data, b.len,
				   20000, watch_msg, &wa, &e),
			       &e);
		assert_int_equal(wa.messages, 1);
		assert_string_equal(wa.last_state, "done");
		rf_buf_release(&b);
	}
	/* a site may not call the researcher's methods */
	RF_ASSERT_RC(get_model(w->r, round, 2, p0, hex, &e), RF_EAUTH);
	/* no more work for the sites */
	t = next_task(w->a, 0);
	assert_int_equal(t->kind, RADFED__TASK__KIND__NONE);
	rf_pb_free(&t->base);

	audit_events(w, "aggregated", &ev);
	assert_int_equal(count_of(ev.list, "round.started"), 1);
	assert_int_equal(count_of(ev.list, "round.offer"), 2);
	assert_int_equal(count_of(ev.list, "round.decision"), 2);
	assert_int_equal(count_of(ev.list, "model.sent"), 2);
	assert_int_equal(count_of(ev.list, "update.received"), 4);
	assert_int_equal(count_of(ev.list, "update.rejected"), 6);
	assert_int_equal(count_of(ev.list, "aggregated"), 2);
	assert_int_equal(count_of(ev.list, "round.done"), 1);
	assert_int_equal(count_of(ev.list, "export"), 2);
	assert_non_null(strstr(ev.data, "\"sites\":[\"site-a\",\"site-b\"]"));
	assert_non_null(strstr(ev.data, px));
	audit_events(w, "update.received", &ev);
	snprintf(msg, sizeof msg, "\"bytes\":%zu", n * 4);
	assert_non_null(strstr(ev.data, msg));
	assert_non_null(strstr(ev.data, "\"site\":\"site-b\""));
	assert_non_null(strstr(ev.data, "\"samples\":5"));
	assert_non_null(strstr(ev.data, "\"kind\":\"delta\""));
	free(w0);
	free(w1);
	free(w2);
	free(da);
	free(db);
}

/* A decline, a decision on a round never offered, and a deadline that
 * passes with fewer sites than the spec requires: the round fails. */
static void test_decline_and_deadline(void **state)
{
	struct world *w = *state;
	char yaml[1024], round[24], h0[AGG_HEX256_SIZE];
	Radfed__RoundInfo *ri;
	Radfed__RoundStatusReply *st;
	Radfed__Task *t;
	Radfed__UploadReceipt *rr = NULL;
	struct upload_opts uo;
	struct rf_err e = { 0 };
	struct events ev;
	float *d;
	size_t n = 0;

	snprintf(yaml, sizeof yaml, spec_fmt, "B", 3, 2);
	ri = start_round(w, yaml);
	snprintf(round, sizeof round, "%s", ri->round);
	rf_pb_free(&ri->base);
	/* site-b has not been offered the round yet */
	RF_ASSERT_RC(decide(w->b, round, 0, policy_hash, &e), RF_EPOLICY);
	assert_non_null(strstr(e.msg, "not offered"));
	t = next_task(w->b, 5000);
	assert_int_equal(t->kind, RADFED__TASK__KIND__OFFER);
	rf_pb_free(&t->base);
	RF_ASSERT_OK_E(decide(w->b, round, 0, policy_hash, &e), &e);
	t = next_task(w->b, 0);
	assert_int_equal(t->kind, RADFED__TASK__KIND__NONE);
	rf_pb_free(&t->base);
	/* a declining site gets no model */
	RF_ASSERT_RC(get_model(w->b, round, 1, "/dev/null", h0, &e),
		     RF_EPOLICY);

	t = next_task(w->a, 5000);
	assert_int_equal(t->kind, RADFED__TASK__KIND__OFFER);
	rf_pb_free(&t->base);
	RF_ASSERT_OK_E(decide(w->a, round, 1, policy_hash, &e), &e);
	t = next_task(w->a, 5000);
	assert_int_equal(t->kind, RADFED__TASK__KIND__TRAIN);
	snprintf(h0, sizeof h0, "%s", t->model_sha256);
	rf_pb_free(&t->base);
	/* cnn-small 1x64x64 with 2 classes, as in the first test */
	{
		char p[900];
		float *w0;

		snprintf(p, sizeof p, "%s/modelB.h5", w->root);
		RF_ASSERT_OK_E(get_model(w->a, round, 1, p, h0, &e), &e);
		w0 = model_flat(w, p, &n);
		free(w0);
	}
	d = calloc(n, sizeof *d);
	assert_non_null(d);
	memset(&uo, 0, sizeof uo);
	uo.round = round;
	uo.round_no = 1;
	uo.samples = 10;
	uo.base_sha256 = h0;
	uo.delta = d;
	uo.n = n;
	RF_ASSERT_OK_E(upload(w->a, &uo, &rr, &e), &e);
	rf_pb_free(&rr->base);
	/* one of the two sites required: nothing happens before the
	 * deadline */
	sleep_ms(600);
	st = status(w, round);
	assert_string_equal(st->rounds[0]->state, "running");
	assert_int_equal(st->rounds[0]->n_sites, 2);
	assert_string_equal(st->rounds[0]->sites[1]->state, "declined");
	rf_pb_free(&st->base);
	/* an hour later */
	atomic_fetch_add(&w->skew, 3600);
	st = wait_for(w, round, "failed", 1);
	assert_non_null(strstr(st->rounds[0]->error, "deadline"));
	assert_non_null(strstr(st->rounds[0]->error, "1 of the 2"));
	rf_pb_free(&st->base);
	/* the recorded update, sent again, still gets its receipt */
	RF_ASSERT_OK_E(upload(w->a, &uo, &rr, &e), &e);
	assert_true(rr->duplicate);
	rf_pb_free(&rr->base);
	/* anything new for a failed round is refused */
	uo.round_no = 2;
	uo.header_only = 1;
	RF_ASSERT_RC(upload(w->a, &uo, &rr, &e), RF_EPOLICY);
	assert_non_null(strstr(e.msg, "failed"));
	t = next_task(w->a, 0);
	assert_int_equal(t->kind, RADFED__TASK__KIND__NONE);
	rf_pb_free(&t->base);
	audit_events(w, "round.failed", &ev);
	assert_int_equal(count_of(ev.list, "round.failed"), 1);
	assert_non_null(strstr(ev.data, "\"round\":\""));
	assert_non_null(strstr(ev.data, "deadline"));
	audit_events(w, "round.decision", &ev);
	assert_non_null(strstr(ev.data, "\"accepted\":true"));
	free(d);
}

/* The engine stops in the middle of an iteration (server destroyed with
 * one update recorded) and starts again over the same folder: the update
 * is still there, a repeat of it is a duplicate, and the second site's
 * update completes the iteration. */
static void test_restart_keeps_updates(void **state)
{
	struct world *w = *state;
	char yaml[1024], round[24], h0[AGG_HEX256_SIZE], p0[900], p1[900];
	char hex[AGG_HEX256_SIZE];
	Radfed__RoundInfo *ri;
	Radfed__RoundStatusReply *st;
	Radfed__Task *t;
	Radfed__UploadReceipt *rr = NULL;
	struct upload_opts uo;
	struct rf_err e = { 0 };
	struct events ev;
	float *w0, *w1, *da, *db;
	size_t n = 0;

	snprintf(yaml, sizeof yaml, spec_fmt, "C", 1, 2);
	ri = start_round(w, yaml);
	snprintf(round, sizeof round, "%s", ri->round);
	rf_pb_free(&ri->base);
	for (int i = 0; i < 2; i++) {
		struct rf_rpc_client *c = i ? w->b : w->a;

		t = next_task(c, 5000);
		assert_int_equal(t->kind, RADFED__TASK__KIND__OFFER);
		assert_string_equal(t->round, round);
		rf_pb_free(&t->base);
		RF_ASSERT_OK_E(decide(c, round, 1, policy_hash, &e), &e);
	}
	t = next_task(w->a, 5000);
	assert_int_equal(t->kind, RADFED__TASK__KIND__TRAIN);
	snprintf(h0, sizeof h0, "%s", t->model_sha256);
	rf_pb_free(&t->base);
	snprintf(p0, sizeof p0, "%s/modelC0.h5", w->root);
	RF_ASSERT_OK_E(get_model(w->a, round, 1, p0, hex, &e), &e);
	w0 = model_flat(w, p0, &n);
	da = malloc(n * sizeof *da);
	db = malloc(n * sizeof *db);
	assert_true(da && db);
	make_deltas(da, db, n);
	memset(&uo, 0, sizeof uo);
	uo.round = round;
	uo.round_no = 1;
	uo.samples = 4;
	uo.base_sha256 = h0;
	uo.delta = da;
	uo.n = n;
	RF_ASSERT_OK_E(upload(w->a, &uo, &rr, &e), &e);
	rf_pb_free(&rr->base);

	agg_server_destroy(w->srv);
	w->srv = NULL;
	server_start(w);

	st = status(w, round);
	ri = st->rounds[0];
	assert_string_equal(ri->state, "running");
	assert_int_equal(ri->round_no, 1);
	assert_int_equal(ri->iterations[0]->n_updates, 1);
	assert_string_equal(ri->iterations[0]->updates[0]->site, "site-a");
	rf_pb_free(&st->base);
	RF_ASSERT_OK_E(upload(w->a, &uo, &rr, &e), &e);
	assert_int_equal(rr->duplicate, 1);
	rf_pb_free(&rr->base);
	t = next_task(w->b, 5000);
	assert_int_equal(t->kind, RADFED__TASK__KIND__TRAIN);
	assert_string_equal(t->model_sha256, h0);
	rf_pb_free(&t->base);
	uo.delta = db;
	uo.samples = 6;
	RF_ASSERT_OK_E(upload(w->b, &uo, &rr, &e), &e);
	rf_pb_free(&rr->base);
	st = wait_for(w, round, "done", 1);
	rf_pb_free(&st->base);
	snprintf(p1, sizeof p1, "%s/modelC1.h5", w->root);
	RF_ASSERT_OK_E(export_model(w, round, 0, 1, p1, hex, &e), &e);
	w1 = model_flat(w, p1, &n);
	check_fedavg(w0, w1, da, 4, db, 6, n);
	audit_events(w, "aggregated", &ev);
	assert_non_null(strstr(ev.data, "\"round_no\":1"));
	assert_non_null(strstr(ev.data, "\"sites\":[\"site-a\",\"site-b\"]"));
	free(w0);
	free(w1);
	free(da);
	free(db);
}

/* A running round whose model file went missing while the server was down
 * fails alone at the restart; the server serves the rest. */
static void test_unloadable_round_fails_alone(void **state)
{
	struct world *w = *state;
	char yaml[1024], round[24], p[900];
	Radfed__RoundInfo *ri;
	Radfed__RoundStatusReply *st;
	Radfed__Task *t;
	struct events ev;

	snprintf(yaml, sizeof yaml, spec_fmt, "D", 1, 1);
	ri = start_round(w, yaml);
	snprintf(round, sizeof round, "%s", ri->round);
	rf_pb_free(&ri->base);
	agg_server_destroy(w->srv);
	w->srv = NULL;
	snprintf(p, sizeof p, "%s/rounds/%s/model-0.h5", w->agg, round);
	assert_int_equal(unlink(p), 0);
	server_start(w);
	st = status(w, round);
	assert_string_equal(st->rounds[0]->state, "failed");
	assert_non_null(strstr(st->rounds[0]->error, "cannot resume"));
	rf_pb_free(&st->base);
	t = next_task(w->a, 0);
	assert_int_equal(t->kind, RADFED__TASK__KIND__NONE);
	rf_pb_free(&t->base);
	audit_events(w, "round.failed", &ev);
	assert_non_null(strstr(ev.data, "cannot resume"));
}

/* Hostile requests: a spec that does not parse, a strategy parameter the
 * strategy does not take, garbage instead of a message. */
static void test_bad_requests(void **state)
{
	struct world *w = *state;
	Radfed__StartRoundRequest q = RADFED__START_ROUND_REQUEST__INIT;
	struct rf_buf resp = RF_BUF_INIT(RF_RPC_MSG_MAX);
	ProtobufCMessage *m = NULL;
	struct rf_err e = { 0 };
	static const uint8_t junk[] = { 0x0a, 0xff, 0xff, 0xff };

	q.spec_yaml = (char *)"name: x\nmodel: no-such-model\n";
	RF_ASSERT_RC(call_unary(w->r, AGG_START_ROUND_PATH, &q.base,
				&radfed__round_info__descriptor, &m, &e),
		     RF_EINVAL);
	assert_non_null(strstr(e.msg, "spec_yaml"));
	q.spec_yaml = (char *)"name: x\nmodel: cnn-small\ninput: 1x64x64\n"
			      "labels: [a, b]\n"
			      "strategy: {name: fedavg, params: {etta: 1}}\n";
	RF_ASSERT_RC(call_unary(w->r, AGG_START_ROUND_PATH, &q.base,
				&radfed__round_info__descriptor, &m, &e),
		     RF_EINVAL);
	assert_non_null(strstr(e.msg, "etta"));
	RF_ASSERT_RC(rf_rpc_client_unary(w->r, AGG_START_ROUND_PATH, junk,
					 sizeof junk, 10000, &resp, &e),
		     RF_EINVAL);
	RF_ASSERT_RC(rf_rpc_client_unary(w->a, AGG_NEXT_TASK_PATH, junk,
					 sizeof junk, 10000, &resp, &e),
		     RF_EINVAL);
	/* a researcher does not get site tasks */
	RF_ASSERT_RC(rf_rpc_client_unary(w->r, AGG_NEXT_TASK_PATH, "", 0, 10000,
					 &resp, &e),
		     RF_EAUTH);
	rf_buf_release(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_fedavg),
		cmocka_unit_test(test_decline_and_deadline),
		cmocka_unit_test(test_restart_keeps_updates),
		cmocka_unit_test(test_unloadable_round_fails_alone),
		cmocka_unit_test(test_bad_requests),
	};

	return cmocka_run_group_tests(tests, world_setup, world_teardown);
}
