/* agg_round.c - the round engine: state, the aggregation thread, the
 * files of a round (see agg_round.h). The RPC handlers are in
 * agg_round_rpc.c. */
#include "agg_round_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agg_strategy.h"
#include "rf_alloc.h"
#include "rf_audit_events.h"
#include "rf_chunk.h"
#include "rf_file.h"
#include "rf_log.h"
#include "trn.h"
#include "trn_ckpt.h"

/* ---- small helpers ------------------------------------------------------- */

void agg__abstime(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void agg__log(struct agg_rounds *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!r->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	r->log(r->log_ctx, line);
}

enum rf_rc agg__round_path(const struct agg_rounds *r, int64_t id,
			   const char *leaf, char *out, size_t size,
			   struct rf_err *e)
{
	int n;

	if (leaf)
		n = snprintf(out, size, "%s/rounds/%" PRId64 "/%s", r->c->dir,
			     id, leaf);
	else
		n = snprintf(out, size, "%s/rounds/%" PRId64, r->c->dir, id);
	if (n < 0 || (size_t)n >= size)
		return rf_err_set(e, RF_ETOOBIG,
				  "path of round %" PRId64 " too long", id);
	return RF_OK;
}

enum rf_rc agg__model_path(const struct agg_rounds *r, int64_t id,
			   int64_t round_no, char *out, size_t size,
			   struct rf_err *e)
{
	char leaf[48];

	snprintf(leaf, sizeof leaf, "model-%" PRId64 ".h5", round_no);
	return agg__round_path(r, id, leaf, out, size, e);
}

static enum rf_rc strategy_path(const struct agg_rounds *r, int64_t id,
				int64_t round_no, char *out, size_t size,
				struct rf_err *e)
{
	char leaf[48];

	snprintf(leaf, sizeof leaf, "strategy-%" PRId64 ".h5", round_no);
	return agg__round_path(r, id, leaf, out, size, e);
}

enum rf_rc agg__delta_path(const struct agg_rounds *r, int64_t id,
			   int64_t round_no, const char *site, char *out,
			   size_t size, struct rf_err *e)
{
	char leaf[AGG_NAME_MAX + 48];

	snprintf(leaf, sizeof leaf, "%" PRId64 "/%s.delta", round_no, site);
	return agg__round_path(r, id, leaf, out, size, e);
}

/* JSON members for audit data, appended to b. */
enum rf_rc agg__json_str(struct rf_buf *b, const char *key, const char *val,
			 struct rf_err *e)
{
	enum rf_rc rc = RF_OK;

	if (b->len > 1)
		rc = rf_buf_putc(b, ',', e);
	if (!rc)
		rc = rf_json_quote(b, key, strlen(key), e);
	if (!rc)
		rc = rf_buf_putc(b, ':', e);
	if (!rc)
		rc = rf_json_quote(b, val, strlen(val), e);
	return rc;
}

enum rf_rc agg__json_raw(struct rf_buf *b, const char *key, const char *raw,
			 struct rf_err *e)
{
	enum rf_rc rc = RF_OK;

	if (b->len > 1)
		rc = rf_buf_putc(b, ',', e);
	if (!rc)
		rc = rf_json_quote(b, key, strlen(key), e);
	if (!rc)
		rc = rf_buf_printf(b, e, ":%s", raw);
	return rc;
}

enum rf_rc agg__json_int(struct rf_buf *b, const char *key, int64_t v,
			 struct rf_err *e)
{
	char num[32];

	snprintf(num, sizeof num, "%" PRId64, v);
	return agg__json_raw(b, key, num, e);
}

/* ---- live rounds --------------------------------------------------------- */

struct agg__site *agg__site_find(struct agg__live *l, const char *name)
{
	for (size_t i = 0; i < l->nsites; i++)
		if (strcmp(l->sites[i].name, name) == 0)
			return &l->sites[i];
	return NULL;
}

struct agg__site *agg__site_add(struct agg__live *l, const char *name,
				enum agg_part_state st)
{
	struct agg__site *s;

	if (l->nsites == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct agg__site *p = rf_realloc(l->sites, cap * sizeof *p);

		if (!p)
			return NULL;
		l->sites = p;
		l->cap = cap;
	}
	s = &l->sites[l->nsites];
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", name);
	s->st = st;
	l->nsites++;
	return s;
}

size_t agg__uploads(const struct agg__live *l, size_t *accepted)
{
	size_t n = 0, acc = 0;

	for (size_t i = 0; i < l->nsites; i++) {
		if (l->sites[i].st == AGG_PART_ACCEPTED)
			acc++;
		if (l->sites[i].uploaded)
			n++;
	}
	if (accepted)
		*accepted = acc;
	return n;
}

static void live_free(struct agg__live *l)
{
	if (!l)
		return;
	pol_spec_destroy(l->spec);
	rf_free(l->spec_json);
	rf_free(l->sites);
	rf_free(l);
}

struct agg__live *agg__live_find(struct agg_rounds *r, int64_t id)
{
	for (struct agg__live *l = r->live; l; l = l->next)
		if (l->id == id)
			return l;
	return NULL;
}

/* Unlinks and frees l (mutex held). */
static void live_remove(struct agg_rounds *r, struct agg__live *l)
{
	struct agg__live **pp = &r->live;

	while (*pp && *pp != l)
		pp = &(*pp)->next;
	if (*pp)
		*pp = l->next;
	live_free(l);
}

/* Inserts l in id order (mutex held). */
static void live_insert(struct agg_rounds *r, struct agg__live *l)
{
	struct agg__live **pp = &r->live;

	while (*pp && (*pp)->id < l->id)
		pp = &(*pp)->next;
	l->next = *pp;
	*pp = l;
}

void agg__changed(struct agg_rounds *r)
{
	r->gen++;
	pthread_cond_broadcast(&r->cv);
}

/* Builds the net of spec (HDF5 lock held by the caller): for model 0 and
 * to know the parameter count. */
enum rf_rc agg__net_build(const struct pol_spec *spec, struct trn_net **net,
			  struct trn_ckpt_meta *meta, struct rf_err *e)
{
	const struct trn_model_vtable *vt = trn_model_find(spec->model);
	struct trn_model_spec ms;

	*net = NULL;
	if (!vt)
		return rf_err_set(e, RF_EINVAL, "unknown model '%s'",
				  spec->model);
	memset(&ms, 0, sizeof ms);
	ms.channels = spec->channels;
	ms.height = spec->height;
	ms.width = spec->width;
	ms.classes = (unsigned)spec->nlabels;
	memset(meta, 0, sizeof *meta);
	snprintf(meta->model, sizeof meta->model, "%s", vt->name);
	meta->arch_version = vt->arch_version;
	meta->channels = spec->channels;
	meta->height = spec->height;
	meta->width = spec->width;
	meta->classes = (unsigned)spec->nlabels;
	return trn_model_build(spec->model, &ms, 1, TRN_LOSS_SOFTMAX_CE, NULL,
			       (uint64_t)spec->seed, net, e);
}

struct load_ctx {
	struct agg__live *l;
	enum rf_rc rc;
};

static enum rf_rc load_part(const struct agg_participant *p, void *ctx,
			    struct rf_err *e)
{
	struct load_ctx *lc = ctx;
	enum agg_part_state st = p->state;
	struct agg__site *s;

	/* "uploaded" and "dropped" are per-iteration facts kept in the
	 * updates table: a site that took part is an accepted one */
	if (st == AGG_PART_UPLOADED || st == AGG_PART_DROPPED)
		st = AGG_PART_ACCEPTED;
	s = agg__site_add(lc->l, p->site, st);
	if (!s)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	snprintf(s->policy, sizeof s->policy, "%s", p->policy_sha256);
	return RF_OK;
}

static enum rf_rc load_update(const struct agg_update *u, void *ctx,
			      struct rf_err *e)
{
	struct load_ctx *lc = ctx;
	struct agg__site *s = agg__site_find(lc->l, u->site);

	if (!s)
		s = agg__site_add(lc->l, u->site, AGG_PART_ACCEPTED);
	if (!s)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	s->uploaded = 1;
	memcpy(s->sha, u->sha256, sizeof s->sha);
	s->samples = (uint64_t)u->samples;
	s->bytes = (uint64_t)u->bytes;
	return RF_OK;
}

/* Loads running round id from the registry into a new live round (no
 * engine mutex needed: touches nothing shared but HDF5, under its lock). */
enum rf_rc agg__live_load(struct agg_rounds *r, int64_t id,
			  struct agg__live **out, struct rf_err *e)
{
	struct agg_round rd;
	struct agg__live *l = NULL;
	struct trn_net *net = NULL;
	struct trn_ckpt_meta meta;
	struct load_ctx lc;
	struct stat sb;
	char path[AGG_PATH_MAX];
	struct trn_param *params;
	enum rf_rc rc;
	size_t np;

	*out = NULL;
	rc = agg_registry_round_get(r->c->reg, id, &rd, e);
	if (rc)
		return rc;
	if (!rd.spec_json || !rd.has_signature || rd.round_no < 1) {
		rc = rf_err_set(e, RF_EPROTO,
				"round %" PRId64 " has no canonical spec or "
				"signature (recorded by an older radfed)",
				id);
		goto out;
	}
	l = rf_calloc(1, sizeof *l);
	if (!l) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto out;
	}
	l->id = id;
	snprintf(l->idstr, sizeof l->idstr, "%" PRId64, id);
	rc = pol_spec_parse(&l->spec, "spec", rd.spec_json,
			    strlen(rd.spec_json), e);
	if (rc)
		goto out;
	l->spec_json = rf_strdup(rd.spec_json);
	if (!l->spec_json) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(l->spec_sha, rd.spec_sha256, sizeof l->spec_sha);
	memcpy(l->sig, rd.signature, sizeof l->sig);
	memcpy(l->researcher, rd.researcher, sizeof l->researcher);
	l->round_no = rd.round_no;
	l->deadline = rd.deadline;
	memcpy(l->model_sha, rd.model_sha256, sizeof l->model_sha);
	rc = agg__model_path(r, id, l->round_no - 1, path, sizeof path, e);
	if (rc)
		goto out;
	if (stat(path, &sb) != 0) {
		rc = rf_err_set(e, RF_EIO, "cannot stat '%s': %s", path,
				strerror(errno));
		goto out;
	}
	l->model_bytes = (uint64_t)sb.st_size;
	agg_rounds_hdf5_lock(r);
	rc = agg__net_build(l->spec, &net, &meta, e);
	if (!rc) {
		params = trn_net_params(net, &np);
		l->nfloat = trn_flat_count(params, np);
	}
	trn_net_destroy(net);
	agg_rounds_hdf5_unlock(r);
	if (rc)
		goto out;
	lc.l = l;
	lc.rc = RF_OK;
	rc = agg_registry_participants(r->c->reg, id, load_part, &lc, e);
	if (!rc)
		rc = agg_registry_updates(r->c->reg, id, l->round_no,
					  load_update, &lc, e);
out:
	if (rc) {
		rf_err_prefix(e, "round %" PRId64, id);
		live_free(l);
		l = NULL;
	}
	agg_round_release(&rd);
	*out = l;
	return rc;
}

