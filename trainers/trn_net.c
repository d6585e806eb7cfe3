/*
 * trn_net.c - the engine's API: the builder (shapes, names, parameters and
 * their initialisation), the run loop and the loss arithmetic. Layouts and
 * primitives are made in trn_net_prim.c.
 */
#include "trn_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rf_alloc.h"
#include "rf_crypto.h"
#include "trn_net_impl.h"

static const char *const kind_names[] = {
	[TRN__CONV] = "conv",       [TRN__NORM] = "norm",
	[TRN__RELU] = "relu",       [TRN__MAXPOOL] = "maxpool",
	[TRN__AVGPOOL] = "avgpool", [TRN__GAP] = "gap",
	[TRN__FC] = "fc",           [TRN__DROPOUT] = "dropout",
	[TRN__ADD] = "add",         [TRN__GMP] = "gmp",
};

static int64_t elems(const int64_t d[4])
{
	return d[0] * d[1] * d[2] * d[3];
}

enum rf_rc trn_net_create(const struct trn_net_shape *in, uint64_t seed,
			  struct trn_net **out, struct rf_err *e)
{
	struct trn_net *n = NULL;
	int64_t d[4];

	*out = NULL;
	if (!in)
		return rf_err_set(e, RF_EINVAL, "net input shape is missing");
	d[0] = in->batch;
	d[1] = in->channels;
	d[2] = in->height;
	d[3] = in->width;
	for (int i = 0; i < 4; i++)
		if (d[i] < 1 || d[i] > TRN_NET_DIM_MAX)
			return rf_err_set(e, RF_EINVAL,
					  "net input shape %ux%ux%ux%u: each "
					  "dimension must be 1 to %d",
					  in->batch, in->channels, in->height,
					  in->width, TRN_NET_DIM_MAX);
	if (elems(d) > TRN__ELEMS_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "net input shape %ux%ux%ux%u: too many "
				  "elements", in->batch, in->channels,
				  in->height, in->width);
	n = rf_calloc(1, sizeof *n);
	if (!n)
		goto nomem;
	n->in = *in;
	n->seed = seed;
	n->loss_in = -1;
	n->t_cap = 16;
	n->t = rf_calloc(n->t_cap, sizeof *n->t);
	if (!n->t)
		goto nomem;
	n->nt = 1;
	n->t[0].ndims = 4;
	memcpy(n->t[0].dims, d, sizeof d);
	*out = n;
	return RF_OK;
nomem:
	trn_net_destroy(n);
	return rf_err_set(e, RF_ENOMEM, "cannot allocate a net");
}

void trn_net_destroy(struct trn_net *n)
{
	if (!n)
		return;
	trn__net_release(n);
	for (size_t i = 0; i < n->np; i++) {
		rf_free(n->params[i].w);
		rf_free(n->params[i].g);
	}
	rf_free(n->params);
	rf_free(n->l);
	rf_free(n->t);
	rf_free(n->cw);
	rf_free(n);
}

/* ---- builder helpers ----------------------------------------------------- */

static enum rf_rc check_open(struct trn_net *n, const char *what,
			     struct rf_err *e)
{
	if (!n)
		return rf_err_set(e, RF_EINVAL, "layer '%s': no net", what);
	if (n->broken)
		return rf_err_set(e, RF_EINVAL,
				  "layer '%s': an earlier build call failed",
				  what);
	if (n->built)
		return rf_err_set(e, RF_EINVAL,
				  "layer '%s': the net is already complete "
				  "(trn_net_loss was called)", what);
	return RF_OK;
}

static bool name_ok(const char *s)
{
	size_t len = 0;

	for (; s[len]; len++) {
		char c = s[len];

		if (len >= 40)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.'))
			return false;
	}
	return len > 0;
}

/* Appends a layer named `name` (or "<kind><index>") reading tensor `in`;
 * checks the name and the id. On failure the net is marked broken. */
static enum rf_rc layer_new(struct trn_net *n, enum trn__kind kind,
			    const char *name, int in, struct trn__layer **out,
			    struct rf_err *e)
{
	struct trn__layer *l = NULL;
	char auto_name[48];
	enum rf_rc rc;

