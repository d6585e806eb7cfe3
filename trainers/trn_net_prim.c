/*
 * trn_net_prim.c - layouts, primitives and buffers of a net, made once by
 * trn_net_loss: the forward op list in layer order, then the backward op
 * list from the loss back to the first layer.
 *
 * Layouts: convolutions and inner products take "any" for source, weights
 * and destination; the destination layout they choose becomes the tensor's
 * layout, which element-wise layers, pooling and norms keep. A reorder is
 * inserted only where a primitive chose another layout than the tensor it
 * reads. A tensor's gradient has the tensor's layout; the first backward
 * writer of a gradient (the last consumer in forward order) overwrites it,
 * later ones accumulate with a reorder whose sum post-op adds.
 */
#include <stdio.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "rf_alloc.h"
#include "rf_crypto.h"
#include "trn_net_impl.h"

#define CK(call, lname, what)                                                 \
	do {                                                                  \
		dnnl_status_t st_ = (call);                                   \
		if (st_ != dnnl_success)                                      \
			return trn__dnnl_err(st_, (lname), (what), e);        \
	} while (0)

#define TRY(call)                                                             \
	do {                                                                  \
		enum rf_rc rc_ = (call);                                      \
		if (rc_ != RF_OK)                                             \
			return rc_;                                           \
	} while (0)

#define NORM_EPS 1e-5f

enum rf_rc trn__dnnl_err(dnnl_status_t st, const char *layer,
			 const char *what, struct rf_err *e)
{
	enum rf_rc rc = RF_EINTERNAL;

	if (st == dnnl_unimplemented)
		rc = RF_EUNSUPPORTED;
	else if (st == dnnl_out_of_memory)
		rc = RF_ENOMEM;
	return rf_err_set(e, rc, "layer '%s': %s: %s", layer, what,
			  dnnl_status2str(st));
}

/* Grows a pointer array to hold one more element. */
static bool grow(void **v, size_t *cap, size_t len, size_t elem)
{
	size_t ncap;
	void *p;

	if (len < *cap)
		return true;
	ncap = *cap ? 2 * *cap : 32;
	p = rf_realloc(*v, ncap * elem);
	if (!p)
		return false;
	*v = p;
	*cap = ncap;
	return true;
}

