/*
 * anon_pixel_jpegls.c - JPEG-LS lossless and near-lossless frames through
 * CharLS 2.
 *
 * CharLS decodes into a buffer of exactly the size it announces for the
 * frame header it read; that header must match the image (size, component
 * count, bits no more than Bits Allocated) before anything is decoded.
 * CharLS writes planar output for interleave mode "none" and
 * pixel-interleaved output for the line and sample modes.
 */
#include <string.h>

#include <charls/charls.h>

#include "anon_pixel_int.h"
#include "rf_alloc.h"

static enum rf_rc ls_fail(struct rf_err *e, charls_jpegls_errc ec)
{
	return rf_err_set(e, RF_EPROTO, "JPEG-LS: %s",
			  charls_get_error_message(ec));
}

enum rf_rc anon__px_jpegls(const struct anon_image *im, const uint8_t *p,
			   size_t n, int32_t *out, struct rf_err *e)
{
	charls_jpegls_decoder *dec = NULL;
	charls_frame_info fi;
	charls_interleave_mode mode;
	charls_jpegls_errc ec;
	unsigned spp = im->samples_per_pixel;
	size_t npix = (size_t)im->rows * im->cols, size = 0, bps, i, s;
	uint8_t *buf = NULL;
	enum rf_rc rc = RF_OK;

	dec = charls_jpegls_decoder_create();
	if (!dec)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	if ((ec = charls_jpegls_decoder_set_source_buffer(dec, p, n)) ||
	    (ec = charls_jpegls_decoder_read_header(dec)) ||
	    (ec = charls_jpegls_decoder_get_frame_info(dec, &fi)) ||
	    (ec = charls_jpegls_decoder_get_interleave_mode(dec, &mode))) {
		rc = ls_fail(e, ec);
		goto out;
	}
	if (fi.width != im->cols || fi.height != im->rows ||
	    fi.component_count != (int32_t)spp || fi.bits_per_sample < 2 ||
	    fi.bits_per_sample > im->bits_allocated ||
	    fi.bits_per_sample > 16) {
		rc = rf_err_set(e, RF_EPROTO, "JPEG-LS of %ux%u pixels, %d "
				"components of %d bits does not match the "
				"image", (unsigned)fi.width,
				(unsigned)fi.height, (int)fi.component_count,
				(int)fi.bits_per_sample);
		goto out;
	}
	bps = fi.bits_per_sample > 8 ? 2 : 1;
	if ((ec = charls_jpegls_decoder_get_destination_size(dec, 0,
							      &size))) {
		rc = ls_fail(e, ec);
		goto out;
	}
	if (size != npix * spp * bps) {
		rc = rf_err_set(e, RF_EPROTO, "JPEG-LS frame of %zu bytes, "
				"%zu expected", size, npix * spp * bps);
		goto out;
	}
	buf = rf_malloc(size);
	if (!buf) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto out;
	}
	if ((ec = charls_jpegls_decoder_decode_to_buffer(dec, buf, size, 0))) {
		rc = ls_fail(e, ec);
		goto out;
	}
	for (i = 0; i < npix; i++) {
		for (s = 0; s < spp; s++) {
			size_t k = mode == CHARLS_INTERLEAVE_MODE_NONE
					   ? s * npix + i
					   : i * spp + s;
			uint16_t v16;

			if (bps == 2) {
				/* CharLS writes host-order 16-bit words */
				memcpy(&v16, buf + 2 * k, 2);
				out[i * spp + s] = v16;
			} else {
				out[i * spp + s] = buf[k];
			}
		}
	}
out:
	if (buf)
		rf_free_secret(buf, size);
	charls_jpegls_decoder_destroy(dec);
	return rc;
}