	snprintf(auto_name, sizeof auto_name, "%s%zu", kind_names[kind],
		 n ? n->nl : 0);
	rc = check_open(n, name ? name : auto_name, e);
	if (rc)
		return rc;
	n->broken = true;
	if (name) {
		if (!name_ok(name))
			return rf_err_set(e, RF_EINVAL,
					  "layer '%.48s': a name is 1 to 40 of "
					  "[a-z0-9_.]", name);
		for (size_t i = 0; i < n->nl; i++)
			if (strcmp(n->l[i].name, name) == 0)
				return rf_err_set(e, RF_EEXIST,
						  "layer '%s': the name is "
						  "already used", name);
	}
	if (in < 0 || (size_t)in >= n->nt)
		return rf_err_set(e, RF_EINVAL, "layer '%s': unknown tensor %d",
				  name ? name : auto_name, in);
	if (n->nl == n->l_cap) {
		size_t cap = n->l_cap ? 2 * n->l_cap : 16;
		void *p = rf_realloc(n->l, cap * sizeof *n->l);

		if (!p)
			return rf_err_set(e, RF_ENOMEM,
					  "cannot allocate a layer");
		n->l = p;
		n->l_cap = cap;
	}
	if (n->nt == n->t_cap) {
		size_t cap = 2 * n->t_cap;
		void *p = rf_realloc(n->t, cap * sizeof *n->t);

		if (!p)
			return rf_err_set(e, RF_ENOMEM,
					  "cannot allocate a tensor");
		n->t = p;
		n->t_cap = cap;
	}
	l = &n->l[n->nl];
	memset(l, 0, sizeof *l);
	l->kind = kind;
	snprintf(l->name, sizeof l->name, "%s", name ? name : auto_name);
	l->in[0] = in;
	l->in[1] = -1;
	l->out = -1;
	*out = l;
	return RF_OK;
}

/* Commits layer l (the last one) with an output of the given shape. */
static enum rf_rc layer_commit(struct trn_net *n, struct trn__layer *l,
			       int ndims, const int64_t d[4], int *out,
			       struct rf_err *e)
{
	struct trn__tensor *t = &n->t[n->nt];

	for (int i = 0; i < 4; i++)
		if (d[i] < 1 || d[i] > TRN_NET_DIM_MAX)
			return rf_err_set(e, RF_EINVAL,
					  "layer '%s': output dimension %d is "
					  "%lld, not 1 to %d", l->name, i,
					  (long long)d[i], TRN_NET_DIM_MAX);
	if (elems(d) > TRN__ELEMS_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "layer '%s': output too large", l->name);
	memset(t, 0, sizeof *t);
	t->ndims = ndims;
	memcpy(t->dims, d, 4 * sizeof *d);
	l->out = (int)n->nt;
	n->nt++;
	n->nl++;
	n->t[l->in[0]].consumers++;
	if (l->in[1] >= 0)
		n->t[l->in[1]].consumers++;
	n->broken = false;
	*out = l->out;
	return RF_OK;
}

/* Fills w[0..count) with U(-bound, bound) from the PRG keyed by
 * HMAC-SHA-256(seed as 8 little-endian bytes, path). */
static enum rf_rc init_uniform(uint64_t seed, const char *path, float *w,
			       size_t count, double bound, struct rf_err *e)
{
	uint8_t key[8], k[RF_HMAC_SHA256_LEN];
	struct rf_prg *g = NULL;
	enum rf_rc rc;

	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(seed >> (8 * i));
	rc = rf_hmac_sha256(key, sizeof key, path, strlen(path), k, e);
	if (rc)
		goto out;
	rc = rf_prg_create(k, &g, e);
	if (rc)
		goto out;
	rc = rf_prg_u32(g, (uint32_t *)(void *)w, count, e);
	if (rc)
		goto out;
	for (size_t i = 0; i < count; i++) {
		uint32_t u;
		double x;

		memcpy(&u, &w[i], sizeof u);
		x = (double)(u >> 8) * (1.0 / 16777216.0);
		w[i] = (float)((2.0 * x - 1.0) * bound);
	}
out:
	rf_prg_destroy(g);
	rf_zeroize(k, sizeof k);
	return rc;
}

/* Adds parameter "<layer>/<what>" of the given shape. init: 'u' uniform
 * with bound, '1' ones, '0' zeros. */