float *trn__buf(struct trn_net *n, size_t bytes)
{
	void *raw;

	if (!grow((void **)&n->bufs, &n->buf_cap, n->nbuf, sizeof *n->bufs))
		return NULL;
	raw = rf_calloc(1, bytes + 64);
	if (!raw)
		return NULL;
	n->bufs[n->nbuf++] = raw;
	return (float *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
}

static enum rf_rc buf_new(struct trn_net *n, size_t bytes, float **out,
			  const char *lname, struct rf_err *e)
{
	*out = trn__buf(n, bytes);
	if (!*out)
		return rf_err_set(e, RF_ENOMEM,
				  "layer '%s': cannot allocate %zu bytes",
				  lname, bytes);
	return RF_OK;
}

static enum rf_rc mem_new(struct trn_net *n, const dnnl_memory_desc_t *md,
			  void *ptr, dnnl_memory_t *out, const char *lname,
			  struct rf_err *e)
{
	if (!grow((void **)&n->mems, &n->mem_cap, n->nmem, sizeof *n->mems))
		return rf_err_set(e, RF_ENOMEM,
				  "layer '%s': cannot allocate", lname);
	CK(dnnl_memory_create(out, md, n->eng, ptr), lname,
	   "cannot create a memory object");
	n->mems[n->nmem++] = *out;
	return RF_OK;
}

static void md_dims(const struct trn__tensor *t, dnnl_dims_t d)
{
	for (int i = 0; i < t->ndims; i++)
		d[i] = t->dims[i];
}

static enum rf_rc md_make(dnnl_memory_desc_t *md, int ndims,
			  const dnnl_dims_t d, dnnl_format_tag_t tag,
			  const char *lname, struct rf_err *e)
{
	if (tag == dnnl_abcd && ndims == 2)
		tag = dnnl_ab;
	else if (tag == dnnl_abcd && ndims == 1)
		tag = dnnl_a;
	CK(dnnl_memory_desc_init_by_tag(md, ndims, d, dnnl_f32, tag), lname,
	   "cannot describe a tensor");
	return RF_OK;
}

static size_t md_size(const dnnl_memory_desc_t *md)
{
	return dnnl_memory_desc_get_size(md);
}

static const dnnl_memory_desc_t *query(const_dnnl_primitive_desc_t pd,
				       dnnl_query_t what, int index)
{
	return dnnl_primitive_desc_query_md(pd, what, index);
}

static struct trn__op *op_new(struct trn_net *n, struct trn__oplist *L,
			      struct trn__layer *l, const char *lname,
			      struct rf_err *e)
{
	struct trn__op *o;

	if (!grow((void **)&L->v, &L->cap, L->n, sizeof *L->v)) {
		rf_err_set(e, RF_ENOMEM, "layer '%s': cannot allocate", lname);
		return NULL;
	}
	o = &L->v[L->n++];
	memset(o, 0, sizeof *o);
	o->l = l;
	(void)n;
	return o;
}

static void op_arg(struct trn__op *o, int arg, dnnl_memory_t m)
{
	o->args[o->nargs].arg = arg;
	o->args[o->nargs].memory = m;
	o->nargs++;
}

/* Creates the primitive of pd and appends its op (with the shared
 * scratchpad) to L; *out is valid until the next op_new. */
static enum rf_rc prim_op(struct trn_net *n, struct trn__oplist *L,
			  const_dnnl_primitive_desc_t pd, struct trn__layer *l,
			  const char *lname, struct trn__op **out,
			  struct rf_err *e)
{
	const dnnl_memory_desc_t *smd;
	dnnl_memory_t sm = NULL;
	dnnl_primitive_t p;
	struct trn__op *o;
	size_t size;

	if (!grow((void **)&n->prims, &n->prim_cap, n->nprim,
		  sizeof *n->prims) ||
	    !grow((void **)&n->scratch_mems, &n->scratch_cap, n->nscratch,
		  sizeof *n->scratch_mems))
		return rf_err_set(e, RF_ENOMEM, "layer '%s': cannot allocate",
				  lname);
	CK(dnnl_primitive_create(&p, pd), lname, "cannot create a primitive");
	n->prims[n->nprim++] = p;
	smd = query(pd, dnnl_query_scratchpad_md, 0);
	size = smd ? md_size(smd) : 0;
	if (size > 0) {
		CK(dnnl_memory_create(&sm, smd, n->eng, DNNL_MEMORY_NONE),
		   lname, "cannot create the scratchpad");
		n->scratch_mems[n->nscratch++] = sm;
		if (size > n->scratch_size)
			n->scratch_size = size;
	}
	o = op_new(n, L, l, lname, e);
	if (!o)
		return RF_ENOMEM;
	o->prim = p;
	if (sm)
		op_arg(o, DNNL_ARG_SCRATCHPAD, sm);
	*out = o;
	return RF_OK;
}

/* Creates a primitive descriptor from an op descriptor, then its op. */
static enum rf_rc desc_op(struct trn_net *n, struct trn__oplist *L,
			  const void *desc, const_dnnl_primitive_desc_t hint,
			  struct trn__layer *l, const char *lname,
			  const char *what, dnnl_primitive_desc_t *keep,
			  struct trn__op **out, struct rf_err *e)
{
	dnnl_primitive_desc_t pd = NULL;
	enum rf_rc rc;

	CK(dnnl_primitive_desc_create(&pd, desc, n->attr, n->eng, hint),
	   lname, what);
	if (keep) {
		*keep = pd;
		return prim_op(n, L, pd, l, lname, out, e);
	}
	rc = prim_op(n, L, pd, l, lname, out, e);
	dnnl_primitive_desc_destroy(pd);
	return rc;
}

static enum rf_rc reorder_op(struct trn_net *n, struct trn__oplist *L,
			     const dnnl_memory_desc_t *smd, dnnl_memory_t src,
			     const dnnl_memory_desc_t *dmd, dnnl_memory_t dst,
			     bool acc, struct trn__layer *l, const char *lname,
			     struct rf_err *e)
{
	dnnl_primitive_desc_t pd = NULL;
	struct trn__op *o;
	enum rf_rc rc;

	CK(dnnl_reorder_primitive_desc_create(&pd, smd, n->eng, dmd, n->eng,
					      acc ? n->attr_sum : n->attr),
	   lname, "cannot create a reorder");
	rc = prim_op(n, L, pd, l, lname, &o, e);
	dnnl_primitive_desc_destroy(pd);
	if (rc)
		return rc;
	op_arg(o, DNNL_ARG_FROM, src);
	op_arg(o, DNNL_ARG_TO, dst);
	return RF_OK;
}

static enum rf_rc tensor_alloc(struct trn_net *n, struct trn__tensor *t,
			       const char *lname, struct rf_err *e)
{
	size_t size = md_size(&t->md);

	TRY(buf_new(n, size, &t->val, lname, e));
	TRY(mem_new(n, &t->md, t->val, &t->mval, lname, e));
	if (!t->need_grad)
		return RF_OK;
	TRY(buf_new(n, size, &t->diff, lname, e));
	return mem_new(n, &t->md, t->diff, &t->mdiff, lname, e);
}

/* The value of t in layout md for layer l: t itself, or a copy made by a
 * reorder appended to the forward list (always a copy when force). */
static enum rf_rc src_for(struct trn_net *n, struct trn__layer *l,
			  struct trn__tensor *t, const dnnl_memory_desc_t *md,
			  bool force, dnnl_memory_t *mem, float **ptr,
			  struct rf_err *e)
{
	if (!force && dnnl_memory_desc_equal(md, &t->md)) {
		*mem = t->mval;
		*ptr = t->val;
		return RF_OK;
	}
	TRY(buf_new(n, md_size(md), ptr, l->name, e));
	TRY(mem_new(n, md, *ptr, mem, l->name, e));
	return reorder_op(n, &n->fwd, &t->md, t->mval, md, *mem, false, l,
			  l->name, e);
}

/* Where a backward primitive writes the gradient of its input t. */
struct pending {
	struct trn__tensor *t;
	dnnl_memory_desc_t md;
	dnnl_memory_t mem;
	float *ptr;
	bool deliver, acc;
};

static enum rf_rc dsrc_begin(struct trn_net *n, struct trn__layer *l,
			     struct trn__tensor *t,
			     const dnnl_memory_desc_t *md, struct pending *p,
			     struct rf_err *e)
{
	p->t = t;
	p->md = *md;
	p->acc = t->bwd_written;
	t->bwd_written = true;
	if (!p->acc && dnnl_memory_desc_equal(md, &t->md)) {
		p->deliver = false;
		p->mem = t->mdiff;
		p->ptr = t->diff;
		return RF_OK;
	}
	p->deliver = true;
	TRY(buf_new(n, md_size(md), &p->ptr, l ? l->name : "loss", e));
	return mem_new(n, md, p->ptr, &p->mem, l ? l->name : "loss", e);
}

static enum rf_rc dsrc_end(struct trn_net *n, struct trn__layer *l,
			   struct pending *p, struct rf_err *e)
{
	if (!p->deliver)
		return RF_OK;
	return reorder_op(n, &n->bwd, &p->md, p->mem, &p->t->md, p->t->mdiff,
			  p->acc, l, l ? l->name : "loss", e);
}

/* The plain parameter w in the layout md chosen by a primitive: the
 * parameter itself, or a copy reordered at every forward. */
static enum rf_rc weights_for(struct trn_net *n, struct trn__layer *l,
			      const dnnl_memory_desc_t *md,
			      const dnnl_memory_desc_t *plain, float *w,
			      dnnl_memory_t *out, struct rf_err *e)
{
	dnnl_memory_t mp;
	float *buf;

	TRY(mem_new(n, plain, w, &mp, l->name, e));
	if (dnnl_memory_desc_equal(md, plain)) {
		*out = mp;
		return RF_OK;
	}
	TRY(buf_new(n, md_size(md), &buf, l->name, e));
	TRY(mem_new(n, md, buf, out, l->name, e));
	return reorder_op(n, &n->fwd, plain, mp, md, *out, false, l, l->name,
			  e);
}

/* ---- convolution and inner product --------------------------------------- */

static void window(const struct trn__layer *l, dnnl_dims_t strides,
		   dnnl_dims_t kernel, dnnl_dims_t pl, dnnl_dims_t pr)
{
	strides[0] = strides[1] = l->stride;
	kernel[0] = kernel[1] = l->kernel;
	pl[0] = pl[1] = l->pad;
	pr[0] = l->pad_r[0];
	pr[1] = l->pad_r[1];
}

/* Weight dims (plain OIHW, or [out, C, H, W] / [out, C] for fc). */
static int weight_dims(const struct trn_net *n, const struct trn__layer *l,
		       dnnl_dims_t wd)
{
	const struct trn__tensor *ti = &n->t[l->in[0]];

	wd[0] = l->oc;
	wd[1] = ti->dims[1];
	if (l->kind == TRN__CONV) {
		wd[2] = wd[3] = l->kernel;
		return 4;
	}
	wd[2] = ti->dims[2];
	wd[3] = ti->dims[3];
	return ti->ndims;
}

static enum rf_rc wlayer_fwd(struct trn_net *n, struct trn__layer *l,
			     struct rf_err *e)
{
	struct trn__tensor *ti = &n->t[l->in[0]], *to = &n->t[l->out];
	dnnl_memory_desc_t src, w, b, dst, wplain;
	dnnl_dims_t sd, wd, bd = {l->oc}, dd, strides, kernel, pl, pr;
	dnnl_convolution_desc_t cd;
	dnnl_inner_product_desc_t id;
	const void *desc;
	struct trn__op *o;
	int wn = weight_dims(n, l, wd);
	bool bias = l->kind == TRN__FC || l->bias;

	md_dims(ti, sd);
	md_dims(to, dd);
	TRY(md_make(&src, ti->ndims, sd, dnnl_format_tag_any, l->name, e));
	TRY(md_make(&w, wn, wd, dnnl_format_tag_any, l->name, e));
	TRY(md_make(&wplain, wn, wd, dnnl_abcd, l->name, e));
	TRY(md_make(&b, 1, bd, dnnl_abcd, l->name, e));
	TRY(md_make(&dst, to->ndims, dd, dnnl_format_tag_any, l->name, e));
	if (l->kind == TRN__CONV) {
		window(l, strides, kernel, pl, pr);
		CK(dnnl_convolution_forward_desc_init(
			   &cd, dnnl_forward_training, dnnl_convolution_direct,
			   &src, &w, bias ? &b : NULL, &dst, strides, pl, pr),
		   l->name, "cannot describe the convolution");
		desc = &cd;
	} else {
		CK(dnnl_inner_product_forward_desc_init(
			   &id, dnnl_forward_training, &src, &w, &b, &dst),
		   l->name, "cannot describe the inner product");
		desc = &id;
	}
	CK(dnnl_primitive_desc_create(&l->fpd, desc, n->attr, n->eng, NULL),
	   l->name, "cannot create the forward primitive");
	l->src_md = *query(l->fpd, dnnl_query_src_md, 0);
	l->w_md = *query(l->fpd, dnnl_query_weights_md, 0);
	to->md = *query(l->fpd, dnnl_query_dst_md, 0);
	TRY(tensor_alloc(n, to, l->name, e));
	TRY(src_for(n, l, ti, &l->src_md, false, &l->msrc, &l->src, e));
	TRY(weights_for(n, l, &l->w_md, &wplain, l->w, &l->mw, e));
	if (bias)
		TRY(mem_new(n, &b, l->b, &l->mb, l->name, e));
	TRY(prim_op(n, &n->fwd, l->fpd, l, l->name, &o, e));
	op_arg(o, DNNL_ARG_SRC, l->msrc);
	op_arg(o, DNNL_ARG_WEIGHTS, l->mw);
	if (bias)
		op_arg(o, DNNL_ARG_BIAS, l->mb);
	op_arg(o, DNNL_ARG_DST, to->mval);
	return RF_OK;
}

/* mem (layout have) in the layout want that a backward primitive chose:
 * itself, or a copy reordered in the backward list. */
static enum rf_rc bwd_in(struct trn_net *n, struct trn__layer *l,
			 const dnnl_memory_desc_t *want,
			 const dnnl_memory_desc_t *have, dnnl_memory_t mem,
			 dnnl_memory_t *out, struct rf_err *e)
{
	float *buf;

	if (dnnl_memory_desc_equal(want, have)) {
		*out = mem;
		return RF_OK;
	}
	TRY(buf_new(n, md_size(want), &buf, l->name, e));
	TRY(mem_new(n, want, buf, out, l->name, e));
	return reorder_op(n, &n->bwd, have, mem, want, *out, false, l, l->name,
			  e);
}

static enum rf_rc wlayer_bwd_data(struct trn_net *n, struct trn__layer *l,
				  struct rf_err *e)
{
	struct trn__tensor *ti = &n->t[l->in[0]], *to = &n->t[l->out];
	dnnl_memory_desc_t ds, dd, wmd;
	dnnl_dims_t sd, wd, ddims, strides, kernel, pl, pr;
	dnnl_convolution_desc_t cd;
	dnnl_inner_product_desc_t id;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_memory_t mdd = NULL, mw = NULL;
	const void *desc;
	struct trn__op *o;
	struct pending p;
	int wn = weight_dims(n, l, wd);
	enum rf_rc rc;

	TRY(md_make(&wmd, wn, wd, dnnl_format_tag_any, l->name, e));
	md_dims(ti, sd);
	md_dims(to, ddims);
	TRY(md_make(&ds, ti->ndims, sd, dnnl_format_tag_any, l->name, e));
	TRY(md_make(&dd, to->ndims, ddims, dnnl_format_tag_any, l->name, e));
	window(l, strides, kernel, pl, pr);
	if (l->kind == TRN__CONV) {
		CK(dnnl_convolution_backward_data_desc_init(
			   &cd, dnnl_convolution_direct, &ds, &wmd, &dd,
			   strides, pl, pr),
		   l->name, "cannot describe backward data");
		desc = &cd;
	} else {
		CK(dnnl_inner_product_backward_data_desc_init(&id, &ds, &wmd,
							      &dd),
		   l->name, "cannot describe backward data");
		desc = &id;
	}
	CK(dnnl_primitive_desc_create(&pd, desc, n->attr, n->eng, l->fpd),
	   l->name, "cannot create backward data");
	ds = *query(pd, dnnl_query_diff_src_md, 0);
	dd = *query(pd, dnnl_query_diff_dst_md, 0);
	wmd = *query(pd, dnnl_query_weights_md, 0);
	rc = bwd_in(n, l, &dd, &to->md, to->mdiff, &mdd, e);
	if (!rc)
		rc = bwd_in(n, l, &wmd, &l->w_md, l->mw, &mw, e);
	if (!rc)
		rc = dsrc_begin(n, l, ti, &ds, &p, e);
	if (!rc)
		rc = prim_op(n, &n->bwd, pd, l, l->name, &o, e);
	dnnl_primitive_desc_destroy(pd);
	if (rc)
		return rc;
	op_arg(o, DNNL_ARG_DIFF_DST, mdd);
	op_arg(o, DNNL_ARG_WEIGHTS, mw);
	op_arg(o, DNNL_ARG_DIFF_SRC, p.mem);
	return dsrc_end(n, l, &p, e);
}

static enum rf_rc wlayer_bwd(struct trn_net *n, struct trn__layer *l,
			     struct rf_err *e)
{
	struct trn__tensor *ti = &n->t[l->in[0]], *to = &n->t[l->out];
	dnnl_memory_desc_t src, dw, b, dd, wplain;
	dnnl_dims_t sd, wd, bd = {l->oc}, ddims, strides, kernel, pl, pr;
	dnnl_convolution_desc_t cd;
	dnnl_inner_product_desc_t id;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_memory_t mg = NULL, mdw, mdb = NULL, ms = NULL, mdd = NULL;
	const void *desc;
	struct trn__op *o;
	int wn = weight_dims(n, l, wd);
	bool bias = l->kind == TRN__FC || l->bias;
	enum rf_rc rc;

	if (ti->need_grad)
		TRY(wlayer_bwd_data(n, l, e));
	window(l, strides, kernel, pl, pr);
	md_dims(ti, sd);
	md_dims(to, ddims);
	TRY(md_make(&src, ti->ndims, sd, dnnl_format_tag_any, l->name, e));
	TRY(md_make(&dd, to->ndims, ddims, dnnl_format_tag_any, l->name, e));
	TRY(md_make(&dw, wn, wd, dnnl_format_tag_any, l->name, e));
	TRY(md_make(&wplain, wn, wd, dnnl_abcd, l->name, e));
	TRY(md_make(&b, 1, bd, dnnl_abcd, l->name, e));
	if (l->kind == TRN__CONV) {
		CK(dnnl_convolution_backward_weights_desc_init(
			   &cd, dnnl_convolution_direct, &src, &dw,
			   bias ? &b : NULL, &dd, strides, pl, pr),
		   l->name, "cannot describe backward weights");
		desc = &cd;
	} else {
		CK(dnnl_inner_product_backward_weights_desc_init(
			   &id, &src, &dw, &b, &dd),
		   l->name, "cannot describe backward weights");
		desc = &id;
	}
	CK(dnnl_primitive_desc_create(&pd, desc, n->attr, n->eng, l->fpd),
	   l->name, "cannot create backward weights");
	src = *query(pd, dnnl_query_src_md, 0);
	dd = *query(pd, dnnl_query_diff_dst_md, 0);
	dw = *query(pd, dnnl_query_diff_weights_md, 0);
	rc = bwd_in(n, l, &src, &l->src_md, l->msrc, &ms, e);
	if (!rc)
		rc = bwd_in(n, l, &dd, &to->md, to->mdiff, &mdd, e);
	if (!rc)
		rc = mem_new(n, &wplain, l->wg, &mg, l->name, e);
	mdw = mg;
	if (!rc && !dnnl_memory_desc_equal(&dw, &wplain)) {
		float *buf;

		rc = buf_new(n, md_size(&dw), &buf, l->name, e);
		if (!rc)
			rc = mem_new(n, &dw, buf, &mdw, l->name, e);
	}
	if (!rc && bias)
		rc = mem_new(n, &b, l->bg, &mdb, l->name, e);
	if (!rc)
		rc = prim_op(n, &n->bwd, pd, l, l->name, &o, e);
	dnnl_primitive_desc_destroy(pd);
	if (rc)
		return rc;
	op_arg(o, DNNL_ARG_SRC, ms);
	op_arg(o, DNNL_ARG_DIFF_DST, mdd);
	op_arg(o, DNNL_ARG_DIFF_WEIGHTS, mdw);
	if (bias)
		op_arg(o, DNNL_ARG_DIFF_BIAS, mdb);
	if (mdw != mg)
		TRY(reorder_op(n, &n->bwd, &dw, mdw, &wplain, mg, false, l,
			       l->name, e));
	return RF_OK;
}

/* ---- element-wise, pooling ----------------------------------------------- */

static enum rf_rc relu_fwd(struct trn_net *n, struct trn__layer *l,
			   struct rf_err *e)
{
	struct trn__tensor *ti = &n->t[l->in[0]], *to = &n->t[l->out];
	dnnl_eltwise_desc_t d;
	struct trn__op *o;

	to->md = ti->md;
	TRY(tensor_alloc(n, to, l->name, e));
	CK(dnnl_eltwise_forward_desc_init(&d, dnnl_forward_training,
					  dnnl_eltwise_relu, &ti->md, 0, 0),
	   l->name, "cannot describe relu");
	TRY(desc_op(n, &n->fwd, &d, NULL, l, l->name, "cannot create relu",
		    &l->fpd, &o, e));
	op_arg(o, DNNL_ARG_SRC, ti->mval);
	op_arg(o, DNNL_ARG_DST, to->mval);
	return RF_OK;
}

static enum rf_rc relu_bwd(struct trn_net *n, struct trn__layer *l,
			   struct rf_err *e)
{
	struct trn__tensor *ti = &n->t[l->in[0]], *to = &n->t[l->out];
	dnnl_eltwise_desc_t d;
	struct trn__op *o;
	struct pending p;

	CK(dnnl_eltwise_backward_desc_init(&d, dnnl_eltwise_relu, &ti->md,
					   &ti->md, 0, 0),
	   l->name, "cannot describe relu backward");
	TRY(dsrc_begin(n, l, ti, &ti->md, &p, e));
	TRY(desc_op(n, &n->bwd, &d, l->fpd, l, l->name,
		    "cannot create relu backward", NULL, &o, e));
	op_arg(o, DNNL_ARG_SRC, ti->mval);
	op_arg(o, DNNL_ARG_DIFF_DST, to->mdiff);
	op_arg(o, DNNL_ARG_DIFF_SRC, p.mem);
	return dsrc_end(n, l, &p, e);
}

static dnnl_alg_kind_t pool_alg(const struct trn__layer *l)
{
	if (l->kind == TRN__MAXPOOL || l->kind == TRN__GMP)
		return dnnl_pooling_max;
	if (l->kind == TRN__AVGPOOL)
		return dnnl_pooling_avg_include_padding;
	return dnnl_pooling_avg_exclude_padding;
}

static void pool_window(const struct trn_net *n, const struct trn__layer *l,
			dnnl_dims_t strides, dnnl_dims_t kernel,
			dnnl_dims_t pl, dnnl_dims_t pr)
{
	if (l->kind != TRN__GAP && l->kind != TRN__GMP) {
		window(l, strides, kernel, pl, pr);
		return;
	}
	strides[0] = strides[1] = 1;
	kernel[0] = n->t[l->in[0]].dims[2];
	kernel[1] = n->t[l->in[0]].dims[3];
	pl[0] = pl[1] = pr[0] = pr[1] = 0;
}

static enum rf_rc pool_fwd(struct trn_net *n, struct trn__layer *l,
			   struct rf_err *e)
{
	struct trn__tensor *ti = &n->t[l->in[0]], *to = &n->t[l->out];
	dnnl_dims_t dd, strides, kernel, pl, pr;
	dnnl_memory_desc_t dst;
	const dnnl_memory_desc_t *ws;
	dnnl_pooling_desc_t d;
	struct trn__op *o;

	md_dims(to, dd);
	TRY(md_make(&dst, 4, dd, dnnl_format_tag_any, l->name, e));
	pool_window(n, l, strides, kernel, pl, pr);
	CK(dnnl_pooling_forward_desc_init(&d, dnnl_forward_training,
					  pool_alg(l), &ti->md, &dst, strides,
					  kernel, pl, pr),
	   l->name, "cannot describe the pooling");
	CK(dnnl_primitive_desc_create(&l->fpd, &d, n->attr, n->eng, NULL),
	   l->name, "cannot create the pooling");
	to->md = *query(l->fpd, dnnl_query_dst_md, 0);
	TRY(tensor_alloc(n, to, l->name, e));
	ws = query(l->fpd, dnnl_query_workspace_md, 0);
	if (ws && md_size(ws) > 0) {
		float *buf;

		TRY(buf_new(n, md_size(ws), &buf, l->name, e));
		TRY(mem_new(n, ws, buf, &l->mws, l->name, e));
	}
	TRY(prim_op(n, &n->fwd, l->fpd, l, l->name, &o, e));
	op_arg(o, DNNL_ARG_SRC, ti->mval);
	op_arg(o, DNNL_ARG_DST, to->mval);
	if (l->mws)
		op_arg(o, DNNL_ARG_WORKSPACE, l->mws);
	return RF_OK;
}

static enum rf_rc pool_bwd(struct trn_net *n, struct trn__layer *l,
			   struct rf_err *e)
{
	struct trn__tensor *ti = &n->t[l->in[0]], *to = &n->t[l->out];
	dnnl_dims_t strides, kernel, pl, pr;
	dnnl_pooling_desc_t d;
	struct trn__op *o;
	struct pending p;

	pool_window(n, l, strides, kernel, pl, pr);
	CK(dnnl_pooling_backward_desc_init(&d, pool_alg(l), &ti->md, &to->md,
					   strides, kernel, pl, pr),
	   l->name, "cannot describe pooling backward");
	TRY(dsrc_begin(n, l, ti, &ti->md, &p, e));
	TRY(desc_op(n, &n->bwd, &d, l->fpd, l, l->name,
		    "cannot create pooling backward", NULL, &o, e));
	op_arg(o, DNNL_ARG_DIFF_DST, to->mdiff);
	if (l->mws)
		op_arg(o, DNNL_ARG_WORKSPACE, l->mws);
	op_arg(o, DNNL_ARG_DIFF_SRC, p.mem);
	return dsrc_end(n, l, &p, e);
}

/* ---- dropout, add -------------------------------------------------------- */

static enum rf_rc binary_op(struct trn_net *n, struct trn__oplist *L,
			    struct trn__layer *l, dnnl_alg_kind_t alg,
			    const dnnl_memory_desc_t *s0, dnnl_memory_t m0,
			    const dnnl_memory_desc_t *s1, dnnl_memory_t m1,
			    const dnnl_memory_desc_t *d, dnnl_memory_t md,
			    struct rf_err *e)
{
	dnnl_binary_desc_t bd;
	struct trn__op *o;

	CK(dnnl_binary_desc_init(&bd, alg, s0, s1, d), l->name,
	   "cannot describe a binary operation");
	TRY(desc_op(n, L, &bd, NULL, l, l->name,
		    "cannot create a binary operation", NULL, &o, e));
	op_arg(o, DNNL_ARG_SRC_0, m0);
	op_arg(o, DNNL_ARG_SRC_1, m1);
	op_arg(o, DNNL_ARG_DST, md);
	return RF_OK;
}

static enum rf_rc dropout_fwd(struct trn_net *n, struct trn__layer *l,
			      struct rf_err *e)
{
	struct trn__tensor *ti = &n->t[l->in[0]], *to = &n->t[l->out];
	uint8_t seed[8];
	size_t size = md_size(&ti->md);
	struct trn__op *o;

	to->md = ti->md;
	TRY(tensor_alloc(n, to, l->name, e));
	TRY(buf_new(n, size, &l->mask, l->name, e));
	TRY(buf_new(n, size, (float **)(void *)&l->bits, l->name, e));
	TRY(mem_new(n, &ti->md, l->mask, &l->mmask, l->name, e));
	l->mask_count = size / sizeof(float);
	for (int i = 0; i < 8; i++)
		seed[i] = (uint8_t)(n->seed >> (8 * i));
	TRY(rf_hmac_sha256(seed, sizeof seed, l->name, strlen(l->name),
			   l->key, e));
	o = op_new(n, &n->fwd, l, l->name, e);
	if (!o)
		return RF_ENOMEM;
	o->fn = trn__dropout_mask;
	return binary_op(n, &n->fwd, l, dnnl_binary_mul, &ti->md, ti->mval,
			 &ti->md, l->mmask, &to->md, to->mval, e);
}

static enum rf_rc dropout_bwd(struct trn_net *n, struct trn__layer *l,
			      struct rf_err *e)
{
	struct trn__tensor *ti = &n->t[l->in[0]], *to = &n->t[l->out];
	struct pending p;

	TRY(dsrc_begin(n, l, ti, &ti->md, &p, e));
	TRY(binary_op(n, &n->bwd, l, dnnl_binary_mul, &to->md, to->mdiff,
		      &ti->md, l->mmask, &p.md, p.mem, e));
	return dsrc_end(n, l, &p, e);
}

static enum rf_rc add_fwd(struct trn_net *n, struct trn__layer *l,
			  struct rf_err *e)
{
	struct trn__tensor *ta = &n->t[l->in[0]], *tb = &n->t[l->in[1]];
	struct trn__tensor *to = &n->t[l->out];

	to->md = ta->md;
	TRY(tensor_alloc(n, to, l->name, e));
	TRY(src_for(n, l, tb, &ta->md, false, &l->msrc, &l->src, e));
	return binary_op(n, &n->fwd, l, dnnl_binary_add, &ta->md, ta->mval,
			 &ta->md, l->msrc, &to->md, to->mval, e);
}

static enum rf_rc add_bwd(struct trn_net *n, struct trn__layer *l,
			  struct rf_err *e)
{
	struct trn__tensor *to = &n->t[l->out];

	for (int i = 0; i < 2; i++) {
		struct trn__tensor *t = &n->t[l->in[i]];
		bool acc = t->bwd_written;

		if (!t->need_grad)
			continue;
		t->bwd_written = true;
		TRY(reorder_op(n, &n->bwd, &to->md, to->mdiff, &t->md,
			       t->mdiff, acc, l, l->name, e));
	}
	return RF_OK;
}

/* ---- group norm ---------------------------------------------------------- */

/* The layout the norm works in: the input's own when every (sample, group)
 * is one contiguous run in it (plain, or channel blocks that divide the
 * group), else plain. */
static enum rf_rc norm_layout(const struct trn__tensor *ti,
			      const struct trn__layer *l,
			      dnnl_memory_desc_t *work, dnnl_format_tag_t *tag,
			      struct rf_err *e)
{
	dnnl_memory_desc_t b;
	dnnl_dims_t d;
	int64_t cpg = ti->dims[1] / l->groups;

	md_dims(ti, d);
	*tag = dnnl_abcd;
	TRY(md_make(work, ti->ndims, d, dnnl_abcd, l->name, e));
	if (ti->ndims != 4 || dnnl_memory_desc_equal(work, &ti->md))
		return RF_OK;
	TRY(md_make(&b, 4, d, dnnl_nChw16c, l->name, e));
	if (cpg % 16 == 0 && dnnl_memory_desc_equal(&b, &ti->md)) {
		*work = b;
		*tag = dnnl_nChw16c;
		return RF_OK;
	}
	TRY(md_make(&b, 4, d, dnnl_nChw8c, l->name, e));
	if (cpg % 8 == 0 && dnnl_memory_desc_equal(&b, &ti->md)) {
		*work = b;
		*tag = dnnl_nChw8c;
	}
	return RF_OK;
}

/* y = xhat * scale + shift in one pass: a binary mul with a binary add
 * post-op, both on [1, C, 1, 1] operands. */
static enum rf_rc scale_shift(struct trn_net *n, struct trn__layer *l,
			      struct trn__tensor *to, struct rf_err *e)
{
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_binary_desc_t bd;
	struct trn__op *o;
	dnnl_status_t st;
	enum rf_rc rc;

	CK(dnnl_binary_desc_init(&bd, dnnl_binary_mul, &l->src_md,
				 &l->chan_md, &to->md),
	   l->name, "cannot describe the scale");
	CK(dnnl_primitive_attr_clone(&attr, n->attr), l->name,
	   "cannot create attributes");
	st = dnnl_post_ops_create(&po);
	if (st == dnnl_success)
		st = dnnl_post_ops_append_binary(po, dnnl_binary_add,
						 &l->chan_md);
	if (st == dnnl_success)
		st = dnnl_primitive_attr_set_post_ops(attr, po);
	if (st == dnnl_success)
		st = dnnl_primitive_desc_create(&pd, &bd, attr, n->eng, NULL);
	dnnl_post_ops_destroy(po);
	dnnl_primitive_attr_destroy(attr);
	if (st != dnnl_success)
		return trn__dnnl_err(st, l->name,
				     "cannot create the scale and shift", e);
	rc = prim_op(n, &n->fwd, pd, l, l->name, &o, e);
	dnnl_primitive_desc_destroy(pd);
	if (rc)
		return rc;
	op_arg(o, DNNL_ARG_SRC_0, l->mxhat);
	op_arg(o, DNNL_ARG_SRC_1, l->mw);
	op_arg(o, DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, l->mb);
	op_arg(o, DNNL_ARG_DST, to->mval);
	return RF_OK;
}

static enum rf_rc norm_fwd(struct trn_net *n, struct trn__layer *l,
			   struct rf_err *e)
{
	struct trn__tensor *ti = &n->t[l->in[0]], *to = &n->t[l->out];
	int64_t ng = ti->dims[0] * l->groups;
	dnnl_dims_t vd = {ng, ti->dims[1] / l->groups * ti->dims[2] *
				      ti->dims[3]};
	dnnl_dims_t cd = {1, ti->dims[1], 1, 1}, sd = {ng};
	dnnl_memory_desc_t stat;
	dnnl_layer_normalization_desc_t d;
	dnnl_format_tag_t tag;
	dnnl_memory_t mxv;
	float *mean, *var;
	struct trn__op *o;

	TRY(norm_layout(ti, l, &l->src_md, &tag, e));
	TRY(md_make(&l->view_md, 2, vd, dnnl_ab, l->name, e));
	/* [1, C, 1, 1] in the work layout's tag: the same bytes as plain [C]
	 * (the block divides C), and what the jit binary kernels want */
	TRY(md_make(&l->chan_md, ti->ndims, cd, tag, l->name, e));
	TRY(md_make(&stat, 1, sd, dnnl_a, l->name, e));
	to->md = l->src_md;
	TRY(tensor_alloc(n, to, l->name, e));
	TRY(src_for(n, l, ti, &l->src_md, l->in[0] == TRN_NET_INPUT,
		    &l->msrc, &l->src, e));
	TRY(mem_new(n, &l->view_md, l->src, &l->msrc_view, l->name, e));
	TRY(buf_new(n, md_size(&l->src_md), &l->xhat, l->name, e));
	TRY(mem_new(n, &l->src_md, l->xhat, &l->mxhat, l->name, e));
	TRY(mem_new(n, &l->view_md, l->xhat, &mxv, l->name, e));
	TRY(buf_new(n, md_size(&stat), &mean, l->name, e));
	TRY(buf_new(n, md_size(&stat), &var, l->name, e));
	TRY(mem_new(n, &stat, mean, &l->mmean, l->name, e));
	TRY(mem_new(n, &stat, var, &l->mvar, l->name, e));
	TRY(mem_new(n, &l->chan_md, l->w, &l->mw, l->name, e));
	TRY(mem_new(n, &l->chan_md, l->b, &l->mb, l->name, e));
	l->stat_md = stat;
	CK(dnnl_layer_normalization_forward_desc_init(
		   &d, dnnl_forward_training, &l->view_md, &stat, NORM_EPS,
		   dnnl_normalization_flags_none),
	   l->name, "cannot describe the normalisation");
	TRY(desc_op(n, &n->fwd, &d, NULL, l, l->name,
		    "cannot create the normalisation", &l->fpd, &o, e));
	op_arg(o, DNNL_ARG_SRC, l->msrc_view);
	op_arg(o, DNNL_ARG_DST, mxv);
	op_arg(o, DNNL_ARG_MEAN, l->mmean);
	op_arg(o, DNNL_ARG_VARIANCE, l->mvar);
	return scale_shift(n, l, to, e);
}

/* out[c] = sum over n, h, w of the tensor ms (layout s): the average
 * pooling over H x W (a jit kernel on blocked layouts), then a reduction
 * over the batch scaled back by H * W with a linear post-op. */
static enum rf_rc reduce_op(struct trn_net *n, struct trn__layer *l,
			    const dnnl_memory_desc_t *s, dnnl_memory_t ms,
			    float *out, struct rf_err *e)
{
	const struct trn__tensor *ti = &n->t[l->in[0]];
	int64_t hw = ti->dims[2] * ti->dims[3];
	dnnl_dims_t pdims = {ti->dims[0], ti->dims[1], 1, 1};
	dnnl_dims_t strides = {1, 1}, kernel = {ti->dims[2], ti->dims[3]};
	dnnl_dims_t zero = {0, 0};
	dnnl_memory_desc_t pooled;
	dnnl_reduction_desc_t d;
	dnnl_pooling_desc_t pd;
	dnnl_primitive_desc_t ppd = NULL, rpd = NULL;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	dnnl_memory_t mo, mp;
	dnnl_status_t st;
	struct trn__op *o;
	float *buf;
	enum rf_rc rc;

	TRY(mem_new(n, &l->chan_md, out, &mo, l->name, e));
	if (ti->ndims == 4 && hw > 1) {
		TRY(md_make(&pooled, 4, pdims, dnnl_format_tag_any, l->name,
			    e));
		CK(dnnl_pooling_forward_desc_init(
			   &pd, dnnl_forward_inference,
			   dnnl_pooling_avg_exclude_padding, s, &pooled,
			   strides, kernel, zero, zero),
		   l->name, "cannot describe a channel sum");
		CK(dnnl_primitive_desc_create(&ppd, &pd, n->attr, n->eng,
					      NULL),
		   l->name, "cannot create a channel sum");
		pooled = *query(ppd, dnnl_query_dst_md, 0);
		rc = buf_new(n, md_size(&pooled), &buf, l->name, e);
		if (!rc)
			rc = mem_new(n, &pooled, buf, &mp, l->name, e);
		if (!rc)
			rc = prim_op(n, &n->bwd, ppd, l, l->name, &o, e);
		dnnl_primitive_desc_destroy(ppd);
		if (rc)
			return rc;
		op_arg(o, DNNL_ARG_SRC, ms);
		op_arg(o, DNNL_ARG_DST, mp);
		s = &pooled;
		ms = mp;
		CK(dnnl_primitive_attr_clone(&attr, n->attr), l->name,
		   "cannot create attributes");
		st = dnnl_post_ops_create(&po);
		if (st == dnnl_success)
			st = dnnl_post_ops_append_eltwise(po, 1.0f,
							  dnnl_eltwise_linear,
							  (float)hw, 0.0f);
		if (st == dnnl_success)
			st = dnnl_primitive_attr_set_post_ops(attr, po);
		dnnl_post_ops_destroy(po);
		if (st != dnnl_success) {
			dnnl_primitive_attr_destroy(attr);
			return trn__dnnl_err(st, l->name,
					     "cannot set a post-op", e);
		}
	}
	if (ti->dims[0] == 1) {
		/* one sample: nothing left to sum, only the scale by H*W */
		float scale = (float)hw;

		dnnl_primitive_attr_destroy(attr);
		CK(dnnl_primitive_attr_clone(&attr, n->attr), l->name,
		   "cannot create attributes");
		st = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale);
		if (st == dnnl_success)
			st = dnnl_reorder_primitive_desc_create(
				&rpd, s, n->eng, &l->chan_md, n->eng, attr);
		dnnl_primitive_attr_destroy(attr);
		if (st != dnnl_success)
			return trn__dnnl_err(st, l->name,
					     "cannot create a channel sum", e);
		rc = prim_op(n, &n->bwd, rpd, l, l->name, &o, e);
		dnnl_primitive_desc_destroy(rpd);
		if (rc)
			return rc;
		op_arg(o, DNNL_ARG_FROM, ms);
		op_arg(o, DNNL_ARG_TO, mo);
		return RF_OK;
	}
	st = dnnl_reduction_desc_init(&d, dnnl_reduction_sum, s, &l->chan_md,
				      0.0f, 0.0f);
	if (st == dnnl_success)
		st = dnnl_primitive_desc_create(&rpd, &d, attr ? attr : n->attr,
						n->eng, NULL);
	dnnl_primitive_attr_destroy(attr);
	if (st != dnnl_success)
		return trn__dnnl_err(st, l->name, "cannot create a reduction",
				     e);
	rc = prim_op(n, &n->bwd, rpd, l, l->name, &o, e);
	dnnl_primitive_desc_destroy(rpd);
	if (rc)
		return rc;
	op_arg(o, DNNL_ARG_SRC, ms);
	op_arg(o, DNNL_ARG_DST, mo);
	return RF_OK;
}

