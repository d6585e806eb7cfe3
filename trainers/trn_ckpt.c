/*
 * trn_ckpt.c - model files (HDF5 through rf_tensor.h), their canonical
 * hash, and flat weight vectors and deltas.
 *
 * Loading reads every parameter into one staging vector sized from the
 * caller's parameters (never from the file), checks the hash over it, and
 * only then copies it into the parameters, so a refused file changes
 * nothing.
 */
#include "trn_ckpt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rf_alloc.h"
#include "rf_tensor.h"

/* Floats converted to little-endian bytes per hash update. */
#define HASH_CHUNK 1024
/* "/params/" + a parameter path. */
#define DSET_NAME_MAX (8 + TRN_PARAM_PATH_MAX)
/* Longest "C,H,W" attribute accepted. */
#define INPUT_MAX 32

/* ---- flat vectors and deltas ------------------------------------------ */

size_t trn_flat_count(const struct trn_param *params, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += params[i].count;
	return total;
}

void trn_flat_get(const struct trn_param *params, size_t n, float *flat)
{
	for (size_t i = 0; i < n; i++) {
		if (params[i].count)
			memcpy(flat, params[i].w,
			       params[i].count * sizeof(float));
		flat += params[i].count;
	}
}

void trn_flat_set(struct trn_param *params, size_t n, const float *flat)
{
	for (size_t i = 0; i < n; i++) {
		if (params[i].count)
			memcpy(params[i].w, flat,
			       params[i].count * sizeof(float));
		flat += params[i].count;
	}
}

void trn_delta(const float *local, const float *global, float *delta,
	       size_t count)
{
	for (size_t i = 0; i < count; i++)
		delta[i] = local[i] - global[i];
}

void trn_delta_apply(struct trn_param *params, size_t n, const float *delta,
		     float scale)
{
	for (size_t i = 0; i < n; i++) {
		float *w = params[i].w;

		for (size_t j = 0; j < params[i].count; j++)
			w[j] = w[j] + scale * delta[j];
		delta += params[i].count;
	}
}

/* ---- validation -------------------------------------------------------- */

/* A parameter path: components of [A-Za-z0-9_.-] joined by '/', none
 * empty, "." or "..". */