static enum rf_rc param_new(struct trn_net *n, struct trn__layer *l,
			    const char *what, unsigned rank,
			    const uint64_t *shape, char init, double bound,
			    float **w, float **g, struct rf_err *e)
{
	struct trn_param *p;
	size_t count = 1;
	enum rf_rc rc;

	for (unsigned i = 0; i < rank; i++)
		count *= shape[i];
	if (n->np == n->p_cap) {
		size_t cap = n->p_cap ? 2 * n->p_cap : 16;
		void *q = rf_realloc(n->params, cap * sizeof *n->params);

		if (!q)
			return rf_err_set(e, RF_ENOMEM,
					  "cannot allocate a parameter");
		n->params = q;
		n->p_cap = cap;
	}
	p = &n->params[n->np];
	memset(p, 0, sizeof *p);
	snprintf(p->path, sizeof p->path, "%s/%s", l->name, what);
	p->count = count;
	p->rank = rank;
	memcpy(p->shape, shape, rank * sizeof *shape);
	p->w = rf_calloc(count, sizeof *p->w);
	p->g = rf_calloc(count, sizeof *p->g);
	if (!p->w || !p->g) {
		rf_free(p->w);
		rf_free(p->g);
		return rf_err_set(e, RF_ENOMEM,
				  "layer '%s': cannot allocate '%s'", l->name,
				  p->path);
	}
	rc = RF_OK;
	if (init == 'u')
		rc = init_uniform(n->seed, p->path, p->w, count, bound, e);
	else if (init == '1')
		for (size_t i = 0; i < count; i++)
			p->w[i] = 1.0f;
	if (rc) {
		rf_free(p->w);
		rf_free(p->g);
		return rc;
	}
	n->np++;
	*w = p->w;
	*g = p->g;
	return RF_OK;
}

/* PyTorch's output size, and the right padding oneDNN needs for it. */
static enum rf_rc out_size(const struct trn__layer *l, int64_t in,
			   int64_t *o, int64_t *pad_r, struct rf_err *e)
{
	int64_t k = l->kernel, s = l->stride, p = l->pad;

	if (in + 2 * p < k)
		return rf_err_set(e, RF_EINVAL,
				  "layer '%s': kernel %u larger than the "
				  "padded input %lld", l->name, l->kernel,
				  (long long)(in + 2 * p));
	*o = (in + 2 * p - k) / s + 1;
	*pad_r = (*o - 1) * s + k - in - p;
	return RF_OK;
}

static enum rf_rc check_window(struct trn__layer *l, unsigned kernel,
			       unsigned stride, unsigned pad, bool pool,
			       struct rf_err *e)
{
	if (kernel < 1 || kernel > 64)
		return rf_err_set(e, RF_EINVAL,
				  "layer '%s': kernel %u is not 1 to 64",
				  l->name, kernel);
	if (stride < 1 || stride > 64)
		return rf_err_set(e, RF_EINVAL,
				  "layer '%s': stride %u is not 1 to 64",
				  l->name, stride);
	if (pool ? pad > kernel / 2 : pad > 64)
		return rf_err_set(e, RF_EINVAL,
				  "layer '%s': padding %u is too large",
				  l->name, pad);
	l->kernel = kernel;
	l->stride = stride;
	l->pad = pad;
	return RF_OK;
}

static enum rf_rc need4(const struct trn_net *n, const struct trn__layer *l,
			struct rf_err *e)
{
	if (n->t[l->in[0]].ndims != 4)
		return rf_err_set(e, RF_EINVAL,
				  "layer '%s': input tensor %d is not "
				  "[N, C, H, W]", l->name, l->in[0]);
	return RF_OK;
}

/* ---- builder ------------------------------------------------------------- */