static enum rf_rc norm_bwd(struct trn_net *n, struct trn__layer *l,
			   struct rf_err *e)
{
	struct trn__tensor *ti = &n->t[l->in[0]], *to = &n->t[l->out];
	dnnl_layer_normalization_desc_t d;
	dnnl_memory_t mtv, mdv;
	struct trn__op *o;
	struct pending p;

	TRY(buf_new(n, md_size(&l->src_md), &l->tmp, l->name, e));
	TRY(mem_new(n, &l->src_md, l->tmp, &l->mtmp, l->name, e));
	/* d(shift) = sum dy; d(scale) = sum dy * xhat */
	TRY(reduce_op(n, l, &to->md, to->mdiff, l->bg, e));
	TRY(binary_op(n, &n->bwd, l, dnnl_binary_mul, &to->md, to->mdiff,
		      &l->src_md, l->mxhat, &l->src_md, l->mtmp, e));
	TRY(reduce_op(n, l, &l->src_md, l->mtmp, l->wg, e));
	if (!ti->need_grad)
		return RF_OK;
	/* d(xhat) = dy * scale, then the normalisation's backward */
	TRY(binary_op(n, &n->bwd, l, dnnl_binary_mul, &to->md, to->mdiff,
		      &l->chan_md, l->mw, &l->src_md, l->mtmp, e));
	TRY(mem_new(n, &l->view_md, l->tmp, &mtv, l->name, e));
	TRY(dsrc_begin(n, l, ti, &l->src_md, &p, e));
	TRY(mem_new(n, &l->view_md, p.ptr, &mdv, l->name, e));
	CK(dnnl_layer_normalization_backward_desc_init(
		   &d, dnnl_backward_data, &l->view_md, &l->view_md,
		   &l->stat_md, NORM_EPS, dnnl_normalization_flags_none),
	   l->name, "cannot describe normalisation backward");
	TRY(desc_op(n, &n->bwd, &d, l->fpd, l, l->name,
		    "cannot create normalisation backward", NULL, &o, e));
	op_arg(o, DNNL_ARG_SRC, l->msrc_view);
	op_arg(o, DNNL_ARG_MEAN, l->mmean);
	op_arg(o, DNNL_ARG_VARIANCE, l->mvar);
	op_arg(o, DNNL_ARG_DIFF_DST, mtv);
	op_arg(o, DNNL_ARG_DIFF_SRC, mdv);
	return dsrc_end(n, l, &p, e);
}

