/*
 * trn_optim.c - SGD and Adam as in PyTorch 1.13 (torch.optim, the
 * single-tensor paths), with FedProx's proximal term.
 *
 * Every parameter is processed in blocks of BLOCK elements: the effective
 * gradient of a block (FedProx term, then weight decay) goes into a small
 * stack buffer, then plain loops of the optimizer's kind update the block.
 * Choices between loop variants are made per block, never per element.
 * All loops but Adam's last (sqrtf sets errno, which keeps GCC from
 * vectorising it without -fno-math-errno) vectorise at -O2.
 *
 * Rounding follows PyTorch's CPU kernels op by op. Scalars are rounded to
 * float32 where PyTorch does (Tensor.mul_(beta1), alpha=1-beta1 computed in
 * double then rounded), and Adam's bias corrections and step size are
 * computed in double as in Python. PyTorch's AVX2 kernels fuse the
 * multiply-add of `add(x, alpha=a)` and of addcmul_; fma_f32() evaluates
 * those in double (the product of two floats is exact there) and rounds
 * once more to float, which equals the fused result except for rare ties
 * after double rounding, and vectorises without FMA hardware.
 */
#include "trn_optim.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "rf_alloc.h"

/* Elements per block: the effective gradient buffer lives on the stack. */
#define BLOCK 1024

struct trn_optim {
	struct trn_optim_config cfg;
	struct trn_param *params;
	size_t n;
	size_t total;    /* elements over all parameters */
	float *state1;   /* SGD momentum buffer or Adam exp_avg; total */
	float *state2;   /* Adam exp_avg_sq; total (NULL for SGD) */
	float *anchor;   /* FedProx anchor; total (NULL when prox_mu is 0) */
	uint64_t steps;  /* steps taken */
	/* a partial block's w, g, anchor and state, zero-padded */
	float tail[5][BLOCK];
};

enum trn_optim_kind trn_optim_kind_from_name(const char *name)
{
	if (!name)
		return 0;
	if (strcmp(name, "sgd") == 0)
		return TRN_OPTIM_SGD;
	if (strcmp(name, "adam") == 0)
		return TRN_OPTIM_ADAM;
	return 0;
}

const char *trn_optim_kind_name(enum trn_optim_kind k)
{
	switch (k) {
	case TRN_OPTIM_SGD:
		return "sgd";
	case TRN_OPTIM_ADAM:
		return "adam";
	}
	return "unknown";
}

/* a * b + c rounded to float32 from its double value (see the top). */
static inline float fma_f32(float a, float b, float c)
{
	return (float)((double)a * (double)b + (double)c);
}

static enum rf_rc check_config(const struct trn_optim_config *c,
			       struct rf_err *e)
{
	if (c->kind != TRN_OPTIM_SGD && c->kind != TRN_OPTIM_ADAM)
		return rf_err_set(e, RF_EINVAL, "unknown optimizer kind %d",
				  (int)c->kind);
	if (!(c->lr > 0) || !isfinite(c->lr))
		return rf_err_set(e, RF_EINVAL,
				  "learning rate %g: must be > 0", c->lr);
	if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
		return rf_err_set(e, RF_EINVAL,
				  "weight decay %g: must be >= 0",
				  c->weight_decay);
	if (!(c->prox_mu >= 0) || !isfinite(c->prox_mu))
		return rf_err_set(e, RF_EINVAL,
				  "proximal mu %g: must be >= 0", c->prox_mu);
	if (c->kind == TRN_OPTIM_SGD &&
	    (!(c->momentum >= 0) || !(c->momentum < 1)))
		return rf_err_set(e, RF_EINVAL,
				  "momentum %g: must be in [0, 1)",
				  c->momentum);
	if (c->kind == TRN_OPTIM_ADAM) {
		if (!(c->beta1 >= 0) || !(c->beta1 < 1))
			return rf_err_set(e, RF_EINVAL,
					  "beta1 %g: must be in [0, 1)",
					  c->beta1);
		if (!(c->beta2 >= 0) || !(c->beta2 < 1))
			return rf_err_set(e, RF_EINVAL,
					  "beta2 %g: must be in [0, 1)",
					  c->beta2);
		if (!(c->eps >= 0) || !isfinite(c->eps))
			return rf_err_set(e, RF_EINVAL,
					  "epsilon %g: must be > 0", c->eps);
	}
	return RF_OK;
}

enum rf_rc trn_optim_create(const struct trn_optim_config *cfg,
			    struct trn_param *params, size_t n,
			    struct trn_optim **out, struct rf_err *e)
{
	struct trn_optim *o = NULL;
	size_t total = 0;
	enum rf_rc rc;