enum rf_rc trn_net_conv(struct trn_net *n, const char *name, int in,
			unsigned out_channels, unsigned kernel, unsigned stride,
			unsigned pad, bool bias, int *out, struct rf_err *e)
{
	struct trn__layer *l = NULL;
	const int64_t *id;
	int64_t d[4];
	uint64_t ws[4], bs[1];
	double fan_in;
	enum rf_rc rc;

	if (!name)
		return rf_err_set(e, RF_EINVAL, "conv layer has no name");
	rc = layer_new(n, TRN__CONV, name, in, &l, e);
	if (rc)
		return rc;
	if ((rc = need4(n, l, e)) ||
	    (rc = check_window(l, kernel, stride, pad, false, e)))
		return rc;
	if (out_channels < 1 || out_channels > TRN_NET_DIM_MAX)
		return rf_err_set(e, RF_EINVAL,
				  "layer '%s': %u output channels", name,
				  out_channels);
	id = n->t[in].dims;
	l->oc = out_channels;
	l->bias = bias;
	d[0] = id[0];
	d[1] = out_channels;
	if ((rc = out_size(l, id[2], &d[2], &l->pad_r[0], e)) ||
	    (rc = out_size(l, id[3], &d[3], &l->pad_r[1], e)))
		return rc;
	fan_in = (double)id[1] * kernel * kernel;
	if (fan_in * out_channels > (double)TRN__ELEMS_MAX)
		return rf_err_set(e, RF_ETOOBIG, "layer '%s': weight too large",
				  name);
	ws[0] = out_channels;
	ws[1] = (uint64_t)id[1];
	ws[2] = ws[3] = kernel;
	bs[0] = out_channels;
	rc = param_new(n, l, "weight", 4, ws, 'u', 1.0 / sqrt(fan_in), &l->w,
		       &l->wg, e);
	if (!rc && bias)
		rc = param_new(n, l, "bias", 1, bs, 'u', 1.0 / sqrt(fan_in),
			       &l->b, &l->bg, e);
	if (rc)
		return rc;
	rc = layer_commit(n, l, 4, d, out, e);
	if (!rc)
		n->flops += 2.0 * (double)elems(d) * fan_in;
	return rc;
}

enum rf_rc trn_net_norm(struct trn_net *n, const char *name, int in,
			unsigned groups, int *out, struct rf_err *e)
{
	struct trn__layer *l = NULL;
	uint64_t cs[1];
	int64_t d[4];
	enum rf_rc rc;

	if (!name)
		return rf_err_set(e, RF_EINVAL, "norm layer has no name");
	rc = layer_new(n, TRN__NORM, name, in, &l, e);
	if (rc)
		return rc;
	memcpy(d, n->t[in].dims, sizeof d);
	if (groups < 1 || d[1] % groups != 0)
		return rf_err_set(e, RF_EINVAL,
				  "layer '%s': %u groups do not divide %lld "
				  "channels", name, groups, (long long)d[1]);
	l->groups = groups;
	cs[0] = (uint64_t)d[1];
	rc = param_new(n, l, "weight", 1, cs, '1', 0, &l->w, &l->wg, e);
	if (!rc)
		rc = param_new(n, l, "bias", 1, cs, '0', 0, &l->b, &l->bg, e);
	if (rc)
		return rc;
	return layer_commit(n, l, n->t[in].ndims, d, out, e);
}

static enum rf_rc unary(struct trn_net *n, enum trn__kind kind, int in,
			float p, int *out, struct rf_err *e)
{
	struct trn__layer *l = NULL;
	int64_t d[4];
	enum rf_rc rc;

	rc = layer_new(n, kind, NULL, in, &l, e);
	if (rc)
		return rc;
	if (kind == TRN__DROPOUT && !(p >= 0.0f && p < 1.0f))
		return rf_err_set(e, RF_EINVAL,
				  "layer '%s': drop probability %g is not in "
				  "[0, 1)", l->name, (double)p);
	l->p = p;
	memcpy(d, n->t[in].dims, sizeof d);
	return layer_commit(n, l, n->t[in].ndims, d, out, e);
}

enum rf_rc trn_net_relu(struct trn_net *n, int in, int *out,
			struct rf_err *e)
{
	return unary(n, TRN__RELU, in, 0, out, e);
}

enum rf_rc trn_net_dropout(struct trn_net *n, int in, float p, int *out,
			   struct rf_err *e)
{
	return unary(n, TRN__DROPOUT, in, p, out, e);
}