/* ---- loss ---------------------------------------------------------------- */

static enum rf_rc loss_fwd(struct trn_net *n, struct rf_err *e)
{
	struct trn__tensor *t = &n->t[n->loss_in];
	dnnl_dims_t d, d2 = {t->dims[0], t->dims[1]};
	dnnl_memory_desc_t plain, md2;
	dnnl_memory_t m2;
	size_t nk = (size_t)(t->dims[0] * t->dims[1]);
	struct trn__op *o;

	md_dims(t, d);
	TRY(md_make(&plain, t->ndims, d, dnnl_abcd, "loss", e));
	TRY(md_make(&md2, 2, d2, dnnl_ab, "loss", e));
	if (n->loss_in != TRN_NET_INPUT &&
	    dnnl_memory_desc_equal(&plain, &t->md)) {
		n->logits = t->val;
	} else {
		TRY(buf_new(n, nk * sizeof(float), &n->logits, "loss", e));
		TRY(mem_new(n, &plain, n->logits, &n->mlogits, "loss", e));
		TRY(reorder_op(n, &n->fwd, &t->md, t->mval, &plain,
			       n->mlogits, false, NULL, "loss", e));
	}
	TRY(mem_new(n, &md2, n->logits, &m2, "loss", e));
	TRY(buf_new(n, nk * sizeof(float), &n->probs, "loss", e));
	TRY(mem_new(n, &md2, n->probs, &n->mprobs, "loss", e));
	TRY(buf_new(n, n->in.batch * sizeof(int32_t),
		    (float **)(void *)&n->labels, "loss", e));
	TRY(buf_new(n, nk * sizeof(float), &n->targets, "loss", e));
	if (n->loss == TRN_LOSS_SOFTMAX_CE) {
		dnnl_logsoftmax_desc_t sd;

		TRY(buf_new(n, nk * sizeof(float), &n->logp, "loss", e));
		TRY(mem_new(n, &md2, n->logp, &n->mlogp, "loss", e));
		CK(dnnl_logsoftmax_forward_desc_init(
			   &sd, dnnl_forward_training, &md2, 1),
		   "loss", "cannot describe log-softmax");
		TRY(desc_op(n, &n->fwd, &sd, NULL, NULL, "loss",
			    "cannot create log-softmax", NULL, &o, e));
		op_arg(o, DNNL_ARG_SRC, m2);
		op_arg(o, DNNL_ARG_DST, n->mlogp);
		return RF_OK;
	}
	dnnl_eltwise_desc_t ed;