/* ---- the end of a round -------------------------------------------------- */

/* Marks l failed with reason (mutex held), audits, removes it. */
void agg__fail(struct agg_rounds *r, struct agg__live *l, const char *reason)
{
	struct agg_round_change c;
	struct rf_buf d = RF_BUF_INIT(4096);
	struct rf_err e = { 0 };
	char why[AGG_ERROR_MAX + 1];

	snprintf(why, sizeof why, "%s", reason);
	memset(&c, 0, sizeof c);
	c.state = "failed";
	c.round_no = -1;
	c.error = why;
	if (agg_registry_round_set_state(r->c->reg, l->id, "running", &c,
					 agg_ctx_now(r->c), &e))
		agg__log(r, "round %s: cannot record its failure: %s", l->idstr,
			 e.msg);
	if (!rf_buf_putc(&d, '{', &e) &&
	    !agg__json_str(&d, RF_AUDIT_KEY_ROUND, l->idstr, &e) &&
	    !agg__json_int(&d, RF_AUDIT_KEY_ROUND_NO, l->round_no, &e) &&
	    !agg__json_str(&d, RF_AUDIT_KEY_REASON, why, &e) &&
	    !rf_buf_putc(&d, '}', &e))
		(void)!agg_ctx_audit(r->c, RF_AUDIT_EV_ROUND_FAILED,
				     rf_buf_str(&d), &e);
	rf_buf_release(&d);
	agg__log(r, "round %s failed at iteration %" PRId64 ": %s", l->idstr,
		 l->round_no, why);
	live_remove(r, l);
	agg__changed(r);
}