static enum rf_rc pool(struct trn_net *n, enum trn__kind kind, int in,
		       unsigned kernel, unsigned stride, unsigned pad,
		       int *out, struct rf_err *e)
{
	struct trn__layer *l = NULL;
	int64_t d[4];
	enum rf_rc rc;

	rc = layer_new(n, kind, NULL, in, &l, e);
	if (rc)
		return rc;
	if ((rc = need4(n, l, e)) ||
	    (rc = check_window(l, kernel, stride, pad, true, e)))
		return rc;
	memcpy(d, n->t[in].dims, sizeof d);
	if ((rc = out_size(l, n->t[in].dims[2], &d[2], &l->pad_r[0], e)) ||
	    (rc = out_size(l, n->t[in].dims[3], &d[3], &l->pad_r[1], e)))
		return rc;
	return layer_commit(n, l, 4, d, out, e);
}

enum rf_rc trn_net_maxpool(struct trn_net *n, int in, unsigned kernel,
			   unsigned stride, unsigned pad, int *out,
			   struct rf_err *e)
{
	return pool(n, TRN__MAXPOOL, in, kernel, stride, pad, out, e);
}

enum rf_rc trn_net_avgpool(struct trn_net *n, int in, unsigned kernel,
			   unsigned stride, unsigned pad, int *out,
			   struct rf_err *e)
{
	return pool(n, TRN__AVGPOOL, in, kernel, stride, pad, out, e);
}

/* Global pooling (average or max): [N, C, H, W] -> [N, C, 1, 1]. */
static enum rf_rc global_pool(struct trn_net *n, enum trn__kind kind, int in,
			      int *out, struct rf_err *e)
{
	struct trn__layer *l = NULL;
	int64_t d[4];
	enum rf_rc rc;

	rc = layer_new(n, kind, NULL, in, &l, e);
	if (rc)
		return rc;
	if ((rc = need4(n, l, e)))
		return rc;
	memcpy(d, n->t[in].dims, sizeof d);
	d[2] = d[3] = 1;
	/* [N, C, 1, 1] inside, which is [N, C] in plain order */
	return layer_commit(n, l, 4, d, out, e);
}

enum rf_rc trn_net_gap(struct trn_net *n, int in, int *out,
		       struct rf_err *e)
{
	return global_pool(n, TRN__GAP, in, out, e);
}

enum rf_rc trn_net_gmp(struct trn_net *n, int in, int *out,
		       struct rf_err *e)
{
	return global_pool(n, TRN__GMP, in, out, e);
}

enum rf_rc trn_net_fc(struct trn_net *n, const char *name, int in,
		      unsigned out_features, int *out, struct rf_err *e)
{
	struct trn__layer *l = NULL;
	const int64_t *id;
	int64_t d[4];
	uint64_t ws[4], bs[1];
	double fan_in;
	enum rf_rc rc;

	if (!name)
		return rf_err_set(e, RF_EINVAL, "fc layer has no name");
	rc = layer_new(n, TRN__FC, name, in, &l, e);
	if (rc)
		return rc;
	if (out_features < 1 || out_features > TRN_NET_DIM_MAX)
		return rf_err_set(e, RF_EINVAL, "layer '%s': %u outputs", name,
				  out_features);
	id = n->t[in].dims;
	fan_in = (double)id[1] * (double)id[2] * (double)id[3];
	if (fan_in * out_features > (double)TRN__ELEMS_MAX)
		return rf_err_set(e, RF_ETOOBIG, "layer '%s': weight too large",
				  name);
	l->oc = out_features;
	ws[0] = out_features;
	ws[1] = (uint64_t)fan_in;
	bs[0] = out_features;
	rc = param_new(n, l, "weight", 2, ws, 'u', 1.0 / sqrt(fan_in), &l->w,
		       &l->wg, e);
	if (!rc)
		rc = param_new(n, l, "bias", 1, bs, 'u', 1.0 / sqrt(fan_in),
			       &l->b, &l->bg, e);
	if (rc)
		return rc;
	d[0] = id[0];
	d[1] = out_features;
	d[2] = d[3] = 1;
	rc = layer_commit(n, l, 2, d, out, e);
	if (!rc)
		n->flops += 2.0 * (double)d[0] * out_features * fan_in;
	return rc;
}

enum rf_rc trn_net_add(struct trn_net *n, int a, int b, int *out,
		       struct rf_err *e)
{
	struct trn__layer *l = NULL;
	int64_t d[4];
	enum rf_rc rc;