static int path_ok(const char *p, size_t max)
{
	size_t len = strnlen(p, max), comp = 0;

	if (len == 0 || len == max)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char c = p[i];

		if (c == '/' || c == '\0') {
			if (comp == 0 || (comp == 1 && p[i - 1] == '.') ||
			    (comp == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
				return 0;
			comp = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return 0;
		comp++;
	}
	return 1;
}

/* params[0..n) are well formed, in strictly ascending path order, and
 * their total size in bytes fits in a size_t. */
static enum rf_rc check_params(const struct trn_param *params, size_t n,
			       const char *what, const char *path,
			       struct rf_err *e)
{
	size_t total = 0;

	if (n > 0 && !params)
		return rf_err_set(e, RF_EINVAL, "%s '%s': no parameters", what,
				  path);
	for (size_t i = 0; i < n; i++) {
		const struct trn_param *p = &params[i];
		uint64_t count = 1;

		if (!path_ok(p->path, sizeof(p->path)))
			return rf_err_set(e, RF_EINVAL,
					  "%s '%s': invalid parameter path "
					  "'%.*s'", what, path,
					  TRN_PARAM_PATH_MAX, p->path);
		if (i > 0 && strcmp(params[i - 1].path, p->path) >= 0)
			return rf_err_set(e, RF_EINVAL,
					  "%s '%s': parameter '%s' is not "
					  "after '%s' in path order", what,
					  path, p->path, params[i - 1].path);
		if (p->rank < 1 || p->rank > 4)
			return rf_err_set(e, RF_EINVAL,
					  "%s '%s': parameter '%s' has rank "
					  "%u", what, path, p->path, p->rank);
		for (unsigned d = 0; d < p->rank; d++) {
			if (p->shape[d] && count > UINT64_MAX / p->shape[d])
				count = UINT64_MAX;
			else
				count *= p->shape[d];
		}
		if (count != p->count)
			return rf_err_set(e, RF_EINVAL,
					  "%s '%s': parameter '%s' has %zu "
					  "values for its shape's %" PRIu64,
					  what, path, p->path, p->count,
					  count);
		if (p->count && !p->w)
			return rf_err_set(e, RF_EINVAL,
					  "%s '%s': parameter '%s' has no "
					  "values", what, path, p->path);
		if (p->count > SIZE_MAX / sizeof(float) - total)
			return rf_err_set(e, RF_ETOOBIG,
					  "%s '%s': too many values", what,
					  path);
		total += p->count;
	}
	return RF_OK;
}

/* A model name: 1 to 31 characters of [A-Za-z0-9_.-]. */
static int model_name_ok(const char *s, size_t max)
{
	size_t len = strnlen(s, max);

	if (len == 0 || len == max || strchr(s, '/'))
		return 0;
	return path_ok(s, max) && strcmp(s, ".") && strcmp(s, "..");
}

static enum rf_rc check_meta(const struct trn_ckpt_meta *m, const char *what,
			     const char *path, struct rf_err *e)
{
	if (!model_name_ok(m->model, sizeof(m->model)))
		return rf_err_set(e, RF_EINVAL, "%s '%s': invalid model name",
				  what, path);
	if (m->arch_version < 0 || m->round < 0)
		return rf_err_set(e, RF_EINVAL,
				  "%s '%s': negative version or round", what,
				  path);
	if (m->channels < 1 || m->channels > TRN_NET_DIM_MAX ||
	    m->height < 1 || m->height > TRN_NET_DIM_MAX || m->width < 1 ||
	    m->width > TRN_NET_DIM_MAX || m->classes < 1 ||
	    m->classes > TRN_NET_DIM_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "%s '%s': input or classes out of range",
				  what, path);
	return RF_OK;
}

/* ---- hashing ----------------------------------------------------------- */

/* Hashes n floats as little-endian bytes. */
static enum rf_rc hash_floats(struct rf_sha256_ctx *h, const float *p,
			      size_t n, struct rf_err *e)
{
	uint8_t buf[4 * HASH_CHUNK];

	while (n > 0) {
		size_t m = n < HASH_CHUNK ? n : HASH_CHUNK;
		enum rf_rc rc;

		for (size_t i = 0; i < m; i++) {
			uint32_t u;

			memcpy(&u, &p[i], sizeof(u));
			buf[4 * i] = (uint8_t)u;
			buf[4 * i + 1] = (uint8_t)(u >> 8);
			buf[4 * i + 2] = (uint8_t)(u >> 16);
			buf[4 * i + 3] = (uint8_t)(u >> 24);
		}
		rc = rf_sha256_update(h, buf, 4 * m, e);
		if (rc)
			return rc;
		p += m;
		n -= m;
	}
	return RF_OK;
}

/* SHA-256 of n floats (a flat vector) or, with params, of their values. */
static enum rf_rc hash_stream(const struct trn_param *params, size_t n,
			      const float *flat, size_t count,
			      uint8_t out[RF_SHA256_LEN], struct rf_err *e)
{
	struct rf_sha256_ctx h = {NULL};
	enum rf_rc rc;

	rc = rf_sha256_init(&h, e);
	if (rc)
		goto out;
	if (flat) {
		rc = hash_floats(&h, flat, count, e);
	} else {
		for (size_t i = 0; i < n && rc == RF_OK; i++)
			rc = hash_floats(&h, params[i].w, params[i].count, e);
	}
	if (rc == RF_OK)
		rc = rf_sha256_final(&h, out, e);
out:
	rf_sha256_release(&h);
	return rc;
}

enum rf_rc trn_params_hash(const struct trn_param *params, size_t n,
			   uint8_t out[RF_SHA256_LEN], struct rf_err *e)
{
	enum rf_rc rc = check_params(params, n, "cannot hash", "parameters",
				     e);

	if (rc)
		return rc;
	return hash_stream(params, n, NULL, 0, out, e);
}

/* ---- saving ------------------------------------------------------------ */

static void dset_name(char out[DSET_NAME_MAX], const struct trn_param *p)
{
	snprintf(out, DSET_NAME_MAX, "/params/%s", p->path);
}

enum rf_rc trn_ckpt_save(const char *path, const struct trn_ckpt_meta *m,
			 const struct trn_param *params, size_t n,
			 struct rf_err *e)
{
	struct rf_h5 *h = NULL;
	uint8_t digest[RF_SHA256_LEN];
	char hex[2 * RF_SHA256_LEN + 1], input[INPUT_MAX];
	char name[DSET_NAME_MAX];
	enum rf_rc rc;

	if (!path || !*path || !m)
		return rf_err_set(e, RF_EINVAL, "cannot save a model: no "
				  "path or metadata");
	rc = check_meta(m, "cannot save", path, e);
	if (rc == RF_OK)
		rc = check_params(params, n, "cannot save", path, e);
	if (rc == RF_OK)
		rc = hash_stream(params, n, NULL, 0, digest, e);
	if (rc == RF_OK)
		rc = rf_hex_encode(digest, sizeof(digest), hex, sizeof(hex),
				   e);
	if (rc)
		return rc;
	snprintf(input, sizeof(input), "%u,%u,%u", m->channels, m->height,
		 m->width);
	rc = rf_h5_create(path, &h, e);
	for (size_t i = 0; i < n && rc == RF_OK; i++) {
		const struct trn_param *p = &params[i];
		struct rf_tensor_info ti = {RF_DTYPE_F32, p->rank, {0}};

		memcpy(ti.shape, p->shape, p->rank * sizeof(p->shape[0]));
		dset_name(name, p);
		rc = rf_h5_write(h, name, &ti, p->w, NULL, e);
	}
	if (rc == RF_OK)
		rc = rf_h5_attr_set_str(h, "/", "model", m->model, e);
	if (rc == RF_OK)
		rc = rf_h5_attr_set_i64(h, "/", "arch_version",
					m->arch_version, e);
	if (rc == RF_OK)
		rc = rf_h5_attr_set_str(h, "/", "input", input, e);
	if (rc == RF_OK)
		rc = rf_h5_attr_set_i64(h, "/", "classes", m->classes, e);
	if (rc == RF_OK)
		rc = rf_h5_attr_set_i64(h, "/", "round", m->round, e);
	if (rc == RF_OK)
		rc = rf_h5_attr_set_str(h, "/", "sha256", hex, e);
	if (rc == RF_OK)
		rc = rf_h5_commit(h, e);
	rf_h5_close(h);
	return rc;
}

/* ---- reading ----------------------------------------------------------- */

/* An attribute that is missing or malformed makes the file "not a model
 * file" (RF_EPROTO); out of memory and I/O errors stay what they are. */
static enum rf_rc attr_fail(enum rf_rc rc, const char *path,
			    const char *attr, struct rf_err *e)
{
	if (rc == RF_ENOMEM || rc == RF_EIO)
		return rc;
	return rf_err_set(e, RF_EPROTO,
			  "'%s' is not a model file: no valid attribute '%s'",
			  path, attr);
}

/* Parses a decimal in [1, TRN_NET_DIM_MAX] ending at `end`. */
static int parse_dim(const char *s, char end, const char **next,
		     unsigned *out)
{
	char *stop;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoul(s, &stop, 10);
	if (errno || *stop != end || v < 1 || v > TRN_NET_DIM_MAX)
		return 0;
	*out = (unsigned)v;
	*next = stop + 1;
	return 1;
}

static enum rf_rc meta_read(struct rf_h5 *h, const char *path,
			    struct trn_ckpt_meta *m, struct rf_err *e)
{
	char *s = NULL;
	const char *p;
	int64_t v;
	enum rf_rc rc;

	memset(m, 0, sizeof(*m));
	rc = rf_h5_attr_get_str(h, "/", "model", sizeof(m->model) - 1, &s,
				e);
	if (rc)
		return attr_fail(rc, path, "model", e);
	if (!model_name_ok(s, sizeof(m->model))) {
		rf_free(s);
		return attr_fail(RF_EPROTO, path, "model", e);
	}
	memcpy(m->model, s, strlen(s) + 1);
	rf_free(s);
	s = NULL;

	rc = rf_h5_attr_get_i64(h, "/", "arch_version", &m->arch_version, e);
	if (rc || m->arch_version < 0)
		return attr_fail(rc, path, "arch_version", e);

	rc = rf_h5_attr_get_str(h, "/", "input", INPUT_MAX, &s, e);
	if (rc)
		return attr_fail(rc, path, "input", e);
	p = s;
	if (!parse_dim(p, ',', &p, &m->channels) ||
	    !parse_dim(p, ',', &p, &m->height) ||
	    !parse_dim(p, '\0', &p, &m->width)) {
		rf_free(s);
		return attr_fail(RF_EPROTO, path, "input", e);
	}
	rf_free(s);

	rc = rf_h5_attr_get_i64(h, "/", "classes", &v, e);
	if (rc || v < 1 || v > TRN_NET_DIM_MAX)
		return attr_fail(rc, path, "classes", e);
	m->classes = (unsigned)v;

	rc = rf_h5_attr_get_i64(h, "/", "round", &m->round, e);
	if (rc || m->round < 0)
		return attr_fail(rc, path, "round", e);
	return RF_OK;
}

enum rf_rc trn_ckpt_read_meta(const char *path, struct trn_ckpt_meta *m,
			      struct rf_err *e)
{
	struct rf_h5 *h = NULL;
	enum rf_rc rc;

	if (!path || !*path || !m)
		return rf_err_set(e, RF_EINVAL, "no model file path");
	rc = rf_h5_open(path, RF_H5_RDONLY, &h, e);
	if (rc == RF_OK)
		rc = meta_read(h, path, m, e);
	rf_h5_close(h);
	return rc;
}

/* The file's metadata is the caller's (round aside). */
static enum rf_rc meta_compare(const char *path,
			       const struct trn_ckpt_meta *got,
			       const struct trn_ckpt_meta *want,
			       struct rf_err *e)
{
	if (strcmp(got->model, want->model) != 0)
		return rf_err_set(e, RF_EINTEGRITY,
				  "cannot load '%s': model '%s', expected "
				  "'%s'", path, got->model, want->model);
	if (got->arch_version != want->arch_version)
		return rf_err_set(e, RF_EINTEGRITY,
				  "cannot load '%s': architecture version %"
				  PRId64 ", expected %" PRId64, path,
				  got->arch_version, want->arch_version);
	if (got->channels != want->channels ||
	    got->height != want->height || got->width != want->width)
		return rf_err_set(e, RF_EINTEGRITY,
				  "cannot load '%s': input %u,%u,%u, "
				  "expected %u,%u,%u", path, got->channels,
				  got->height, got->width, want->channels,
				  want->height, want->width);
	if (got->classes != want->classes)
		return rf_err_set(e, RF_EINTEGRITY,
				  "cannot load '%s': %u classes, expected %u",
				  path, got->classes, want->classes);
	return RF_OK;
}

struct extra_ctx {
	const char *path;
	const struct trn_param *params;
	size_t n;
};

static int param_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct trn_param *)elem)->path);
}