/* ---- aggregation --------------------------------------------------------- */

struct contrib {
	char site[AGG_NAME_MAX + 1];
	char sha[AGG_HEX256_SIZE];
	uint64_t samples;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Reads up to n bytes (fewer only at the end of the file). */
static ssize_t read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t m = read(fd, p + got, n - got);

		if (m < 0 && errno == EINTR)
			continue;
		if (m < 0)
			return -1;
		if (m == 0)
			break;
		got += (size_t)m;
	}
	return (ssize_t)got;
}

/* Reads the delta file of a contribution into delta[n], checking its size
 * and its SHA-256 against the recorded one. */
static enum rf_rc read_delta(const char *path, const struct contrib *k,
			     float *delta, size_t n, uint8_t *buf,
			     size_t bufsize, struct rf_err *e)
{
	struct rf_sha256_ctx h;
	uint8_t dig[RF_SHA256_LEN];
	char hex[AGG_HEX256_SIZE];
	size_t got = 0, want = n * 4;
	enum rf_rc rc;
	ssize_t m;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rf_err_set(e, RF_EIO, "cannot open '%s': %s", path,
				  strerror(errno));
	rc = rf_sha256_init(&h, e);
	while (!rc && got < want) {
		size_t ask = want - got < bufsize ? want - got : bufsize;

		m = read_full(fd, buf, ask);
		if (m < 0) {
			rc = rf_err_set(e, RF_EIO, "cannot read '%s': %s", path,
					strerror(errno));
			break;
		}
		if ((size_t)m < ask) {
			rc = rf_err_set(e, RF_EINTEGRITY,
					"'%s' holds %zu bytes, not %zu", path,
					got + (size_t)m, want);
			break;
		}
		rc = rf_sha256_update(&h, buf, ask, e);
		for (size_t i = 0; !rc && i < ask; i += 4) {
			uint32_t u = le32(buf + i);

			memcpy(&delta[(got + i) / 4], &u, 4);
		}
		got += ask;
	}
	if (!rc && read_full(fd, buf, 1) != 0)
		rc = rf_err_set(e, RF_EINTEGRITY,
				"'%s' is longer than %zu bytes", path, want);
	if (!rc)
		rc = rf_sha256_final(&h, dig, e);
	if (!rc)
		rc = rf_hex_encode(dig, sizeof dig, hex, sizeof hex, e);
	if (!rc && strcmp(hex, k->sha) != 0)
		rc = rf_err_set(e, RF_EINTEGRITY,
				"'%s' does not hash to the recorded %s", path,
				k->sha);
	rf_sha256_release(&h);
	close(fd);
	return rc;
}