	*out = NULL;
	if (!cfg || (n > 0 && !params))
		return rf_err_set(e, RF_EINVAL, "optimizer: no parameters");
	rc = check_config(cfg, e);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (params[i].count > 0 && (!params[i].w || !params[i].g))
			return rf_err_set(e, RF_EINVAL,
					  "parameter '%.*s' has no values",
					  TRN_PARAM_PATH_MAX,
					  params[i].path);
		if (params[i].count > SIZE_MAX / 4 - total)
			return rf_err_set(e, RF_ETOOBIG,
					  "optimizer: too many parameters");
		total += params[i].count;
	}
	o = rf_calloc(1, sizeof(*o));
	if (!o)
		goto nomem;
	o->cfg = *cfg;
	if (o->cfg.kind == TRN_OPTIM_ADAM) {
		if (o->cfg.beta1 == 0 && o->cfg.beta2 == 0) {
			o->cfg.beta1 = 0.9f;
			o->cfg.beta2 = 0.999f;
		}
		if (o->cfg.eps == 0)
			o->cfg.eps = 1e-8f;
	}
	o->params = params;
	o->n = n;
	o->total = total;
	if (o->cfg.kind == TRN_OPTIM_ADAM || o->cfg.momentum != 0) {
		o->state1 = rf_calloc(total ? total : 1, sizeof(float));
		if (!o->state1)
			goto nomem;
	}
	if (o->cfg.kind == TRN_OPTIM_ADAM) {
		o->state2 = rf_calloc(total ? total : 1, sizeof(float));
		if (!o->state2)
			goto nomem;
	}
	if (o->cfg.prox_mu > 0) {
		o->anchor = rf_mallocarray(total ? total : 1, sizeof(float));
		if (!o->anchor)
			goto nomem;
		rc = trn_optim_set_anchor(o, e);
		if (rc) {
			trn_optim_destroy(o);
			return rc;
		}
	}
	*out = o;
	return RF_OK;
nomem:
	trn_optim_destroy(o);
	return rf_err_set(e, RF_ENOMEM, "out of memory");
}

enum rf_rc trn_optim_set_anchor(struct trn_optim *o, struct rf_err *e)
{
	size_t off = 0;

	(void)e;
	if (!o->anchor)
		return RF_OK;
	for (size_t i = 0; i < o->n; i++) {
		const struct trn_param *p = &o->params[i];

		if (p->count)
			memcpy(o->anchor + off, p->w, p->count * sizeof(float));
		off += p->count;
	}
	return RF_OK;
}

void trn_optim_set_lr(struct trn_optim *o, float lr)
{
	o->cfg.lr = lr;
}

/* Per-step scalars, as PyTorch (and Python, for Adam's) computes them. */
struct step_scalars {
	float nlr, mom, mu, wd; /* -lr; SGD momentum; FedProx mu; decay */
	float b1, omb1;         /* Adam: beta1 and 1 - beta1 (in double) */
	float b2, omb2;         /* beta2 and 1 - beta2 */
	float bc2_sqrt;         /* sqrt(1 - beta2^t) */
	float neg_step;         /* -lr / (1 - beta1^t) */
	float eps;
};

/*
 * The loops below always run over BLOCK elements through restrict
 * pointers: with a constant trip count and no aliasing, GCC vectorises
 * them at -O2. A parameter's last, partial block is copied into the
 * optimizer's zero-padded tail buffers first and its results copied back.
 */

/* d = g (+ mu * (w - a)) (+ wd * w), in PyTorch's order: the proximal term
 * as `p.grad += mu * (p - anchor)` (two roundings), weight decay as
 * `grad.add(p, alpha=wd)` (fused). */
static void effective_grad(const struct step_scalars *s,
			   const float *restrict w, const float *restrict g,
			   const float *restrict a, float *restrict d)
{
	if (a) {
		for (size_t i = 0; i < BLOCK; i++)
			d[i] = g[i] + s->mu * (w[i] - a[i]);
	} else {
		memcpy(d, g, BLOCK * sizeof(float));
	}
	if (s->wd != 0) {
		for (size_t i = 0; i < BLOCK; i++)
			d[i] = fma_f32(w[i], s->wd, d[i]);
	}
}

/* torch.optim.SGD, dampening 0, no nesterov:
 *   buf = d (first step) or buf * momentum + d;  w = w - lr * buf */
