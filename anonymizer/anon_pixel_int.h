/*
 * anon_pixel_int.h - the pixel decoders behind anon_pixel.c, one per file.
 *
 * Each decoder turns one complete frame of n bytes at p into exactly
 * anon_image_frame_values(im) values in out, pixel-interleaved, as raw
 * stored bit patterns (anon_pixel.c then masks and sign-extends them). It
 * checks that the stream's size, components and precision match im, writes
 * nothing past out, and fails with RF_EPROTO on corrupt or truncated data
 * (RF_EUNSUPPORTED for valid streams it does not handle, RF_ENOMEM).
 * Messages name the codec and the reason; the caller prefixes the file and
 * the frame.
 *
 * Must not use: anything but libc, the codec library of each file, rf_alloc
 * and rf_err.
 */
#ifndef ANON_PIXEL_INT_H
#define ANON_PIXEL_INT_H

#include "anon_pixel.h"

typedef enum rf_rc (*anon__px_decode_fn)(const struct anon_image *im,
					 const uint8_t *p, size_t n,
					 int32_t *out, struct rf_err *e);

/* RLE Lossless, PS3.5 Annex G (anon_pixel_rle.c). */
enum rf_rc anon__px_rle(const struct anon_image *im, const uint8_t *p,
			size_t n, int32_t *out, struct rf_err *e) RF_WUR;
/* JPEG processes 1, 2 and 4 through libjpeg (anon_pixel_jpeg.c). */
enum rf_rc anon__px_jpeg(const struct anon_image *im, const uint8_t *p,
			 size_t n, int32_t *out, struct rf_err *e) RF_WUR;
/* JPEG lossless process 14, ITU-T T.81 Annex H (anon_pixel_ljpeg.c). */
enum rf_rc anon__px_ljpeg(const struct anon_image *im, const uint8_t *p,
			  size_t n, int32_t *out, struct rf_err *e) RF_WUR;
/* JPEG-LS through CharLS (anon_pixel_jpegls.c). */
enum rf_rc anon__px_jpegls(const struct anon_image *im, const uint8_t *p,
			   size_t n, int32_t *out, struct rf_err *e) RF_WUR;
/* JPEG 2000 and HTJ2K through OpenJPEG (anon_pixel_j2k.c). */
enum rf_rc anon__px_j2k(const struct anon_image *im, const uint8_t *p,
			size_t n, int32_t *out, struct rf_err *e) RF_WUR;

#endif