	CK(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training,
					  dnnl_eltwise_logistic, &md2, 0, 0),
	   "loss", "cannot describe the sigmoid");
	TRY(desc_op(n, &n->fwd, &ed, NULL, NULL, "loss",
		    "cannot create the sigmoid", NULL, &o, e));
	op_arg(o, DNNL_ARG_SRC, m2);
	op_arg(o, DNNL_ARG_DST, n->mprobs);
	return RF_OK;
}

static enum rf_rc loss_bwd(struct trn_net *n, struct rf_err *e)
{
	struct trn__tensor *t = &n->t[n->loss_in];
	dnnl_memory_desc_t plain;
	dnnl_dims_t d;
	struct trn__op *o;
	struct pending p;

	if (!t->need_grad)
		return RF_OK;
	md_dims(t, d);
	TRY(md_make(&plain, t->ndims, d, dnnl_abcd, "loss", e));
	TRY(dsrc_begin(n, NULL, t, &plain, &p, e));
	n->dlogits = p.ptr;
	o = op_new(n, &n->bwd, NULL, "loss", e);
	if (!o)
		return RF_ENOMEM;
	o->fn = trn__loss_grad;
	return dsrc_end(n, NULL, &p, e);
}

/* ---- the whole net ------------------------------------------------------- */

