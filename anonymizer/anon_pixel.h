/*
 * anon_pixel.h - Pixel Data (7FE0,0010) of a parsed DICOM image turned into
 * sample values, for the training set builder and the burned-in text
 * checks.
 *
 * anon_image_describe() reads and validates the Image Pixel module of a
 * parsed file; anon_pixel_decode_frame() decodes one frame into stored
 * values; anon_pixel_frame_grey() makes one float per pixel of it (modality
 * rescale, MONOCHROME1 inverted, colour turned to luma).
 *
 * Transfer syntaxes: native (implicit/explicit little-endian, explicit
 * big-endian, deflated), RLE Lossless, JPEG Baseline (process 1) and
 * Extended (process 2 and 4, 8-bit only: libjpeg-turbo is built for 8-bit
 * samples), JPEG Lossless process 14 (any predictor, .57 and .70, decoded
 * by anon_pixel_ljpeg.c), JPEG-LS lossless and near-lossless (CharLS),
 * JPEG 2000 lossless and lossy, and HTJ2K (OpenJPEG). Anything else is
 * refused with RF_EUNSUPPORTED naming the transfer syntax UID.
 *
 * Frames of encapsulated pixel data are located, in this order:
 * 1. with the Basic Offset Table when it is not empty, or else with the
 *    Extended Offset Table (7FE0,0001), when the table has one entry per
 *    frame and every entry is the start of a fragment (frame k is the
 *    fragments from offset k up to offset k+1; (7FE0,0002) is not needed);
 * 2. one fragment per frame when there are exactly as many fragments as
 *    frames (and every fragment when there is one frame);
 * 3. otherwise (JPEG family only, not RLE) by end-of-image markers: a frame
 *    ends with the fragment whose last bytes, ignoring one trailing 00
 *    padding byte, are FF D9 (JPEG EOI, JPEG-LS EOI, JPEG 2000 EOC).
 * A table that does not fit the fragments is ignored (the next rule
 * applies): writers get them wrong more often than the fragments.
 *
 * A JPEG stream is decoded by what its frame header says: lossless
 * (SOF3) data under a lossy JPEG UID goes to the lossless decoder, and
 * baseline/extended data under a lossless UID to libjpeg, as some writers
 * mislabel them.
 *
 * Every decoder writes at most rows * cols * samples_per_pixel values into
 * the caller's buffer and checks that the stream describes exactly the
 * image the data set announces; corrupt or truncated streams give
 * RF_EPROTO.
 *
 * Thread safety: the functions keep no state; one struct anon_dicom must
 * not be modified while its pixels are decoded.
 *
 * Must not use: anything but libc, libjpeg, CharLS, OpenJPEG, rf_alloc,
 * rf_err, anon_dicom and anon_dict.
 */
#ifndef ANON_PIXEL_H
#define ANON_PIXEL_H

#include <stddef.h>
#include <stdint.h>

#include "anon_dicom.h"
#include "rf_err.h"

/* How the pixel data is encoded. */
enum anon_pixel_ts {
	ANON_PX_NATIVE_LE = 0, /* implicit/explicit LE, deflated */
	ANON_PX_NATIVE_BE,     /* explicit VR big-endian (retired) */
	ANON_PX_RLE,           /* 1.2.840.10008.1.2.5 */
	ANON_PX_JPEG_BASELINE, /* 1.2.840.10008.1.2.4.50 */
	ANON_PX_JPEG_EXTENDED, /* 1.2.840.10008.1.2.4.51 */
	ANON_PX_JPEG_LOSSLESS, /* .4.57 (process 14), .4.70 (SV1) */
	ANON_PX_JPEGLS_LOSSLESS, /* .4.80 */
	ANON_PX_JPEGLS_NEAR,   /* .4.81 */
	ANON_PX_J2K_LOSSLESS,  /* .4.90 */
	ANON_PX_J2K,           /* .4.91 */
	ANON_PX_HTJ2K_LOSSLESS, /* .4.201, .4.202 (RPCL) */
	ANON_PX_HTJ2K,         /* .4.203 */
};

/* Photometric Interpretation (0028,0004). */
enum anon_photometric {
	ANON_PHOTO_MONOCHROME1 = 0,
	ANON_PHOTO_MONOCHROME2,
	ANON_PHOTO_RGB,
	ANON_PHOTO_YBR_FULL,
	ANON_PHOTO_YBR_FULL_422,
	ANON_PHOTO_YBR_ICT,
	ANON_PHOTO_YBR_RCT,
	ANON_PHOTO_PALETTE, /* PALETTE COLOR: described, not turned to grey */
};

/* Limits enforced by anon_image_describe(). */
#define ANON_PIXEL_MAX_FRAMES 65535u
#define ANON_PIXEL_MAX_FRAME_SAMPLES ((size_t)1 << 28)

