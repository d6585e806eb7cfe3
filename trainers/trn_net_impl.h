/*
 * trn_net_impl.h - the engine's internals, shared by trn_net.c (the API,
 * the builder and the run loop) and trn_net_prim.c (layouts, primitives
 * and buffers, made once by trn_net_loss).
 *
 * Must not use: anything outside trainers/trn_net*.c.
 */
#ifndef TRN_NET_IMPL_H
#define TRN_NET_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

#include "rf_err.h"
#include "trn_net.h"

/* Largest element count of one tensor (keeps every byte size in range). */
#define TRN__ELEMS_MAX ((int64_t)1 << 30)

enum trn__kind {
	TRN__CONV = 1,
	TRN__NORM,
	TRN__RELU,
	TRN__MAXPOOL,
	TRN__AVGPOOL,
	TRN__GAP,
	TRN__FC,
	TRN__DROPOUT,
	TRN__ADD,
	TRN__GMP,
};

struct trn__tensor {
	int ndims;        /* 4: [N, C, H, W]; 2: [N, C] (H = W = 1) */
	int64_t dims[4];  /* N, C, H, W */
	int consumers;    /* layers reading it (the loss counts too) */
	bool need_grad;   /* a parameter lies before it */
	bool bwd_written; /* build-time: its diff has a first writer */
	dnnl_memory_desc_t md; /* chosen layout of value and gradient */
	float *val;
	float *diff;
	dnnl_memory_t mval;
	dnnl_memory_t mdiff;
};

struct trn__layer {
	enum trn__kind kind;
	char name[48];   /* user name, or "<kind><index>" */
	int in[2];
	int out;
	unsigned oc, kernel, stride, pad, groups;
	bool bias;
	float p;
	int64_t pad_r[2]; /* right/bottom padding giving PyTorch's size */
	float *w, *wg;    /* weight (plain) and its gradient */
	float *b, *bg;    /* bias or shift (plain) and its gradient */

	/* made by trn_net_loss */
	dnnl_primitive_desc_t fpd;
	dnnl_memory_desc_t src_md, w_md;
	dnnl_memory_t msrc, mw, mb, mws, mmean, mvar;
	float *src;       /* value of the input in the layer's layout */
	float *xhat;      /* norm: normalised input */
	dnnl_memory_t mxhat, mtmp, msrc_view, mmask;
	dnnl_memory_desc_t view_md, chan_md, stat_md;
	float *tmp;
	float *mask;
	uint32_t *bits;   /* dropout: raw PRG output */
	size_t mask_count;
	bool mask_ones;   /* dropout: the mask holds the evaluation ones */
	uint8_t key[32];  /* dropout: AES key of this layer's masks */
};

struct trn__op {
	dnnl_primitive_t prim; /* NULL: run fn */
	enum rf_rc (*fn)(struct trn_net *n, struct trn__layer *l,
			 struct rf_err *e);
	struct trn__layer *l;
	int nargs;
	dnnl_exec_arg_t args[10];
};

struct trn__oplist {
	struct trn__op *v;
	size_t n, cap;
};

struct trn_net {
	struct trn_net_shape in;
	uint64_t seed;
	bool built;
	bool broken;
	bool trained; /* the last forward was a training one */
	bool train;   /* the forward running now */
	uint64_t step;
	double flops;

	struct trn__tensor *t;
	size_t nt, t_cap;
	struct trn__layer *l;
	size_t nl, l_cap;
	struct trn_param *params;
	size_t np, p_cap;

	/* loss */
	enum trn_loss loss;
	int loss_in;
	unsigned k;
	float *cw;      /* K class weights */
	float *logits;  /* plain [N, K] */
	float *probs;   /* plain [N, K] */
	float *logp;    /* plain [N, K], softmax only */
	float *dlogits; /* plain [N, K], written into the loss input's diff */
	int32_t *labels;
	float *targets;
	dnnl_memory_t mlogits, mlogp, mprobs, mdlogits;

	/* oneDNN state */
	dnnl_engine_t eng;
	dnnl_stream_t strm;
	dnnl_primitive_attr_t attr;     /* user scratchpad */
	dnnl_primitive_attr_t attr_sum; /* user scratchpad, dst += result */
	struct trn__oplist fwd, bwd;
	dnnl_memory_t *mems;
	size_t nmem, mem_cap;
	dnnl_primitive_t *prims;
	size_t nprim, prim_cap;
	dnnl_memory_t *scratch_mems;
	size_t nscratch, scratch_cap;
	size_t scratch_size;
	void **bufs;
	size_t nbuf, buf_cap;
};

/* Creates every primitive, buffer and op of a net whose layers are all
 * recorded (trn_net_loss). On failure the net keeps what it made, for
 * trn_net_destroy. */
enum rf_rc trn__net_build(struct trn_net *n, struct rf_err *e) RF_WUR;

/* Releases what trn__net_build made. */
void trn__net_release(struct trn_net *n);

/* Maps a dnnl failure to an rf_rc with a message naming the layer. */
enum rf_rc trn__dnnl_err(dnnl_status_t st, const char *layer,
			 const char *what, struct rf_err *e);

/* Run-time steps done by hand between primitives: the loss gradient into
 * n->dlogits, and the dropout mask of layer l for the current step. */
enum rf_rc trn__loss_grad(struct trn_net *n, struct trn__layer *l,
			  struct rf_err *e) RF_WUR;
enum rf_rc trn__dropout_mask(struct trn_net *n, struct trn__layer *l,
			     struct rf_err *e) RF_WUR;

/* A 64-byte aligned, zeroed buffer of `bytes`, owned by the net. */
float *trn__buf(struct trn_net *n, size_t bytes);

#endif