static enum rf_rc attrs_make(struct trn_net *n, struct rf_err *e)
{
	dnnl_post_ops_t po = NULL;
	dnnl_status_t st;

	CK(dnnl_engine_create(&n->eng, dnnl_cpu, 0), "net",
	   "cannot create the cpu engine");
	CK(dnnl_stream_create(&n->strm, n->eng, dnnl_stream_default_flags),
	   "net", "cannot create the stream");
	CK(dnnl_primitive_attr_create(&n->attr), "net",
	   "cannot create attributes");
	CK(dnnl_primitive_attr_set_scratchpad_mode(n->attr,
						   dnnl_scratchpad_mode_user),
	   "net", "cannot set the scratchpad mode");
	CK(dnnl_primitive_attr_clone(&n->attr_sum, n->attr), "net",
	   "cannot create attributes");
	CK(dnnl_post_ops_create(&po), "net", "cannot create post-ops");
	st = dnnl_post_ops_append_sum(po, 1.0f);
	if (st == dnnl_success)
		st = dnnl_primitive_attr_set_post_ops(n->attr_sum, po);
	dnnl_post_ops_destroy(po);
	CK(st, "net", "cannot set the sum post-op");
	return RF_OK;
}

static enum rf_rc layer_fwd(struct trn_net *n, struct trn__layer *l,
			    struct rf_err *e)
{
	switch (l->kind) {
	case TRN__CONV:
	case TRN__FC:
		return wlayer_fwd(n, l, e);
	case TRN__NORM:
		return norm_fwd(n, l, e);
	case TRN__RELU:
		return relu_fwd(n, l, e);
	case TRN__MAXPOOL:
	case TRN__AVGPOOL:
	case TRN__GAP:
	case TRN__GMP:
		return pool_fwd(n, l, e);
	case TRN__DROPOUT:
		return dropout_fwd(n, l, e);
	case TRN__ADD:
		return add_fwd(n, l, e);
	}
	return rf_err_set(e, RF_EINTERNAL, "layer '%s': unknown kind",
			  l->name);
}