	rc = layer_new(n, TRN__ADD, NULL, a, &l, e);
	if (rc)
		return rc;
	if (b < 0 || (size_t)b >= n->nt)
		return rf_err_set(e, RF_EINVAL, "layer '%s': unknown tensor %d",
				  l->name, b);
	if (memcmp(n->t[a].dims, n->t[b].dims, sizeof d) != 0 ||
	    n->t[a].ndims != n->t[b].ndims)
		return rf_err_set(e, RF_EINVAL,
				  "layer '%s': tensors %d and %d differ in "
				  "shape", l->name, a, b);
	l->in[1] = b;
	memcpy(d, n->t[a].dims, sizeof d);
	return layer_commit(n, l, n->t[a].ndims, d, out, e);
}

static int param_cmp(const void *a, const void *b)
{
	const struct trn_param *x = a, *y = b;

	return strcmp(x->path, y->path);
}

enum rf_rc trn_net_loss(struct trn_net *n, int in, enum trn_loss kind,
			const float *class_weights, struct rf_err *e)
{
	const struct trn__tensor *t;
	enum rf_rc rc;

	rc = check_open(n, "loss", e);
	if (rc)
		return rc;
	n->broken = true;
	if (in < 0 || (size_t)in >= n->nt)
		return rf_err_set(e, RF_EINVAL,
				  "layer 'loss': unknown tensor %d", in);
	t = &n->t[in];
	if (t->dims[2] != 1 || t->dims[3] != 1)
		return rf_err_set(e, RF_EINVAL,
				  "layer 'loss': tensor %d is not [N, K]", in);
	if (kind != TRN_LOSS_SOFTMAX_CE && kind != TRN_LOSS_SIGMOID_BCE)
		return rf_err_set(e, RF_EINVAL, "layer 'loss': unknown kind %d",
				  (int)kind);
	if (class_weights && kind != TRN_LOSS_SOFTMAX_CE)
		return rf_err_set(e, RF_EINVAL,
				  "layer 'loss': class weights need the "
				  "softmax loss");
	n->k = (unsigned)t->dims[1];
	n->cw = rf_mallocarray(n->k, sizeof *n->cw);
	if (!n->cw)
		return rf_err_set(e, RF_ENOMEM, "cannot allocate the loss");
	for (unsigned i = 0; i < n->k; i++) {
		float w = class_weights ? class_weights[i] : 1.0f;

		if (!(w > 0.0f) || !isfinite(w))
			return rf_err_set(e, RF_EINVAL,
					  "layer 'loss': class weight %u is "
					  "not positive", i);
		n->cw[i] = w;
	}
	n->loss = kind;
	n->loss_in = in;
	n->t[in].consumers++;
	qsort(n->params, n->np, sizeof *n->params, param_cmp);
	rc = trn__net_build(n, e);
	if (rc)
		return rc;
	n->built = true;
	n->broken = false;
	return RF_OK;
}

/* ---- running ------------------------------------------------------------- */

const struct trn_net_shape *trn_net_input_shape(const struct trn_net *n)
{
	return &n->in;
}

unsigned trn_net_classes(const struct trn_net *n)
{
	return n->built ? n->k : 0;
}

struct trn_param *trn_net_params(struct trn_net *n, size_t *count)
{
	if (!n->built) {
		*count = 0;
		return NULL;
	}
	*count = n->np;
	return n->params;
}

double trn_net_flops(const struct trn_net *n)
{
	return n->flops;
}

const float *trn_net_probs(const struct trn_net *n)
{
	return n->probs;
}

const float *trn_net_logits(const struct trn_net *n)
{
	return n->logits;
}

static enum rf_rc run(struct trn_net *n, const struct trn__oplist *ops,
		      struct rf_err *e)
{
	dnnl_status_t st;
	enum rf_rc rc;

	for (size_t i = 0; i < ops->n; i++) {
		const struct trn__op *o = &ops->v[i];

		if (o->prim) {
			st = dnnl_primitive_execute(o->prim, n->strm, o->nargs,
						    o->args);
			if (st != dnnl_success)
				return trn__dnnl_err(st, o->l ? o->l->name
							      : "loss",
						     "cannot run", e);
			continue;
		}
		st = dnnl_stream_wait(n->strm);
		if (st != dnnl_success)
			return trn__dnnl_err(st, "stream", "cannot wait", e);
		rc = o->fn(n, o->l, e);
		if (rc)
			return rc;
	}
	st = dnnl_stream_wait(n->strm);
	if (st != dnnl_success)
		return trn__dnnl_err(st, "stream", "cannot wait", e);
	return RF_OK;
}