/* The work of aggregating iteration rno of a round (no engine mutex
 * held): sum, mean, strategy, model rno and strategy-rno written
 * atomically. *sha_out and *bytes_out describe the new model file. */
static enum rf_rc aggregate_files(struct agg_rounds *r, int64_t id,
				  const struct pol_spec *spec, size_t nfloat,
				  int64_t rno, const struct contrib *k,
				  size_t nk, char sha_out[AGG_HEX256_SIZE],
				  uint64_t *bytes_out, struct rf_err *e)
{
	struct agg_param kv[POL_SPEC_PARAMS_MAX];
	struct agg_sum sum;
	struct agg_strategy *st = NULL;
	struct trn_net *net = NULL;
	struct trn_ckpt_meta meta;
	struct trn_param *params;
	uint8_t dig[RF_SHA256_LEN];
	char path[AGG_PATH_MAX];
	float *delta = NULL, *w = NULL;
	uint8_t *buf = NULL;
	size_t np, bufsize = 1u << 20;
	int locked = 0;
	enum rf_rc rc;

	memset(&sum, 0, sizeof sum);
	rc = agg_sum_init(&sum, nfloat, e);
	if (rc)
		goto out;
	delta = rf_mallocarray(nfloat, sizeof *delta);
	w = rf_mallocarray(nfloat, sizeof *w);
	buf = rf_malloc(bufsize);
	if (!delta || !w || !buf) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nk; i++) {
		rc = agg__delta_path(r, id, rno, k[i].site, path, sizeof path,
				     e);
		if (!rc)
			rc = read_delta(path, &k[i], delta, nfloat, buf,
					bufsize, e);
		if (!rc)
			rc = agg_sum_add(&sum, delta, k[i].samples, e);
		if (rc) {
			rf_err_prefix(e, "update of '%s'", k[i].site);
			goto out;
		}
	}
	/* delta now holds the mean */
	rc = agg_sum_mean(&sum, delta, e);
	if (rc)
		goto out;
	for (size_t i = 0; i < spec->nparams; i++) {
		kv[i].name = spec->params[i].name;
		kv[i].value = spec->params[i].value;
	}
	agg_rounds_hdf5_lock(r);
	locked = 1;
	rc = agg__net_build(spec, &net, &meta, e);
	if (rc)
		goto out;
	params = trn_net_params(net, &np);
	if (trn_flat_count(params, np) != nfloat) {
		rc = rf_err_set(e, RF_EINTERNAL, "model size changed");
		goto out;
	}
	rc = agg__model_path(r, id, rno - 1, path, sizeof path, e);
	if (!rc)
		rc = trn_ckpt_load(path, &meta, params, np, e);
	if (rc)
		goto out;
	trn_flat_get(params, np, w);
	rc = agg_strategy_create(pol_strategy_name(spec->strategy), nfloat, kv,
				 spec->nparams, &st, e);
	if (rc)
		goto out;
	if (rno > 1) {
		rc = strategy_path(r, id, rno - 1, path, sizeof path, e);
		if (!rc)
			rc = agg_strategy_state_load(st, path, e);
		if (rc)
			goto out;
	}
	rc = agg_strategy_apply(st, w, delta, (uint64_t)rno, e);
	if (rc)
		goto out;
	trn_flat_set(params, np, w);
	meta.round = rno;
	rc = agg__model_path(r, id, rno, path, sizeof path, e);
	if (!rc)
		rc = trn_ckpt_save(path, &meta, params, np, e);
	if (rc)
		goto out;
	{
		char spath[AGG_PATH_MAX];

		rc = strategy_path(r, id, rno, spath, sizeof spath, e);
		if (!rc)
			rc = agg_strategy_state_save(st, spath, e);
		if (rc)
			goto out;
	}
	agg_rounds_hdf5_unlock(r);
	locked = 0;
	rc = rf_chunk_hash_file(path, dig, sha_out, bytes_out, e);
