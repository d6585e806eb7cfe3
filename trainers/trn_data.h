/*
 * trn_data.h - a site's training set (dataset.h5, docs/formats.md) read in
 * shuffled mini-batches with bounded memory.
 *
 * trn_data_open reads the small per-record arrays (/labels and
 * /meta/patient) and the shape of /images; records whose label is negative
 * (no label) are left out. trn_data_split divides the labelled records
 * into training and validation sets by patient pseudonym: a patient's
 * records are all on one side, chosen by a keyed hash of the pseudonym and
 * the seed, so the split does not depend on record order and no patient
 * is on both sides. A batcher then walks one side epoch by epoch:
 *
 *   - the order is a permutation drawn from (seed, epoch) only;
 *   - images are read through rf_h5_read_rows / rf_h5_gather_rows; at most
 *     mem_budget bytes of images are resident at once: when the side fits,
 *     it is read once and kept; otherwise the permutation shuffles blocks
 *     of consecutive records (each read with one contiguous read) and the
 *     records within a block, so reads stay sequential on disk;
 *   - optional augmentation, drawn from (seed, epoch, record): horizontal
 *     flip with probability 1/2, and a shift of up to `shift` pixels in
 *     each direction with zero fill;
 *   - the last batch of an epoch may be short: trn_batch.count says how
 *     many records are real, and the rest of the batch is padded with
 *     zero images and label -1 (the engine ignores them, trn_net.h).
 *
 * Errors: RF_ENOTFOUND (no such file or dataset), RF_EPROTO (a dataset
 * with the wrong type or shape, naming it), RF_EINVAL (no labelled record,
 * a split that leaves one side empty), RF_ENOMEM, and those of rf_tensor.h.
 *
 * Thread safety: HDF5 is not thread-safe: one thread uses a trn_data and
 * its batchers.
 *
 * Must not use: oneDNN; HDF5 only through common/rf_tensor.h.
 */
#ifndef TRN_DATA_H
#define TRN_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rf_err.h"

struct trn_data;
struct trn_batcher;

/* Shape and label summary of an open dataset. */
struct trn_data_info {
	unsigned channels, height, width;
	size_t records;   /* rows of /images */
	size_t labelled;  /* of them with a label >= 0 */
	unsigned classes; /* 1 + the largest label (at least 2) */
	size_t patients;  /* distinct pseudonyms among the labelled */
};

/* Opens path. On failure *out is NULL. */
enum rf_rc trn_data_open(const char *path, struct trn_data **out,
			 struct rf_err *e) RF_WUR;

void trn_data_info(const struct trn_data *d, struct trn_data_info *out);

/*
 * Splits the labelled records: a patient goes to validation when the
 * keyed hash of (seed, pseudonym) falls below val_fraction (0 <= f < 1;
 * 0 puts everyone in training). RF_EINVAL if a side that must not be
 * empty is (training always; validation when f > 0). With two patients
 * or more, a side that the hash leaves empty gets one patient: the one
 * with the lowest hash goes to validation, the highest to training.
 */
enum rf_rc trn_data_split(struct trn_data *d, double val_fraction,
			  uint64_t seed, struct rf_err *e) RF_WUR;

/* Records on each side after trn_data_split (before it: all labelled in
 * training, none in validation). */
size_t trn_data_count(const struct trn_data *d, bool validation);

/* Records per label on one side: counts[c] for c < classes (labels of
 * the dataset are >= 0; those >= classes are not counted). From memory:
 * no image is read. */
void trn_data_class_counts(const struct trn_data *d, bool validation,
			   size_t *counts, unsigned classes);

/* Frees the dataset. Accepts NULL. Batchers must be destroyed first. */
void trn_data_close(struct trn_data *d);

struct trn_batcher_config {
	bool validation;    /* walk the validation side */
	unsigned batch;     /* records per batch, >= 1 */
	bool shuffle;       /* false: record order (evaluation) */
	bool augment;       /* flips and shifts (training only) */
	unsigned shift;     /* largest shift in pixels, with augment */
	uint64_t seed;
	size_t mem_budget;  /* bytes of images resident; 0 = 256 MiB */
};

/* A batch: images [batch, C, H, W] plain float32, labels [batch]. Owned
 * by the batcher, overwritten by the next call. */
struct trn_batch {
	const float *images;
	const int32_t *labels;
	size_t count;   /* real records, 1..batch; the rest is padding */
	size_t index;   /* first record's position in the epoch */
};

enum rf_rc trn_batcher_create(struct trn_data *d,
			      const struct trn_batcher_config *cfg,
			      struct trn_batcher **out,
			      struct rf_err *e) RF_WUR;

/* Starts epoch `epoch` (any number; the permutation depends on it). */
enum rf_rc trn_batcher_start(struct trn_batcher *b, uint64_t epoch,
			     struct rf_err *e) RF_WUR;

/* Fills *out with the next batch and returns RF_OK, or returns
 * RF_ENOTFOUND at the end of the epoch (not an error: *e is untouched). */
enum rf_rc trn_batcher_next(struct trn_batcher *b, struct trn_batch *out,
			    struct rf_err *e) RF_WUR;

/* Batches per epoch (the last one possibly short). */
size_t trn_batcher_batches(const struct trn_batcher *b);

void trn_batcher_destroy(struct trn_batcher *b);

/*
 * The augmentation the batcher applies, on one image: src and dst are
 * [channels, height, width] float32 (not overlapping). With flip, column x
 * of the result comes from column width-1-x; then the image moves dx
 * columns right and dy rows down (negative: left, up), pixels moved in
 * from outside being 0:
 *
 *     dst[c][y][x] = f[c][y - dy][x - dx], or 0 outside the image,
 *     f[c][y][x]   = src[c][y][flip ? width - 1 - x : x].
 *
 * Cannot fail; thread-safe.
 */
void trn_data_augment(const float *src, unsigned channels, unsigned height,
		      unsigned width, bool flip, int dx, int dy, float *dst);

#endif
