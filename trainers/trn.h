/*
 * trn.h - trainers/: local training with oneDNN. The part holds the layers,
 * the model registry, the optimizers, the training loop, metrics and
 * checkpoints; backends plug in through a const vtable (trn_onednn.c, ...)
 * registered by name.
 *
 * This header holds the model registry and the oneDNN version. A model
 * (an architecture) is a const vtable registered by name (STYLE.md 12-14):
 * built-ins sit in a static table; trn_model_register() adds others,
 * refusing duplicate names and ABI versions it does not know. Call sites
 * never touch a vtable: trn_model_build() checks the version and the
 * optional methods. A model is named by its architecture name, its input
 * shape and its number of classes; the architecture's version is stored in
 * every model file it writes (trn_ckpt.h) and checked on load.
 *
 * Built-in architectures (docs/training.md has the layer tables):
 *   cnn-small    four blocks conv3x3-groupnorm-relu-maxpool (16, 32, 64,
 *                128 channels), global average pooling, dropout, fc;
 *                inputs 1x64x64 up to 1x256x256
 *   resnet-mini  a narrow ResNet-10: stem conv, four stages of one basic
 *                residual block (16, 32, 64, 128 channels), global average
 *                pooling, fc
 *
 * Must not use: node/, aggregator/, policies/ or anonymizer/ headers; only
 * common/ and oneDNN.
 */
#ifndef TRN_H
#define TRN_H

#include <stddef.h>
#include <stdint.h>

#include "rf_err.h"
#include "trn_net.h"

/* The vtable ABI this build knows; vtables of other versions are refused.
 * Version 1: abi_version, name, arch_version, summary, check, build. */
#define TRN_MODEL_ABI_VERSION 1

/* What a model is asked to be. */
struct trn_model_spec {
	unsigned channels, height, width; /* input */
	unsigned classes;                 /* K >= 2 */
	float dropout;                    /* before the classifier; [0,1) */
};

struct trn_model_vtable {
	unsigned abi_version;   /* TRN_MODEL_ABI_VERSION */
	const char *name;       /* "cnn-small" */
	int64_t arch_version;   /* bumped whenever the layers change */
	const char *summary;    /* one line for `radfed train --help` */
	/* Optional: RF_EINVAL naming what it cannot take (input too small,
	 * too many channels...). */
	enum rf_rc (*check)(const struct trn_model_spec *s, struct rf_err *e);
	/* Required: adds the layers to n (created with the spec's input
	 * shape) up to and including trn_net_loss(). */
	enum rf_rc (*build)(struct trn_net *n, const struct trn_model_spec *s,
			    enum trn_loss loss, const float *class_weights,
			    struct rf_err *e);
};

/* Adds vt to the registry (not copied: it must stay valid). RF_EEXIST for
 * a name already registered, RF_EUNSUPPORTED for another abi_version,
 * RF_EINVAL for a missing name or build, RF_ETOOBIG when 16 architectures
 * besides the built-ins are already registered. Not thread-safe: register
 * before starting threads. The registry is the one global of trainers/,
 * written only by this function (trn_model.c). */
enum rf_rc trn_model_register(const struct trn_model_vtable *vt,
			      struct rf_err *e) RF_WUR;

/* The architecture called name, or NULL. */
const struct trn_model_vtable *trn_model_find(const char *name);

/* The i-th registered architecture (built-ins first), or NULL past the
 * end: for listings. */
const struct trn_model_vtable *trn_model_at(size_t i);

/*
 * Creates the net of architecture `name` for spec, batch size `batch`,
 * loss and class weights (NULL: all 1), weights initialised from seed.
 * RF_ENOTFOUND for an unknown name (the message lists the known ones),
 * RF_EINVAL from the architecture's check, and the errors of trn_net.h.
 * On failure *out is NULL.
 */
enum rf_rc trn_model_build(const char *name, const struct trn_model_spec *s,
			   unsigned batch, enum trn_loss loss,
			   const float *class_weights, uint64_t seed,
			   struct trn_net **out, struct rf_err *e) RF_WUR;

/* oneDNN's version as linked at run time, dnnl_version(), formatted as
 * "major.minor.patch", e.g. "2.6.3". Static storage, valid for the life of
 * the process; formatted once under pthread_once, so thread-safe. Never
 * NULL, never fails. */
const char *trn_version_dnnl(void);

/* The git hash of the oneDNN sources, as dnnl_version() reports it (Debian's
 * build reports "N/A"), or "" when there is none at all. Static storage
 * owned by oneDNN; thread-safe; never NULL. */
const char *trn_version_dnnl_git(void);

#endif
