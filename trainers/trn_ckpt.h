/*
 * trn_ckpt.h - model files and weight deltas.
 *
 * A model file is HDF5 (common/rf_tensor.h, written atomically): one
 * float32 dataset per parameter at "/params/<path>" (the trn_param path,
 * e.g. /params/conv1/weight) in the parameter's plain shape, and on the
 * root the attributes
 *   model         architecture name ("cnn-small")
 *   arch_version  int64, the architecture's version
 *   input         string "C,H,W" ("1,64,64")
 *   classes       int64
 *   round         int64 (0 for a model trained outside a federation)
 *   sha256        hex SHA-256 of the canonical byte stream
 * The canonical byte stream is every parameter in path order (byte order,
 * the order of trn_net_params) as little-endian float32; the flat vector
 * of a model is the same sequence as floats. A delta is local minus global
 * in that order, so deltas of the same architecture add up element by
 * element across sites.
 *
 * Loading checks the file's name, version, input and classes against the
 * caller's, every parameter's presence and shape, that the file has no
 * other parameter, and the hash (RF_EINTEGRITY when it differs): a model
 * file from elsewhere is refused rather than half-loaded.
 *
 * Every function taking params expects them in that path order, as
 * trn_net_params gives them; the ones that can fail check it (RF_EINVAL),
 * along with each path, rank and shape. docs/formats.md describes the
 * file byte by byte.
 *
 * Thread safety: HDF5 is not thread-safe (see rf_tensor.h). The flat
 * vector functions are pure.
 *
 * Must not use: oneDNN; HDF5 only through common/rf_tensor.h.
 */
#ifndef TRN_CKPT_H
#define TRN_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "rf_crypto.h"
#include "rf_err.h"
#include "trn_net.h"

/* What identifies a model, besides its parameters. */
struct trn_ckpt_meta {
	char model[32];        /* architecture name */
	int64_t arch_version;
	unsigned channels, height, width;
	unsigned classes;
	int64_t round;
};

/* Total element count of params[0..n) (the flat vector's length). */
size_t trn_flat_count(const struct trn_param *params, size_t n);

/* Copies the parameters' values into flat (trn_flat_count floats). */
void trn_flat_get(const struct trn_param *params, size_t n, float *flat);

/* Sets the parameters' values from flat. */
void trn_flat_set(struct trn_param *params, size_t n, const float *flat);

/* delta[i] = local[i] - global[i] for i < count. */
void trn_delta(const float *local, const float *global, float *delta,
	       size_t count);

/* Adds scale * delta to the parameters' values (scale 1: applies a delta;
 * the inverse of trn_delta). Each value becomes w + scale * delta, the
 * product rounded to float32, then the sum: applying local - global to
 * global gives local exactly when the subtraction was exact. */
void trn_delta_apply(struct trn_param *params, size_t n, const float *delta,
		     float scale);

/* SHA-256 of the canonical byte stream of the parameters. */
enum rf_rc trn_params_hash(const struct trn_param *params, size_t n,
			   uint8_t out[RF_SHA256_LEN], struct rf_err *e) RF_WUR;

/* Writes a model file at path (atomically: on failure nothing at path has
 * changed). RF_EINVAL for bad metadata or parameters, RF_EIO, RF_ENOMEM. */
enum rf_rc trn_ckpt_save(const char *path, const struct trn_ckpt_meta *m,
			 const struct trn_param *params, size_t n,
			 struct rf_err *e) RF_WUR;

/* Reads only the attributes of a model file into *m (to know which
 * architecture to build before loading). RF_ENOTFOUND (no file),
 * RF_EPROTO (not HDF5, or an attribute missing or malformed). */
enum rf_rc trn_ckpt_read_meta(const char *path, struct trn_ckpt_meta *m,
			      struct rf_err *e) RF_WUR;

/* Loads a model file into params, checking it against *m (all but the
 * round) and the parameters as described above: RF_EINTEGRITY for any
 * mismatch, RF_EPROTO for a file that is not a model file (including a
 * parameter that is not float32), RF_ENOTFOUND, RF_ENOMEM (a staging copy
 * of the weights is allocated). On failure the parameters' values are
 * unchanged. */
enum rf_rc trn_ckpt_load(const char *path, const struct trn_ckpt_meta *m,
			 struct trn_param *params, size_t n,
			 struct rf_err *e) RF_WUR;

#endif
