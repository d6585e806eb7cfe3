/*
 * anon_synth.h - a realistic synthetic imaging set: DICOM studies of
 * invented French patients, their radiology reports, study labels, and the
 * ground truth of every identifier planted, for demonstrations and for the
 * tests of de-identification and learning.
 *
 * Output of anon_synth_run(dir, ...), with names that carry no identifier:
 *
 *   dir/dicom/<patient>/<study>/<series>/<n>.dcm
 *   dir/reports/<AccessionNumber>.txt
 *   dir/labels.csv             accession_number,study_instance_uid,label
 *   dir/truth/identifiers.tsv  patient, kind, value (UTF-8) per identifier
 *   dir/truth/pixels.tsv       file, SHA-256 of its native pixel bytes
 *   dir/truth/README           what the truth files are
 *
 * Everything follows from the options: the same options give the same
 * bytes in every file (xoshiro256** streams seeded through splitmix64; no
 * clock, no rand(), no iteration over unordered containers). Half of the
 * studies (an exact shuffle of ceil(n/2) negatives and floor(n/2)
 * positives) carry a nodule-like Gaussian blob on every CT and CR image:
 * label 1. Transfer syntaxes rotate across files over Explicit VR Little
 * Endian (written by anon_dicom_write_buf), Implicit VR Little Endian,
 * Explicit VR Big Endian, Deflated Explicit VR Little Endian and RLE
 * Lossless (written by this module's own encoder: PS3.5 Annex G PackBits
 * segments). Every file is written to a temporary name in its directory
 * and renamed, so an interrupted run leaves only complete files (and a
 * failing run removes its temporary file).
 *
 * Must not use: rand(), the clock or any global state; anything but libc,
 * zlib, rf_alloc, rf_buf, rf_err, rf_crypto (SHA-256), anon_dicom,
 * anon_dict and anon_textgen.
 */
#ifndef ANON_SYNTH_H
#define ANON_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "rf_buf.h"
#include "rf_err.h"

#define ANON_SYNTH_PATIENTS_MAX 100000u
#define ANON_SYNTH_IMAGES_MAX 64u     /* CT/CR images per study */
#define ANON_SYNTH_SIZE_MIN 32u
#define ANON_SYNTH_SIZE_MAX 1024u
#define ANON_SYNTH_DEFAULT_IMAGES 3u
#define ANON_SYNTH_DEFAULT_SIZE 256u

struct anon_synth_opts {
	unsigned patients;         /* 1..ANON_SYNTH_PATIENTS_MAX */
	uint64_t seed;             /* any value */
	unsigned images_per_study; /* 1..ANON_SYNTH_IMAGES_MAX; 0: default */
	unsigned size;             /* rows = columns, MIN..MAX; 0: default */
};

/* What a run produced. */
struct anon_synth_stats {
	unsigned patients;
	unsigned studies;
	unsigned positives;    /* studies labelled 1 */
	unsigned files;        /* DICOM files */
	unsigned quarantine;   /* of which US/SC files with burned-in text */
	unsigned reports;
	unsigned identifiers;  /* rows of truth/identifiers.tsv */
	uint64_t bytes;        /* bytes written, all files */
	unsigned per_ts[5];    /* files per transfer syntax, in the order of
				* anon_synth_ts_uid() */
};

/* Called after each DICOM file with the count done and the total. */
typedef void anon_synth_progress_fn(void *ctx, uint64_t done, uint64_t total);

/* The UID of transfer syntax i (0..4: Explicit VR LE, Implicit VR LE,
 * Explicit VR BE, Deflated Explicit VR LE, RLE Lossless), or NULL. */
const char *anon_synth_ts_uid(unsigned i);

/*
 * Generates the set described at the top of this header into dir, which
 * is created if missing and must not already hold a dicom/, reports/ or
 * truth/ entry (RF_EEXIST). opts is validated first (RF_EINVAL, nothing
 * written). progress (optional) is called from this thread. On success
 * *st (optional) is filled. On failure (RF_EIO, RF_ENOMEM, RF_ECRYPTO)
 * the files completed so far stay and no temporary file is left; the
 * error names the file. Not thread-safe for the same dir.
 */
enum rf_rc anon_synth_run(const char *dir, const struct anon_synth_opts *opts,
			  anon_synth_progress_fn *progress, void *ctx,
			  struct anon_synth_stats *st, struct rf_err *e)
	RF_WUR;

/*
 * PS3.5 Annex G: appends to out the RLE Lossless encoding of one frame of
 * rows x cols samples of bits (8 or 16) allocated, one sample per pixel,
 * little-endian in px: the 64-byte header, then one PackBits segment per
 * byte of a sample, most significant byte first, each padded to even
 * length. On failure (RF_EINVAL, RF_ETOOBIG, RF_ENOMEM) out is unchanged.
 */
enum rf_rc anon_synth_rle_encode(const uint8_t *px, unsigned rows,
				 unsigned cols, unsigned bits,
				 struct rf_buf *out, struct rf_err *e) RF_WUR;

#endif