out:
	if (locked)
		agg_rounds_hdf5_unlock(r);
	if (net || st) {
		agg_rounds_hdf5_lock(r);
		trn_net_destroy(net);
		agg_strategy_destroy(st);
		agg_rounds_hdf5_unlock(r);
	}
	agg_sum_release(&sum);
	if (delta)
		rf_free_secret(delta, nfloat * sizeof *delta);
	rf_free(w);
	rf_free(buf);
	return rc;
}

/* Aggregates or fails live round l (busy, mutex held on entry and exit;
 * released meanwhile). */
static void step(struct agg_rounds *r, struct agg__live *l)
{
	struct contrib *k = NULL;
	struct rf_buf sites = RF_BUF_INIT(AGG_SITES_JSON_MAX);
	struct rf_buf d = RF_BUF_INIT(AGG_SITES_JSON_MAX + 1024);
	struct agg_round_change c;
	struct agg_model m;
	struct rf_err e = { 0 };
	char sha[AGG_HEX256_SIZE], path[AGG_PATH_MAX];
	const struct pol_spec *spec = l->spec;
	int64_t id = l->id, rno = l->round_no, now;
	size_t nk = 0, nfloat = l->nfloat;
	uint64_t bytes = 0;
	enum rf_rc rc;
	int done;

	k = rf_calloc(l->nsites ? l->nsites : 1, sizeof *k);
	if (!k) {
		rc = rf_err_set(&e, RF_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < l->nsites; i++) {
		if (!l->sites[i].uploaded)
			continue;
		memcpy(k[nk].site, l->sites[i].name, sizeof k[nk].site);
		memcpy(k[nk].sha, l->sites[i].sha, sizeof k[nk].sha);
		k[nk].samples = l->sites[i].samples;
		nk++;
	}
	if (nk < (size_t)spec->min_sites || nk == 0) {
		char why[160];

		snprintf(why, sizeof why,
			 "deadline of iteration %" PRId64 " passed with %zu "
			 "of the %" PRId64 " sites required",
			 rno, nk, spec->min_sites);
		rf_free(k);
		agg__fail(r, l, why);
		return;
	}
	/* the spec stays: l is busy, so nobody frees it meanwhile */
	pthread_mutex_unlock(&r->mu);
	rc = aggregate_files(r, id, spec, nfloat, rno, k, nk, sha, &bytes, &e);
	pthread_mutex_lock(&r->mu);
	if (rc)
		goto fail;
	rc = rf_buf_putc(&sites, '[', &e);
	for (size_t i = 0; !rc && i < nk; i++) {
		if (i)
			rc = rf_buf_putc(&sites, ',', &e);
		if (!rc)
			rc = rf_json_quote(&sites, k[i].site, strlen(k[i].site),
					   &e);
	}
	if (!rc)
		rc = rf_buf_putc(&sites, ']', &e);
	if (!rc)
		rc = agg__model_path(r, id, rno, path, sizeof path, &e);
	if (rc)
		goto fail;
	now = agg_ctx_now(r->c);
	done = rno >= spec->rounds;
	memset(&m, 0, sizeof m);
	m.round_id = id;
	m.round_no = rno;
	memcpy(m.sha256, sha, sizeof m.sha256);
	m.path = path;
	m.sites_json = rf_buf_str(&sites);
	m.created_at = now;
	memset(&c, 0, sizeof c);
	c.state = done ? "done" : "running";
	c.round_no = done ? -1 : rno + 1;
	c.model_sha256 = sha;
	c.model_path = path;
	c.expected_round_no = rno;
	c.deadline = done ? 0 : now + agg__max_wait_s(spec);
	c.model = &m;
	rc =
	    agg_registry_round_set_state(r->c->reg, id, "running", &c, now, &e);
	if (rc)
		goto fail;
	if (!rf_buf_putc(&d, '{', &e) &&
	    !agg__json_str(&d, RF_AUDIT_KEY_ROUND, l->idstr, &e) &&
	    !agg__json_int(&d, RF_AUDIT_KEY_ROUND_NO, rno, &e) &&
	    !agg__json_raw(&d, RF_AUDIT_KEY_SITES, rf_buf_str(&sites), &e) &&
	    !agg__json_str(&d, RF_AUDIT_KEY_MODEL_SHA256, sha, &e) &&
	    !rf_buf_putc(&d, '}', &e))
		rc = agg_ctx_audit(r->c, RF_AUDIT_EV_AGGREGATED, rf_buf_str(&d),
				   &e);
	if (rc)
		agg__log(r, "round %s: audit of the aggregation failed: %s",
			 l->idstr, e.msg);
	agg__log(r,
		 "round %s: iteration %" PRId64 " of %" PRId64
		 " aggregated from %zu site(s), model %.16s",
		 l->idstr, rno, spec->rounds, nk, sha);
	if (done) {
		rf_buf_reset(&d);
		if (!rf_buf_putc(&d, '{', &e) &&
		    !agg__json_str(&d, RF_AUDIT_KEY_ROUND, l->idstr, &e) &&
		    !agg__json_int(&d, RF_AUDIT_KEY_ROUND_NO, rno, &e) &&
		    !agg__json_str(&d, RF_AUDIT_KEY_MODEL_SHA256, sha, &e) &&
		    !rf_buf_putc(&d, '}', &e))
			(void)!agg_ctx_audit(r->c, RF_AUDIT_EV_ROUND_DONE,
					     rf_buf_str(&d), &e);
		agg__log(r, "round %s done", l->idstr);
		live_remove(r, l);
	} else {
		l->round_no = rno + 1;
		l->deadline = c.deadline;
		memcpy(l->model_sha, sha, sizeof l->model_sha);
		l->model_bytes = bytes;
		for (size_t i = 0; i < l->nsites; i++) {
			l->sites[i].uploaded = 0;
			l->sites[i].sha[0] = '\0';
			l->sites[i].samples = 0;
			l->sites[i].bytes = 0;
		}
		l->busy = 0;
	}
	agg__changed(r);
	goto out;
fail:
	/* the round may have gone meanwhile only through this thread */
	agg__fail(r, l, e.msg[0] ? e.msg : rf_strerror(rc));
out:
	rf_free(k);
	rf_buf_release(&sites);
	rf_buf_release(&d);
}

int64_t agg__max_wait_s(const struct pol_spec *spec)
{
	return (spec->max_wait_ms + 999) / 1000;
}

/* Whether l can be aggregated now: every accepted site uploaded, at least
 * min-sites did; or its deadline passed. */
static int due(const struct agg__live *l, int64_t now)
{
	size_t acc, n = agg__uploads(l, &acc);

	if (l->busy)
		return 0;
	if (n > 0 && n == acc && n >= (size_t)l->spec->min_sites)
		return 1;
	return l->deadline > 0 && now >= l->deadline;
}

static void *driver(void *p)
{
	struct agg_rounds *r = p;
	struct timespec ts;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		int64_t now = agg_ctx_now(r->c);
		struct agg__live *l;

		for (l = r->live; l; l = l->next)
			if (due(l, now))
				break;
		if (l) {
			l->busy = 1;
			step(r, l);
			continue;
		}
		agg__abstime(&ts, 250);
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- creation ------------------------------------------------------------ */

struct ids {
	int64_t *v;
	size_t n, cap;
	int64_t *starting;
	size_t ns, caps;
};

static enum rf_rc push(int64_t **v, size_t *n, size_t *cap, int64_t x)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		int64_t *q = rf_realloc(*v, c * sizeof *q);

		if (!q)
			return RF_ENOMEM;
		*v = q;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return RF_OK;
}

static enum rf_rc collect_ids(const struct agg_round *rd, void *ctx,
			      struct rf_err *e)
{
	struct ids *ids = ctx;
	enum rf_rc rc = RF_OK;

	if (strcmp(rd->state, "running") == 0 && rd->spec_json)
		rc = push(&ids->v, &ids->n, &ids->cap, rd->id);
	else if (strcmp(rd->state, "starting") == 0)
		rc = push(&ids->starting, &ids->ns, &ids->caps, rd->id);
	if (rc)
		return rf_err_set(e, rc, "out of memory");
	return RF_OK;
}

/* Marks running round id failed because it cannot be loaded (before the
 * engine runs), with round.failed audited. */
static enum rf_rc cannot_resume(struct agg_rounds *r, int64_t id,
				const char *why, struct rf_err *e)
{
	struct agg_round_change c;
	struct agg_round rd;
	struct rf_buf d = RF_BUF_INIT(4096);
	char reason[AGG_ERROR_MAX + 1], idstr[24];
	enum rf_rc rc;

	snprintf(reason, sizeof reason, "cannot resume: %s", why);
	snprintf(idstr, sizeof idstr, "%" PRId64, id);
	memset(&c, 0, sizeof c);
	c.state = "failed";
	c.round_no = -1;
	c.error = reason;
	rc = agg_registry_round_set_state(r->c->reg, id, "running", &c,
					  agg_ctx_now(r->c), e);
	if (!rc)
		rc = rf_buf_putc(&d, '{', e);
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_ROUND, idstr, e);
	if (!rc && agg_registry_round_get(r->c->reg, id, &rd, e) == RF_OK) {
		rc = agg__json_int(&d, RF_AUDIT_KEY_ROUND_NO, rd.round_no, e);
		agg_round_release(&rd);
	}
	if (!rc)
		rc = agg__json_str(&d, RF_AUDIT_KEY_REASON, reason, e);
	if (!rc)
		rc = rf_buf_putc(&d, '}', e);
	if (!rc)
		rc = agg_ctx_audit(r->c, RF_AUDIT_EV_ROUND_FAILED,
				   rf_buf_str(&d), e);
	rf_buf_release(&d);
	return rc;
}