/* rf_h5_list callback: every dataset under /params is a parameter. */
static enum rf_rc check_known(void *ctx, const char *name,
			      const struct rf_tensor_info *ti,
			      struct rf_err *e)
{
	const struct extra_ctx *c = ctx;
	const char *rel = name;

	(void)ti;
	if (strncmp(name, "/params/", 8) == 0) {
		rel = name + 8;
		if (c->n > 0 && bsearch(rel, c->params, c->n,
					sizeof(*c->params), param_cmp))
			return RF_OK;
	}
	return rf_err_set(e, RF_EINTEGRITY,
			  "cannot load '%s': unexpected parameter '%.*s'",
			  c->path, 200, rel);
}

static void shape_text(char *out, size_t size, unsigned rank,
		       const uint64_t *shape)
{
	size_t len = 0;

	out[0] = '\0';
	for (unsigned d = 0; d < rank && len < size; d++) {
		int k = snprintf(out + len, size - len, "%s%" PRIu64,
				 d ? "," : "", shape[d]);

		if (k < 0)
			break;
		len += (size_t)k;
	}
}

/* Reads parameter p into dst after checking its type and shape. */
static enum rf_rc read_param(struct rf_h5 *h, const char *path,
			     const struct trn_param *p, float *dst,
			     struct rf_err *e)
{
	struct rf_tensor_info ti;
	char name[DSET_NAME_MAX], got[96], want[96];
	enum rf_rc rc;
	int same;

