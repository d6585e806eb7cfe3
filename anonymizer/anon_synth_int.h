/*
 * anon_synth_int.h - the synthetic set's own DICOM encoder, shared by the
 * files of anon_synth (private to anonymizer/).
 *
 * anon_dicom_write_buf() writes Explicit VR Little Endian only; the
 * synthetic set also needs the other transfer syntaxes a de-identifier
 * meets, so this encoder serialises a dataset tree in any of them.
 *
 * Must not use: anything but libc, zlib, rf_alloc, rf_buf, rf_err and
 * anon_dicom.
 */
#ifndef ANON_SYNTH_INT_H
#define ANON_SYNTH_INT_H

#include <stdint.h>

#include "anon_dicom.h"
#include "rf_buf.h"
#include "rf_err.h"

/* Transfer syntaxes, in the order of anon_synth_ts_uid(). */
enum anon__synth_ts {
	ANON__SYNTH_EXPLICIT_LE = 0,
	ANON__SYNTH_IMPLICIT_LE,
	ANON__SYNTH_EXPLICIT_BE,
	ANON__SYNTH_DEFLATED_LE,
	ANON__SYNTH_RLE,
	ANON__SYNTH_TS_COUNT
};

#define ANON__SYNTH_TS_RLE_UID "1.2.840.10008.1.2.5"

/*
 * Appends a Part 10 file to out: 128 zero bytes, "DICM", a file meta group
 * (Explicit VR LE: group length, version 00\01, SOP class and instance from
 * (0008,0016)/(0008,0018) of ds, the transfer syntax ts, radfed's
 * implementation UID and version), then ds encoded in ts. Sequences and
 * items have undefined length; values are padded to even length (space for
 * text, NUL otherwise). Big endian swaps every binary value by its VR
 * width (OW, pixel data included). RLE encodes native Pixel Data
 * (7FE0,0010) of rows x columns x bits allocated (8 or 16, one sample) as
 * one fragment after an empty offset table. Deflated compresses the
 * dataset with raw deflate. On failure (RF_EINVAL, RF_ETOOBIG, RF_ENOMEM,
 * RF_EIO for a zlib failure) out is unchanged.
 */
enum rf_rc anon__synth_encode(const struct anon_ds *ds, enum anon__synth_ts ts,
			      struct rf_buf *out, struct rf_err *e) RF_WUR;

#endif