enum rf_rc agg_rounds_create(struct agg_ctx *c, struct agg_rounds **out,
			     struct rf_err *e)
{
	struct agg_rounds *r;
	pthread_condattr_t ca;
	struct ids ids;
	enum rf_rc rc;

	*out = NULL;
	memset(&ids, 0, sizeof ids);
	r = rf_calloc(1, sizeof *r);
	if (!r)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	r->c = c;
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->h5, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = agg_registry_round_list(c->reg, collect_ids, &ids, e);
	if (rc)
		goto fail;
	for (size_t i = 0; i < ids.ns; i++) {
		struct agg_round_change ch;

		memset(&ch, 0, sizeof ch);
		ch.state = "failed";
		ch.round_no = -1;
		ch.error = "interrupted before it started";
		rc = agg_registry_round_set_state(c->reg, ids.starting[i],
						  "starting", &ch,
						  agg_ctx_now(c), e);
		if (rc)
			goto fail;
	}
	for (size_t i = 0; i < ids.n; i++) {
		struct agg__live *l;
		struct rf_err e2 = { 0 };

		rc = agg__live_load(r, ids.v[i], &l, &e2);
		if (rc == RF_ENOMEM) {
			rf_err_set(e, rc, "%s", e2.msg);
			goto fail;
		}
		if (rc) {
			/* one round that cannot go on stops only itself */
			rc = cannot_resume(r, ids.v[i], e2.msg, e);
			if (rc)
				goto fail;
			continue;
		}
		l->resumed = 1;
		live_insert(r, l);
	}
	if (pthread_create(&r->thread, NULL, driver, r) != 0) {
		rc = rf_err_set(e, RF_EIO, "cannot start the round thread");
		goto fail;
	}
	r->thread_started = 1;
	rf_free(ids.v);
	rf_free(ids.starting);
	*out = r;
	return RF_OK;
fail:
	rf_free(ids.v);
	rf_free(ids.starting);
	agg_rounds_destroy(r);
	return rc;
}