static enum rf_rc layer_bwd(struct trn_net *n, struct trn__layer *l,
			    struct rf_err *e)
{
	bool in_grad = n->t[l->in[0]].need_grad ||
		       (l->in[1] >= 0 && n->t[l->in[1]].need_grad);

	switch (l->kind) {
	case TRN__CONV:
	case TRN__FC:
		return wlayer_bwd(n, l, e);
	case TRN__NORM:
		return norm_bwd(n, l, e);
	default:
		break;
	}
	if (!in_grad)
		return RF_OK;
	switch (l->kind) {
	case TRN__RELU:
		return relu_bwd(n, l, e);
	case TRN__MAXPOOL:
	case TRN__AVGPOOL:
	case TRN__GAP:
	case TRN__GMP:
		return pool_bwd(n, l, e);
	case TRN__DROPOUT:
		return dropout_bwd(n, l, e);
	case TRN__ADD:
		return add_bwd(n, l, e);
	default:
		break;
	}
	return rf_err_set(e, RF_EINTERNAL, "layer '%s': unknown kind",
			  l->name);
}

enum rf_rc trn__net_build(struct trn_net *n, struct rf_err *e)
{
	struct trn__tensor *t0 = &n->t[0];
	dnnl_dims_t d;
	float *scratch;

	TRY(attrs_make(n, e));
	for (size_t i = 0; i < n->nl; i++) {
		struct trn__layer *l = &n->l[i];
		bool g = l->kind == TRN__CONV || l->kind == TRN__FC ||
			 l->kind == TRN__NORM || n->t[l->in[0]].need_grad ||
			 (l->in[1] >= 0 && n->t[l->in[1]].need_grad);

		n->t[l->out].need_grad = g;
	}
	md_dims(t0, d);
	TRY(md_make(&t0->md, 4, d, dnnl_abcd, "input", e));
	TRY(mem_new(n, &t0->md, DNNL_MEMORY_NONE, &t0->mval, "input", e));
	for (size_t i = 0; i < n->nl; i++)
		TRY(layer_fwd(n, &n->l[i], e));
	TRY(loss_fwd(n, e));
	TRY(loss_bwd(n, e));
	for (size_t i = n->nl; i-- > 0;)
		if (n->t[n->l[i].out].need_grad)
			TRY(layer_bwd(n, &n->l[i], e));
	if (n->scratch_size > 0) {
		TRY(buf_new(n, n->scratch_size, &scratch, "net", e));
		for (size_t i = 0; i < n->nscratch; i++)
			CK(dnnl_memory_set_data_handle(n->scratch_mems[i],
						       scratch),
			   "net", "cannot set the scratchpad");
	}
	return RF_OK;
}