/* The loss of the plain logits (and probabilities), in double. */
static enum rf_rc loss_value(struct trn_net *n, float *loss,
			     struct rf_err *e)
{
	size_t nb = n->in.batch, k = n->k;
	double sum = 0, wsum = 0;

	if (n->loss == TRN_LOSS_SOFTMAX_CE) {
		for (size_t i = 0; i < nb * k; i++)
			n->probs[i] = expf(n->logp[i]);
		for (size_t i = 0; i < nb; i++) {
			int32_t y = n->labels[i];

			if (y < 0)
				continue;
			sum -= (double)n->cw[y] * n->logp[i * k + (size_t)y];
			wsum += n->cw[y];
		}
		*loss = wsum > 0 ? (float)(sum / wsum) : 0.0f;
		return RF_OK;
	}
	for (size_t i = 0; i < nb * k; i++) {
		double x = n->logits[i], t = n->targets[i];

		sum += (x > 0 ? x : 0) - x * t + log1p(exp(-fabs(x)));
	}
	*loss = (float)(sum / (double)(nb * k));
	(void)e;
	return RF_OK;
}

enum rf_rc trn__loss_grad(struct trn_net *n, struct trn__layer *l,
			  struct rf_err *e)
{
	size_t nb = n->in.batch, k = n->k;
	float *d = n->dlogits;

	(void)l;
	(void)e;
	if (n->loss == TRN_LOSS_SOFTMAX_CE) {
		double wsum = 0;
		float s;

		for (size_t i = 0; i < nb; i++)
			if (n->labels[i] >= 0)
				wsum += n->cw[n->labels[i]];
		s = wsum > 0 ? (float)(1.0 / wsum) : 0.0f;
		for (size_t i = 0; i < nb; i++) {
			int32_t y = n->labels[i];
			float w = y >= 0 ? n->cw[y] * s : 0.0f;

			for (size_t j = 0; j < k; j++)
				d[i * k + j] = w * (n->probs[i * k + j] -
						    (j == (size_t)y ? 1.0f
								    : 0.0f));
		}
		return RF_OK;
	}
	for (size_t i = 0; i < nb * k; i++)
		d[i] = (n->probs[i] - n->targets[i]) / (float)(nb * k);
	return RF_OK;
}

enum rf_rc trn__dropout_mask(struct trn_net *n, struct trn__layer *l,
			     struct rf_err *e)
{
	uint8_t iv[RF_CTR_IV_LEN] = {0};
	uint32_t thr;
	float keep;
	enum rf_rc rc;

	if (!n->train || l->p == 0.0f) {
		if (!l->mask_ones)
			for (size_t i = 0; i < l->mask_count; i++)
				l->mask[i] = 1.0f;
		l->mask_ones = true;
		return RF_OK;
	}
	l->mask_ones = false;
	for (int i = 0; i < 8; i++)
		iv[i] = (uint8_t)(n->step >> (56 - 8 * i));
	memset(l->bits, 0, l->mask_count * sizeof *l->bits);
	rc = rf_aes256ctr_xor(l->key, iv, l->bits, l->bits,
			      l->mask_count * sizeof *l->bits, e);
	if (rc)
		return rf_err_prefix(e, "layer '%s'", l->name);
	thr = (uint32_t)((double)l->p * 4294967296.0);
	keep = 1.0f / (1.0f - l->p);
	for (size_t i = 0; i < l->mask_count; i++)
		l->mask[i] = l->bits[i] >= thr ? keep : 0.0f;
	return RF_OK;
}

enum rf_rc trn_net_forward(struct trn_net *n, const float *x,
			   const int32_t *labels, const float *targets,
			   bool train, uint64_t step, float *loss,
			   struct rf_err *e)
{
	size_t nb, k;
	dnnl_status_t st;
	enum rf_rc rc;