/* The Image Pixel module of a file, validated. `pixel` borrows the Pixel
 * Data element of the described file: valid while the file is unchanged. */
struct anon_image {
	uint32_t rows, cols, frames;
	uint16_t samples_per_pixel;    /* 1 or 3 */
	uint16_t bits_allocated;       /* 1 (native only), 8, 16 or 32 */
	uint16_t bits_stored;          /* 1..bits_allocated */
	uint16_t high_bit;             /* bits_stored-1..bits_allocated-1 */
	uint16_t pixel_representation; /* 0 unsigned, 1 two's complement */
	uint16_t planar_config;        /* 0 pixel-interleaved, 1 planar */
	enum anon_photometric photometric;
	double rescale_slope, rescale_intercept; /* 1 and 0 when absent */
	enum anon_pixel_ts ts;
	const struct anon_elem *pixel;
	size_t frame_bytes; /* native: bytes per frame; 0 when encapsulated
			     * or 1-bit (frames are not byte-aligned) */
	char name[96];      /* the file's name for messages (may be cut) */
};

/* Reads and validates the image description of d into *im: Rows, Columns,
 * Number of Frames (1 when absent), Samples per Pixel (1, or 3 for colour),
 * Bits Allocated/Stored, High Bit, Pixel Representation, Photometric
 * Interpretation, Planar Configuration, Rescale Slope/Intercept, and the
 * transfer syntax of d. Native pixel data must hold at least frames *
 * frame_bytes bytes (YBR_FULL_422 native data holds 2 samples per pixel),
 * e.g. "'x.dcm': Pixel Data has 1000 bytes, 2 frames of 512x512x16 bits
 * need 1048576"; encapsulated data must have at least one fragment after
 * the offset table. name (not NULL) names d in messages.
 * Errors: RF_EPROTO (missing or inconsistent attribute), RF_EUNSUPPORTED
 * (transfer syntax, photometric or bit depth this module does not decode;
 * the message names it), RF_ETOOBIG (over the limits above). On failure *im
 * is zeroed. Never allocates. */
enum rf_rc anon_image_describe(const struct anon_dicom *d, const char *name,
			       struct anon_image *im, struct rf_err *e) RF_WUR;

/* Number of values one frame decodes to: rows * cols * samples_per_pixel
 * (never over ANON_PIXEL_MAX_FRAME_SAMPLES for a described image). */
size_t anon_image_frame_values(const struct anon_image *im);

/* Decodes frame `frame` (0-based) of the image im describes (from
 * anon_image_describe(d, ...)) into out, which must hold
 * anon_image_frame_values(im) values: samples are pixel-interleaved (R G B
 * R G B ... whatever the planar configuration), row by row. Values are the
 * stored values: bits_stored bits taken below high_bit, sign-extended when
 * pixel_representation is 1. Colour is left as stored, except lossy JPEG
 * (baseline, extended) whose YBR_FULL/YBR_FULL_422 frames are delivered as
 * RGB (as dcmtk does), JPEG 2000 whose YBR_ICT/YBR_RCT frames are RGB (the
 * codestream's inverse transform), and native YBR_FULL_422 which is
 * delivered as YBR_FULL (each chroma pair repeated for its two pixels).
 * anon_pixel_decoded_photometric() says which.
 * Errors: RF_EINVAL (frame out of range, NULL), RF_EPROTO (corrupt or
 * truncated data, stream not matching the description), RF_EUNSUPPORTED,
 * RF_ENOMEM. On failure the contents of out are unspecified. */
enum rf_rc anon_pixel_decode_frame(const struct anon_dicom *d,
				   const struct anon_image *im, uint32_t frame,
				   int32_t *out, struct rf_err *e) RF_WUR;

/* The photometric interpretation of what anon_pixel_decode_frame() gives
 * for im (see above). */
enum anon_photometric
anon_pixel_decoded_photometric(const struct anon_image *im);

/* Decodes frame `frame` and writes rows * cols floats to out: for
 * monochrome, slope * v + intercept, then for MONOCHROME1 negated around
 * the stored range, i.e. slope * (min + max - v) + intercept with min, max
 * the smallest and largest storable values; for colour the luma of ITU-R
 * BT.601, Y = 0.299 R + 0.587 G + 0.114 B, computed from RGB (or taken as
 * the Y sample of YBR_FULL data), no rescale. PALETTE COLOR is refused with
 * RF_EUNSUPPORTED (the grey level of a palette entry is not defined by the
 * data). Errors as for anon_pixel_decode_frame(). */
enum rf_rc anon_pixel_frame_grey(const struct anon_dicom *d,
				 const struct anon_image *im, uint32_t frame,
				 float *out, struct rf_err *e) RF_WUR;

/* The name of ts, e.g. "JPEG Lossless" (static). */
const char *anon_pixel_ts_name(enum anon_pixel_ts ts);

#endif