void trn__net_release(struct trn_net *n)
{
	for (size_t i = 0; i < n->nprim; i++)
		dnnl_primitive_destroy(n->prims[i]);
	for (size_t i = 0; i < n->nmem; i++)
		dnnl_memory_destroy(n->mems[i]);
	for (size_t i = 0; i < n->nscratch; i++)
		dnnl_memory_destroy(n->scratch_mems[i]);
	for (size_t i = 0; i < n->nl; i++)
		dnnl_primitive_desc_destroy(n->l[i].fpd);
	for (size_t i = 0; i < n->nbuf; i++)
		rf_free(n->bufs[i]);
	rf_free(n->prims);
	rf_free(n->mems);
	rf_free(n->scratch_mems);
	rf_free(n->bufs);
	rf_free(n->fwd.v);
	rf_free(n->bwd.v);
	dnnl_primitive_attr_destroy(n->attr);
	dnnl_primitive_attr_destroy(n->attr_sum);
	if (n->strm)
		dnnl_stream_destroy(n->strm);
	if (n->eng)
		dnnl_engine_destroy(n->eng);
	n->prims = NULL;
	n->mems = n->scratch_mems = NULL;
	n->bufs = NULL;
	n->nprim = n->nmem = n->nscratch = n->nbuf = 0;
	n->fwd.v = n->bwd.v = NULL;
	n->attr = n->attr_sum = NULL;
	n->strm = NULL;
	n->eng = NULL;
}
