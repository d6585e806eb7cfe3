/*
 * anon_pixel_rle.c - RLE Lossless frames (PS3.5 Annex G).
 *
 * A frame is a 64-byte header (the number of segments, then 15 segment
 * offsets, little-endian) followed by the segments. Each segment holds one
 * byte plane of one sample, PackBits-encoded: the most significant byte of
 * sample 1 first, its least significant byte last, then sample 2... Every
 * segment decodes to rows * cols bytes; a segment that decodes to fewer
 * bytes is an error, one that decodes to more is cut (some encoders pad
 * the last run).
 */
#include <string.h>

#include "anon_pixel_int.h"
#include "rf_alloc.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* PackBits from p[0..n) into dst[0..cap); returns the bytes written. */
static size_t unpack(const uint8_t *p, size_t n, uint8_t *dst, size_t cap)
{
	size_t i = 0, o = 0, k;

	while (i < n && o < cap) {
		int c = (int8_t)p[i++];

		if (c >= 0) {
			k = (size_t)c + 1;
			if (k > n - i)
				k = n - i; /* truncated literal run */
			if (k > cap - o)
				k = cap - o;
			memcpy(dst + o, p + i, k);
			i += (size_t)c + 1;
			o += k;
		} else if (c != -128) {
			if (i >= n)
				break;
			k = (size_t)(1 - c);
			if (k > cap - o)
				k = cap - o;
			memset(dst + o, p[i], k);
			i++;
			o += k;
		}
	}
	return o;
}

enum rf_rc anon__px_rle(const struct anon_image *im, const uint8_t *p,
			size_t n, int32_t *out, struct rf_err *e)
{
	unsigned bytes = im->bits_allocated / 8u, spp = im->samples_per_pixel;
	unsigned nseg, s, b, seg;
	size_t npix = (size_t)im->rows * im->cols, i, got;
	uint32_t off, end;
	uint8_t *plane = NULL;
	enum rf_rc rc = RF_OK;

	if (n < 64)
		return rf_err_set(e, RF_EPROTO, "RLE header of %zu bytes", n);
	nseg = le32(p);
	if (nseg != spp * bytes)
		return rf_err_set(e, RF_EPROTO, "RLE frame has %u segments, "
				  "%u expected", nseg, spp * bytes);
	plane = rf_malloc(npix);
	if (!plane)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	for (i = 0; i < npix * spp; i++)
		out[i] = 0;
	for (seg = 0; seg < nseg; seg++) {
		off = le32(p + 4 + 4 * seg);
		end = seg + 1 < nseg ? le32(p + 8 + 4 * seg) : (uint32_t)0;
		if (seg + 1 == nseg || end > n)
			end = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
		if (off < 64 || off > end || end > n) {
			rc = rf_err_set(e, RF_EPROTO, "RLE segment %u at "
					"offset %u outside the %zu-byte frame",
					seg + 1, (unsigned)off, n);
			goto out;
		}
		got = unpack(p + off, end - off, plane, npix);
		if (got < npix) {
			rc = rf_err_set(e, RF_EPROTO, "RLE segment %u decodes "
					"to %zu bytes, %zu expected", seg + 1,
					got, npix);
			goto out;
		}
		s = seg / bytes;
		b = bytes - 1 - seg % bytes; /* byte significance */
		for (i = 0; i < npix; i++) {
			uint32_t v = (uint32_t)out[i * spp + s];

			out[i * spp + s] = (int32_t)(v | (uint32_t)plane[i]
							     << (8 * b));
		}
	}
out:
	rf_free_secret(plane, npix);
	return rc;
}