	dset_name(name, p);
	rc = rf_h5_info(h, name, &ti, e);
	if (rc == RF_ENOTFOUND)
		return rf_err_set(e, RF_EINTEGRITY,
				  "cannot load '%s': missing parameter '%s'",
				  path, p->path);
	if (rc)
		return rc;
	if (ti.dtype != RF_DTYPE_F32)
		return rf_err_set(e, RF_EPROTO,
				  "cannot load '%s': parameter '%s' is %s, "
				  "not float32", path, p->path,
				  rf_dtype_name(ti.dtype));
	same = ti.rank == p->rank;
	for (unsigned d = 0; same && d < p->rank; d++)
		same = ti.shape[d] == p->shape[d];
	if (!same) {
		shape_text(got, sizeof(got), ti.rank, ti.shape);
		shape_text(want, sizeof(want), p->rank, p->shape);
		return rf_err_set(e, RF_EINTEGRITY,
				  "cannot load '%s': parameter '%s' has "
				  "shape [%s], expected [%s]", path, p->path,
				  got, want);
	}
	return rf_h5_read(h, name, RF_DTYPE_F32, dst, p->count, NULL, e);
}

enum rf_rc trn_ckpt_load(const char *path, const struct trn_ckpt_meta *m,
			 struct trn_param *params, size_t n,
			 struct rf_err *e)
{
	struct rf_h5 *h = NULL;
	struct trn_ckpt_meta got;
	struct extra_ctx xc = {path, params, n};
	uint8_t want_digest[RF_SHA256_LEN], digest[RF_SHA256_LEN];
	float *stage = NULL;
	char *hex = NULL;
	size_t total, off = 0, dlen = 0;
	enum rf_rc rc;