void agg_rounds_destroy(struct agg_rounds *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (r->thread_started)
		pthread_join(r->thread, NULL);
	while (r->live)
		live_remove(r, r->live);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->h5);
	rf_free(r);
}

void agg_rounds_set_log(struct agg_rounds *r, agg_rounds_log_fn fn, void *ctx)
{
	pthread_mutex_lock(&r->mu);
	r->log = fn;
	r->log_ctx = ctx;
	pthread_mutex_unlock(&r->mu);
}

size_t agg_rounds_describe_resumed(struct agg_rounds *r, agg_rounds_log_fn fn,
				   void *ctx)
{
	char line[512];
	size_t n = 0;

	pthread_mutex_lock(&r->mu);
	for (struct agg__live *l = r->live; l; l = l->next) {
		if (!l->resumed)
			continue;
		snprintf(line, sizeof line,
			 "resumed round %s '%s': iteration %" PRId64
			 " of %" PRId64 ", %zu update(s) recorded",
			 l->idstr, l->spec->name, l->round_no, l->spec->rounds,
			 agg__uploads(l, NULL));
		fn(ctx, line);
		n++;
	}
	pthread_mutex_unlock(&r->mu);
	return n;
}

void agg_rounds_hdf5_lock(struct agg_rounds *r)
{
	pthread_mutex_lock(&r->h5);
}

void agg_rounds_hdf5_unlock(struct agg_rounds *r)
{
	pthread_mutex_unlock(&r->h5);
}

void agg__live_add(struct agg_rounds *r, struct agg__live *l)
{
	live_insert(r, l);
	agg__changed(r);
}