static void sgd_block(const struct step_scalars *s, bool first,
		      float *restrict w, float *restrict buf,
		      const float *restrict d)
{
	if (!buf) {
		for (size_t i = 0; i < BLOCK; i++)
			w[i] = fma_f32(d[i], s->nlr, w[i]);
		return;
	}
	if (first) {
		memcpy(buf, d, BLOCK * sizeof(float));
	} else {
		for (size_t i = 0; i < BLOCK; i++)
			buf[i] = buf[i] * s->mom + d[i];
	}
	for (size_t i = 0; i < BLOCK; i++)
		w[i] = fma_f32(buf[i], s->nlr, w[i]);
}

/* torch.optim.Adam, amsgrad off:
 *   m = m * b1 + (1 - b1) * d;  v = v * b2 + ((1 - b2) * d) * d
 *   w = w + (-step_size * m) / (sqrt(v) / sqrt(bc2) + eps) */
static void adam_block(const struct step_scalars *s, float *restrict w,
		       float *restrict m1, float *restrict m2,
		       const float *restrict d)
{
	for (size_t i = 0; i < BLOCK; i++) {
		m1[i] = fma_f32(d[i], s->omb1, m1[i] * s->b1);
		m2[i] = fma_f32(s->omb2 * d[i], d[i], m2[i] * s->b2);
	}
	for (size_t i = 0; i < BLOCK; i++)
		w[i] = w[i] + s->neg_step * m1[i] /
			      (sqrtf(m2[i]) / s->bc2_sqrt + s->eps);
}

/* Copies m floats of each non-NULL src[i] to the start of the zeroed
 * dst[i] and points src[i] at it. */
static void tail_in(float *dst[5], const float *src[5], size_t m)
{
	for (int i = 0; i < 5; i++) {
		if (!src[i])
			continue;
		memset(dst[i], 0, BLOCK * sizeof(float));
		memcpy(dst[i], src[i], m * sizeof(float));
		src[i] = dst[i];
	}
}

/* Updates elements [k, k + m) of the flat state with the values w and
 * gradients g of one parameter (m <= BLOCK). */
static void block_step(struct trn_optim *o, const struct step_scalars *s,
		       float *w, const float *g, size_t k, size_t m)
{
	float d[BLOCK];
	float *pw = w, *p1 = o->state1 ? o->state1 + k : NULL;
	float *p2 = o->state2 ? o->state2 + k : NULL;
	const float *src[5] = {w, g, o->anchor ? o->anchor + k : NULL, p1, p2};
	float *tail[5] = {o->tail[0], o->tail[1], o->tail[2], o->tail[3],
			  o->tail[4]};

	if (m < BLOCK) {
		tail_in(tail, src, m);
		pw = tail[0];
		p1 = p1 ? tail[3] : NULL;
		p2 = p2 ? tail[4] : NULL;
	}
	effective_grad(s, pw, src[1], src[2], d);
	if (o->cfg.kind == TRN_OPTIM_ADAM)
		adam_block(s, pw, p1, p2, d);
	else
		sgd_block(s, o->steps == 0, pw, p1, d);
	if (m < BLOCK) {
		memcpy(w, pw, m * sizeof(float));
		if (p1)
			memcpy(o->state1 + k, p1, m * sizeof(float));
		if (p2)
			memcpy(o->state2 + k, p2, m * sizeof(float));
	}
}

void trn_optim_step(struct trn_optim *o)
{
	struct step_scalars s = {0};
	size_t off = 0;

	s.nlr = -o->cfg.lr;
	s.mom = o->cfg.momentum;
	s.mu = o->cfg.prox_mu;
	s.wd = o->cfg.weight_decay;
	if (o->cfg.kind == TRN_OPTIM_ADAM) {
		double t = (double)(o->steps + 1);
		double b1 = o->cfg.beta1, b2 = o->cfg.beta2;
		double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);

		s.b1 = o->cfg.beta1;
		s.b2 = o->cfg.beta2;
		s.omb1 = (float)(1.0 - b1);
		s.omb2 = (float)(1.0 - b2);
		s.bc2_sqrt = (float)sqrt(bc2);
		s.neg_step = (float)-((double)o->cfg.lr / bc1);
		s.eps = o->cfg.eps;
	}
	for (size_t i = 0; i < o->n; i++) {
		struct trn_param *p = &o->params[i];
		size_t j = 0;

		for (; p->count - j >= BLOCK; j += BLOCK)
			block_step(o, &s, p->w + j, p->g + j, off + j, BLOCK);
		if (j < p->count)
			block_step(o, &s, p->w + j, p->g + j, off + j,
				   p->count - j);
		off += p->count;
	}
	o->steps++;
}

void trn_optim_destroy(struct trn_optim *o)
{
	if (!o)
		return;
	rf_free(o->state1);
	rf_free(o->state2);
	rf_free(o->anchor);
	rf_free(o);
}