	if (!path || !*path || !m)
		return rf_err_set(e, RF_EINVAL, "cannot load a model: no path "
				  "or metadata");
	rc = check_params(params, n, "cannot load", path, e);
	if (rc)
		return rc;
	total = trn_flat_count(params, n);
	rc = rf_h5_open(path, RF_H5_RDONLY, &h, e);
	if (rc == RF_OK)
		rc = meta_read(h, path, &got, e);
	if (rc == RF_OK)
		rc = meta_compare(path, &got, m, e);
	if (rc)
		goto out;
	rc = rf_h5_attr_get_str(h, "/", "sha256", 2 * RF_SHA256_LEN, &hex, e);
	if (rc == RF_OK && (strlen(hex) != 2 * RF_SHA256_LEN ||
			    rf_hex_decode(hex, strlen(hex), want_digest,
					  sizeof(want_digest), &dlen, NULL)))
		rc = RF_EPROTO;
	if (rc) {
		rc = attr_fail(rc, path, "sha256", e);
		goto out;
	}
	rc = rf_h5_list(h, "/params", check_known, &xc, e);
	if (rc == RF_ENOTFOUND) /* no /params: every parameter is missing */
		rc = RF_OK;
	if (rc)
		goto out;
	stage = rf_mallocarray(total ? total : 1, sizeof(float));
	if (!stage) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory loading '%s'",
				path);
		goto out;
	}
	for (size_t i = 0; i < n && rc == RF_OK; i++) {
		rc = read_param(h, path, &params[i], stage + off, e);
		off += params[i].count;
	}
	if (rc)
		goto out;
	rc = hash_stream(NULL, 0, stage, total, digest, e);
	if (rc)
		goto out;
	if (memcmp(digest, want_digest, sizeof(digest)) != 0) {
		rc = rf_err_set(e, RF_EINTEGRITY,
				"cannot load '%s': the parameters' SHA-256 "
				"differs from the file's", path);
		goto out;
	}
	trn_flat_set(params, n, stage);
out:
	if (stage)
		rf_free_secret(stage, (total ? total : 1) * sizeof(float));
	rf_free(hex);
	rf_h5_close(h);
	return rc;
}