	if (!n || !n->built)
		return rf_err_set(e, RF_EINVAL,
				  "net is not complete (no trn_net_loss)");
	nb = n->in.batch;
	k = n->k;
	n->trained = false;
	if (!x)
		return rf_err_set(e, RF_EINVAL, "forward: no input");
	if (n->loss == TRN_LOSS_SOFTMAX_CE) {
		if (!labels || targets)
			return rf_err_set(e, RF_EINVAL,
					  "forward: the softmax loss takes "
					  "labels, not targets");
		for (size_t i = 0; i < nb; i++) {
			if (labels[i] >= (int32_t)k)
				return rf_err_set(e, RF_EINVAL,
						  "forward: label %ld of "
						  "sample %zu is not below %zu",
						  (long)labels[i], i, k);
			n->labels[i] = labels[i] < 0 ? -1 : labels[i];
		}
	} else {
		if (!targets || labels)
			return rf_err_set(e, RF_EINVAL,
					  "forward: the sigmoid loss takes "
					  "targets, not labels");
		for (size_t i = 0; i < nb * k; i++) {
			if (!(targets[i] >= 0.0f && targets[i] <= 1.0f))
				return rf_err_set(e, RF_EINVAL,
						  "forward: target %zu is not "
						  "in [0, 1]", i);
			n->targets[i] = targets[i];
		}
	}
	st = dnnl_memory_set_data_handle(n->t[0].mval, (void *)(uintptr_t)x);
	if (st != dnnl_success)
		return trn__dnnl_err(st, "input", "cannot set the input", e);
	n->train = train;
	n->step = step;
	rc = run(n, &n->fwd, e);
	if (rc)
		return rc;
	rc = loss_value(n, loss, e);
	if (rc)
		return rc;
	n->trained = train;
	return RF_OK;
}

enum rf_rc trn_net_backward(struct trn_net *n, struct rf_err *e)
{
	if (!n || !n->built || !n->trained)
		return rf_err_set(e, RF_EINVAL,
				  "backward: the last forward was not a "
				  "training one");
	return run(n, &n->bwd, e);
}

enum rf_rc trn_net_tensor(struct trn_net *n, int id, float *out,
			  size_t *count, struct rf_err *e)
{
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t p = NULL;
	dnnl_memory_t ms = NULL, md = NULL;
	dnnl_memory_desc_t plain;
	dnnl_dims_t dims = {0};
	dnnl_exec_arg_t args[2];
	const struct trn__tensor *t;
	dnnl_status_t st;
	size_t need;

	if (!n || !n->built)
		return rf_err_set(e, RF_EINVAL, "net is not complete");
	if (id <= 0 || (size_t)id >= n->nt)
		return rf_err_set(e, RF_EINVAL,
				  "tensor %d: unknown or the input", id);
	t = &n->t[id];
	need = (size_t)elems(t->dims);
	if (*count < need) {
		*count = need;
		return rf_err_set(e, RF_ETOOBIG,
				  "tensor %d: %zu elements do not fit", id,
				  need);
	}
	*count = need;
	memcpy(dims, t->dims, sizeof t->dims);
	st = dnnl_memory_desc_init_by_tag(&plain, t->ndims, dims, dnnl_f32,
					  t->ndims == 4 ? dnnl_abcd : dnnl_ab);
	if (st == dnnl_success)
		st = dnnl_reorder_primitive_desc_create(&pd, &t->md, n->eng,
							&plain, n->eng, NULL);
	if (st == dnnl_success)
		st = dnnl_primitive_create(&p, pd);
	if (st == dnnl_success)
		st = dnnl_memory_create(&ms, &t->md, n->eng, t->val);
	if (st == dnnl_success)
		st = dnnl_memory_create(&md, &plain, n->eng, out);
	if (st == dnnl_success) {
		args[0].arg = DNNL_ARG_FROM;
		args[0].memory = ms;
		args[1].arg = DNNL_ARG_TO;
		args[1].memory = md;
		st = dnnl_primitive_execute(p, n->strm, 2, args);
	}
	if (st == dnnl_success)
		st = dnnl_stream_wait(n->strm);
	dnnl_memory_destroy(ms);
	dnnl_memory_destroy(md);
	dnnl_primitive_destroy(p);
	dnnl_primitive_desc_destroy(pd);
	if (st != dnnl_success)
		return trn__dnnl_err(st, "tensor", "cannot read", e);
	return RF_OK;
}
