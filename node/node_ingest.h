/*
 * node_ingest.h - `radfed site ingest`: de-identifies a hospital's files
 * into the site store and builds the training set from the store.
 *
 *   1. every input goes through anon_batch_run() with the site's options,
 *      secret and jobs into DIR/store/deidentified/, one JSON line per
 *      input appended to DIR/logs/ingest.jsonl;
 *   2. DIR/store/dataset.h5 is rebuilt from every de-identified DICOM image
 *      of the store (not only this run's), in sorted path order, one record
 *      per image: frame 0 only (the first frame of a multi-frame image),
 *      grey levels (anon_pixel_frame_grey), resampled to image_size x
 *      image_size (node_ingest_resample), scaled to [0, 1] by the image's
 *      own minimum and maximum (node_ingest_normalise); labels come from an
 *      optional CSV of original identifiers, matched through the site's
 *      pseudonyms. The layout is in docs/formats.md ("dataset.h5").
 *
 * Idempotence and resumability: the store is keyed by pseudonyms (the same
 * input lands on the same path, replaced atomically), and dataset.h5 is
 * rebuilt from the whole store each time under a temporary name and renamed
 * over the old one only when complete (rf_h5_create + rf_h5_commit). The
 * same input twice gives one record; a run that is killed leaves the old
 * dataset.h5 intact, and running the command again finishes the work.
 *
 * Images of the store that cannot be decoded (unsupported transfer syntax,
 * PALETTE COLOR, corrupt data) are left out of dataset.h5, counted, and
 * logged with the reason. The log never carries an original identifier.
 *
 * Thread safety: node_ingest_run() uses HDF5, which is not thread-safe:
 * one run at a time per process. The pure functions have no state.
 *
 * Must not use: aggregator/, cli/; HDF5 only through common/rf_tensor.h.
 */
#ifndef NODE_INGEST_H
#define NODE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node_site.h"
#include "rf_err.h"

/* Width of one /meta identifier row: pseudonymous ids are at most 44
 * (UIDs) or 17 characters; UIDs may be up to 64. */
#define NODE_INGEST_ID_WIDTH 64

/* Largest labels CSV read, in bytes. */
#define NODE_INGEST_LABELS_MAX ((size_t)256 << 20)

/* Label stored for an image whose study is not in the labels CSV. */
#define NODE_INGEST_NO_LABEL (-1)

struct node_ingest_config {
	const char *labels; /* labels CSV path, or NULL: every label -1 */
	const char *version; /* "radfed <version>": dataset attribute and
			      * (0012,0063) of the outputs; NULL: "radfed" */
	bool progress;       /* draw progress bars on stderr */
};

struct node_ingest_stats {
	/* de-identification (anon_batch_stats of this run) */
	size_t inputs, written, quarantined, skipped, failed;
	/* dataset.h5 */
	size_t images;      /* de-identified DICOM files in the store */
	size_t undecodable; /* of images: left out, reason in the log */
	size_t records;     /* rows of dataset.h5 */
	size_t labelled;    /* records with a label from the CSV */
	size_t positives;   /* records with a label of 1 or more */
};

/*
 * Runs both steps on the open site s for the inputs (files and folders)
 * inputs[0..n). Success (RF_OK) means every input was handled, whatever
 * its outcome, and dataset.h5 was replaced: st says what happened. Errors:
 * RF_EINVAL (no input, malformed labels CSV, naming its line), RF_EIO,
 * RF_EAUTH (secret readable by others), RF_EPROTO, RF_ENOMEM and the errors
 * of rf_tensor.h; on error, inputs already de-identified stay in the
 * store, and dataset.h5 is unchanged. st is filled as far as the run went.
 * The secret is zeroized before returning.
 */
enum rf_rc node_ingest_run(const struct node_site *s, char *const *inputs,
			   size_t n, const struct node_ingest_config *cfg,
			   struct node_ingest_stats *st,
			   struct rf_err *e) RF_WUR;

/*
 * Resamples the grey image src (sh rows of sw columns, row-major) to dst
 * (dh x dw), each axis on its own: an axis that shrinks or keeps its size
 * is area-averaged (output pixel j is the mean of the source interval
 * [j * s, (j + 1) * s) with s = source / destination, partial pixels
 * weighted by their overlap: the exact box filter; the identity when the
 * sizes are equal); an axis that grows is interpolated linearly between
 * pixel centres (source coordinate (j + 0.5) * s - 0.5, clamped to the
 * edges: PyTorch's interpolate(mode="bilinear", align_corners=False)).
 * tmp must hold sh * dw floats. Sizes must be >= 1 (else RF_EINVAL);
 * never allocates.
 */
enum rf_rc node_ingest_resample(const float *src, uint32_t sh, uint32_t sw,
				float *dst, uint32_t dh, uint32_t dw,
				float *tmp, struct rf_err *e) RF_WUR;

/* Scales v[0..n) in place to [0, 1]: (v - min) / (max - min) with min and
 * max of v itself; a constant image becomes all 0. Non-finite values
 * (which a decoded image cannot hold) become 0 and are left out of min and
 * max. */
void node_ingest_normalise(float *v, size_t n);

#endif
