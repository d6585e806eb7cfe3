/*
 * anon_pixel.c - image description, frame location, native pixel data and
 * the grey-level view (see anon_pixel.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anon_pixel.h"
#include "anon_pixel_int.h"
#include "rf_alloc.h"

#define TAG_SPP ANON_TAG(0x0028, 0x0002)
#define TAG_PHOTO ANON_TAG(0x0028, 0x0004)
#define TAG_PLANAR ANON_TAG(0x0028, 0x0006)
#define TAG_FRAMES ANON_TAG(0x0028, 0x0008)
#define TAG_ROWS ANON_TAG(0x0028, 0x0010)
#define TAG_COLS ANON_TAG(0x0028, 0x0011)
#define TAG_BA ANON_TAG(0x0028, 0x0100)
#define TAG_BS ANON_TAG(0x0028, 0x0101)
#define TAG_HB ANON_TAG(0x0028, 0x0102)
#define TAG_PR ANON_TAG(0x0028, 0x0103)
#define TAG_INTERCEPT ANON_TAG(0x0028, 0x1052)
#define TAG_SLOPE ANON_TAG(0x0028, 0x1053)
#define TAG_EOT ANON_TAG(0x7fe0, 0x0001)
#define TAG_PIXEL ANON_TAG(0x7fe0, 0x0010)

struct ts_entry {
	const char *uid;
	enum anon_pixel_ts ts;
};

static const struct ts_entry ts_table[] = {
	{ANON_TS_IMPLICIT_LE, ANON_PX_NATIVE_LE},
	{ANON_TS_EXPLICIT_LE, ANON_PX_NATIVE_LE},
	{ANON_TS_DEFLATED_LE, ANON_PX_NATIVE_LE},
	{ANON_TS_EXPLICIT_BE, ANON_PX_NATIVE_BE},
	{"1.2.840.10008.1.2.5", ANON_PX_RLE},
	{"1.2.840.10008.1.2.4.50", ANON_PX_JPEG_BASELINE},
	{"1.2.840.10008.1.2.4.51", ANON_PX_JPEG_EXTENDED},
	{"1.2.840.10008.1.2.4.57", ANON_PX_JPEG_LOSSLESS},
	{"1.2.840.10008.1.2.4.70", ANON_PX_JPEG_LOSSLESS},
	{"1.2.840.10008.1.2.4.80", ANON_PX_JPEGLS_LOSSLESS},
	{"1.2.840.10008.1.2.4.81", ANON_PX_JPEGLS_NEAR},
	{"1.2.840.10008.1.2.4.90", ANON_PX_J2K_LOSSLESS},
	{"1.2.840.10008.1.2.4.91", ANON_PX_J2K},
	{"1.2.840.10008.1.2.4.201", ANON_PX_HTJ2K_LOSSLESS},
	{"1.2.840.10008.1.2.4.202", ANON_PX_HTJ2K_LOSSLESS},
	{"1.2.840.10008.1.2.4.203", ANON_PX_HTJ2K},
};

static const char *const ts_names[] = {
	[ANON_PX_NATIVE_LE] = "Native Little Endian",
	[ANON_PX_NATIVE_BE] = "Native Big Endian",
	[ANON_PX_RLE] = "RLE Lossless",
	[ANON_PX_JPEG_BASELINE] = "JPEG Baseline",
	[ANON_PX_JPEG_EXTENDED] = "JPEG Extended",
	[ANON_PX_JPEG_LOSSLESS] = "JPEG Lossless",
	[ANON_PX_JPEGLS_LOSSLESS] = "JPEG-LS Lossless",
	[ANON_PX_JPEGLS_NEAR] = "JPEG-LS Near-Lossless",
	[ANON_PX_J2K_LOSSLESS] = "JPEG 2000 Lossless",
	[ANON_PX_J2K] = "JPEG 2000",
	[ANON_PX_HTJ2K_LOSSLESS] = "HTJ2K Lossless",
	[ANON_PX_HTJ2K] = "HTJ2K",
};

const char *anon_pixel_ts_name(enum anon_pixel_ts ts)
{
	if ((unsigned)ts >= sizeof ts_names / sizeof ts_names[0])
		return "unknown";
	return ts_names[ts];
}

static const struct {
	const char *term;
	enum anon_photometric pi;
} photo_table[] = {
	{"MONOCHROME1", ANON_PHOTO_MONOCHROME1},
	{"MONOCHROME2", ANON_PHOTO_MONOCHROME2},
	{"RGB", ANON_PHOTO_RGB},
	{"YBR_FULL", ANON_PHOTO_YBR_FULL},
	{"YBR_FULL_422", ANON_PHOTO_YBR_FULL_422},
	{"YBR_ICT", ANON_PHOTO_YBR_ICT},
	{"YBR_RCT", ANON_PHOTO_YBR_RCT},
	{"PALETTE COLOR", ANON_PHOTO_PALETTE},
};

/* The value of a text element without padding, as a NUL-terminated string
 * of at most cap-1 bytes (first value only). 0 when absent or too long. */
static int elem_str(const struct anon_ds *ds, uint32_t tag, char *buf,
		    size_t cap)
{
	const struct anon_elem *el = anon_ds_find(ds, tag);
	size_t a = 0, b, i;

	if (!el || (el->flags & ANON_ELEM_ENCAP) || !el->val)
		return 0;
	b = el->len;
	for (i = 0; i < b; i++) {
		if (el->val[i] == '\\') {
			b = i;
			break;
		}
	}
	while (a < b && (el->val[a] == ' ' || el->val[a] == 0))
		a++;
	while (b > a && (el->val[b - 1] == ' ' || el->val[b - 1] == 0))
		b--;
	if (b - a + 1 > cap)
		return 0;
	memcpy(buf, el->val + a, b - a);
	buf[b - a] = 0;
	return b > a;
}

/* One US value (little-endian after parsing). */
static int elem_us(const struct anon_ds *ds, uint32_t tag, uint16_t *v)
{
	const struct anon_elem *el = anon_ds_find(ds, tag);

	if (!el || (el->flags & ANON_ELEM_ENCAP) || !el->val || el->len < 2)
		return 0;
	*v = (uint16_t)(el->val[0] | (el->val[1] << 8));
	return 1;
}

static enum rf_rc need_us(const struct anon_ds *ds, uint32_t tag,
			  const char *kw, const char *name, uint16_t *v,
			  struct rf_err *e)
{
	if (!elem_us(ds, tag, v))
		return rf_err_set(e, RF_EPROTO, "'%s': %s is missing or empty",
				  name, kw);
	return RF_OK;
}

/* A DS value; *v unchanged when absent. */
static enum rf_rc opt_ds(const struct anon_ds *ds, uint32_t tag,
			 const char *kw, const char *name, double *v,
			 struct rf_err *e)
{
	char buf[32], *end;
	double x;

	if (!anon_ds_find(ds, tag))
		return RF_OK;
	if (!elem_str(ds, tag, buf, sizeof buf))
		return RF_OK; /* empty: the default applies */
	x = strtod(buf, &end);
	if (*end || !isfinite(x))
		return rf_err_set(e, RF_EPROTO, "'%s': %s '%s' is not a number",
				  name, kw, buf);
	*v = x;
	return RF_OK;
}

static enum rf_rc describe(const struct anon_dicom *d, const char *name,
			   struct anon_image *im, struct rf_err *e)
{
	const struct anon_ds *ds = &d->ds;
	const struct anon_elem *px;
	char buf[68], *end;
	uint16_t v = 0;
	size_t i, per_pixel, need, nsamp;
	enum rf_rc rc;
	long n;
	int found;

	snprintf(im->name, sizeof im->name, "%s", name);
	/* transfer syntax */
	found = 0;
	for (i = 0; i < sizeof ts_table / sizeof ts_table[0]; i++) {
		if (strcmp(d->ts_uid, ts_table[i].uid) == 0) {
			im->ts = ts_table[i].ts;
			found = 1;
			break;
		}
	}
	if (!found)
		return rf_err_set(e, RF_EUNSUPPORTED,
				  "'%s': pixel data in transfer syntax '%s' "
				  "cannot be decoded", name, d->ts_uid);

	if ((rc = need_us(ds, TAG_ROWS, "Rows", name, &v, e)))
		return rc;
	im->rows = v;
	if ((rc = need_us(ds, TAG_COLS, "Columns", name, &v, e)))
		return rc;
	im->cols = v;
	if (!im->rows || !im->cols)
		return rf_err_set(e, RF_EPROTO, "'%s': image of %ux%u pixels",
				  name, (unsigned)im->rows, (unsigned)im->cols);
	im->frames = 1;
	if (elem_str(ds, TAG_FRAMES, buf, sizeof buf)) {
		n = strtol(buf, &end, 10);
		if (*end || n < 1)
			return rf_err_set(e, RF_EPROTO, "'%s': Number of "
					  "Frames '%s' is not a positive "
					  "integer", name, buf);
		if (n > (long)ANON_PIXEL_MAX_FRAMES)
			return rf_err_set(e, RF_ETOOBIG, "'%s': %ld frames, "
					  "more than %u", name, n,
					  ANON_PIXEL_MAX_FRAMES);
		im->frames = (uint32_t)n;
	}
	if ((rc = need_us(ds, TAG_SPP, "Samples per Pixel", name,
			  &im->samples_per_pixel, e)))
		return rc;
	if (im->samples_per_pixel != 1 && im->samples_per_pixel != 3)
		return rf_err_set(e, RF_EUNSUPPORTED, "'%s': %u samples per "
				  "pixel (1 or 3 are decoded)", name,
				  (unsigned)im->samples_per_pixel);
	if ((rc = need_us(ds, TAG_BA, "Bits Allocated", name,
			  &im->bits_allocated, e)) ||
	    (rc = need_us(ds, TAG_BS, "Bits Stored", name, &im->bits_stored,
			  e)) ||
	    (rc = need_us(ds, TAG_HB, "High Bit", name, &im->high_bit, e)) ||
	    (rc = need_us(ds, TAG_PR, "Pixel Representation", name,
			  &im->pixel_representation, e)))
		return rc;
	if (im->bits_allocated != 1 && im->bits_allocated != 8 &&
	    im->bits_allocated != 16 && im->bits_allocated != 32)
		return rf_err_set(e, RF_EUNSUPPORTED, "'%s': Bits Allocated "
				  "%u (1, 8, 16 or 32 are decoded)", name,
				  (unsigned)im->bits_allocated);
	if (im->bits_stored < 1 || im->bits_stored > im->bits_allocated ||
	    im->high_bit >= im->bits_allocated ||
	    im->high_bit + 1 < im->bits_stored)
		return rf_err_set(e, RF_EPROTO, "'%s': Bits Stored %u and High "
				  "Bit %u do not fit Bits Allocated %u", name,
				  (unsigned)im->bits_stored,
				  (unsigned)im->high_bit,
				  (unsigned)im->bits_allocated);
	if (im->pixel_representation > 1)
		return rf_err_set(e, RF_EPROTO, "'%s': Pixel Representation "
				  "%u", name,
				  (unsigned)im->pixel_representation);
	if (!elem_str(ds, TAG_PHOTO, buf, sizeof buf))
		return rf_err_set(e, RF_EPROTO, "'%s': Photometric "
				  "Interpretation is missing or empty", name);
	found = 0;
	for (i = 0; i < sizeof photo_table / sizeof photo_table[0]; i++) {
		if (strcmp(buf, photo_table[i].term) == 0) {
			im->photometric = photo_table[i].pi;
			found = 1;
			break;
		}
	}
	if (!found)
		return rf_err_set(e, RF_EUNSUPPORTED, "'%s': Photometric "
				  "Interpretation '%s' is not decoded", name,
				  buf);
	if ((im->photometric <= ANON_PHOTO_MONOCHROME2 ||
	     im->photometric == ANON_PHOTO_PALETTE) !=
	    (im->samples_per_pixel == 1))
		return rf_err_set(e, RF_EPROTO, "'%s': Photometric "
				  "Interpretation '%s' with %u samples per "
				  "pixel", name, buf,
				  (unsigned)im->samples_per_pixel);
	if ((im->photometric == ANON_PHOTO_YBR_ICT ||
	     im->photometric == ANON_PHOTO_YBR_RCT) &&
	    im->ts != ANON_PX_J2K_LOSSLESS && im->ts != ANON_PX_J2K &&
	    im->ts != ANON_PX_HTJ2K_LOSSLESS && im->ts != ANON_PX_HTJ2K)
		return rf_err_set(e, RF_EPROTO, "'%s': Photometric "
				  "Interpretation '%s' outside JPEG 2000",
				  name, buf);
	im->planar_config = 0;
	if (im->samples_per_pixel > 1 && elem_us(ds, TAG_PLANAR, &v)) {
		if (v > 1)
			return rf_err_set(e, RF_EPROTO, "'%s': Planar "
					  "Configuration %u", name,
					  (unsigned)v);
		im->planar_config = v;
	}
	im->rescale_slope = 1.0;
	im->rescale_intercept = 0.0;
	if ((rc = opt_ds(ds, TAG_SLOPE, "Rescale Slope", name,
			 &im->rescale_slope, e)) ||
	    (rc = opt_ds(ds, TAG_INTERCEPT, "Rescale Intercept", name,
			 &im->rescale_intercept, e)))
		return rc;

	/* rows, cols < 2^16, spp <= 3: no overflow in size_t (64-bit) or in
	 * the checks below on 32-bit */
	nsamp = (size_t)im->rows * im->cols;
	if (nsamp > ANON_PIXEL_MAX_FRAME_SAMPLES / im->samples_per_pixel)
		return rf_err_set(e, RF_ETOOBIG, "'%s': frames of %ux%ux%u "
				  "samples are too big", name,
				  (unsigned)im->rows, (unsigned)im->cols,
				  (unsigned)im->samples_per_pixel);

	px = anon_ds_find(ds, TAG_PIXEL);
	if (!px)
		return rf_err_set(e, RF_EPROTO, "'%s': no Pixel Data", name);
	im->pixel = px;
	if (px->flags & ANON_ELEM_ENCAP) {
		if (im->ts <= ANON_PX_NATIVE_BE)
			return rf_err_set(e, RF_EPROTO, "'%s': encapsulated "
					  "Pixel Data in transfer syntax '%s'",
					  name, d->ts_uid);
		if (px->nfrags < 2)
			return rf_err_set(e, RF_EPROTO, "'%s': encapsulated "
					  "Pixel Data has no fragment", name);
		if (im->bits_allocated == 1)
			return rf_err_set(e, RF_EUNSUPPORTED, "'%s': "
					  "encapsulated 1-bit pixel data",
					  name);
		im->frame_bytes = 0;
		return RF_OK;
	}
	if (im->ts > ANON_PX_NATIVE_BE)
		return rf_err_set(e, RF_EPROTO, "'%s': native Pixel Data in "
				  "transfer syntax '%s'", name, d->ts_uid);
	per_pixel = im->samples_per_pixel;
	if (im->photometric == ANON_PHOTO_YBR_FULL_422) {
		if (im->planar_config != 0 || im->cols % 2)
			return rf_err_set(e, RF_EPROTO, "'%s': native "
					  "YBR_FULL_422 needs an even number "
					  "of columns and Planar "
					  "Configuration 0", name);
		per_pixel = 2;
	}
	if (im->bits_allocated == 1) {
		/* frames follow each other bit by bit (PS3.5 8.1.1) */
		if (im->samples_per_pixel != 1)
			return rf_err_set(e, RF_EUNSUPPORTED, "'%s': 1-bit "
					  "colour pixel data", name);
		im->frame_bytes = 0;
		need = (nsamp * im->frames + 7) / 8;
	} else {
		im->frame_bytes = nsamp * per_pixel *
				  (im->bits_allocated / 8u);
		/* frame_bytes <= 2^28 * 4, frames < 2^16: fits 64 bits */
		if ((uint64_t)im->frame_bytes * im->frames > SIZE_MAX)
			return rf_err_set(e, RF_ETOOBIG, "'%s': pixel data "
					  "too big", name);
		need = im->frame_bytes * im->frames;
	}
	if (px->len < need)
		return rf_err_set(e, RF_EPROTO, "'%s': Pixel Data has %zu "
				  "bytes, %u frame%s of %ux%ux%u bits need %zu",
				  name, px->len, (unsigned)im->frames,
				  im->frames == 1 ? "" : "s",
				  (unsigned)im->rows, (unsigned)im->cols,
				  (unsigned)(per_pixel * im->bits_allocated),
				  need);
	return RF_OK;
}

enum rf_rc anon_image_describe(const struct anon_dicom *d, const char *name,
			       struct anon_image *im, struct rf_err *e)
{
	enum rf_rc rc;

	if (!im)
		return rf_err_set(e, RF_EINVAL, "no image description");
	memset(im, 0, sizeof *im);
	if (!d || !name)
		return rf_err_set(e, RF_EINVAL, "no file to describe");
	rc = describe(d, name, im, e);
	if (rc)
		memset(im, 0, sizeof *im);
	return rc;
}

size_t anon_image_frame_values(const struct anon_image *im)
{
	return (size_t)im->rows * im->cols * im->samples_per_pixel;
}

enum anon_photometric
anon_pixel_decoded_photometric(const struct anon_image *im)
{
	switch (im->photometric) {
	case ANON_PHOTO_YBR_FULL:
	case ANON_PHOTO_YBR_FULL_422:
		if (im->ts == ANON_PX_JPEG_BASELINE ||
		    im->ts == ANON_PX_JPEG_EXTENDED)
			return ANON_PHOTO_RGB;
		return ANON_PHOTO_YBR_FULL;
	case ANON_PHOTO_YBR_ICT:
	case ANON_PHOTO_YBR_RCT:
		return ANON_PHOTO_RGB;
	default:
		return im->photometric;
	}
}

/* ---- native ------------------------------------------------------------ */

/* Byte orders of native samples after parsing (see anon_dicom.h: the
 * reader swaps OW values of big-endian files in 16-bit units). */
enum order { ORD_LE, ORD_BE, ORD_WORDS_SWAPPED };

static uint32_t load(const uint8_t *p, unsigned bytes, enum order ord)
{
	switch (bytes) {
	case 1:
		return p[0];
	case 2:
		if (ord == ORD_BE)
			return (uint32_t)p[0] << 8 | p[1];
		return (uint32_t)p[1] << 8 | p[0];
	default:
		if (ord == ORD_BE)
			return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			       (uint32_t)p[2] << 8 | p[3];
		if (ord == ORD_WORDS_SWAPPED)
			return (uint32_t)p[1] << 24 | (uint32_t)p[0] << 16 |
			       (uint32_t)p[3] << 8 | p[2];
		return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
		       (uint32_t)p[1] << 8 | p[0];
	}
}

/* bits_stored bits below high_bit of raw, sign-extended if signed. */
static int32_t stored(const struct anon_image *im, uint32_t raw)
{
	unsigned shift = im->high_bit + 1u - im->bits_stored;
	uint32_t mask = im->bits_stored >= 32
				? 0xffffffffu
				: ((uint32_t)1 << im->bits_stored) - 1;
	uint32_t v = (raw >> shift) & mask;

	if (im->pixel_representation && im->bits_stored < 32 &&
	    (v >> (im->bits_stored - 1)) & 1)
		v |= ~mask;
	return (int32_t)v;
}

static void decode_native(const struct anon_image *im, uint32_t frame,
			  int32_t *out)
{
	const uint8_t *p = im->pixel->val + (size_t)frame * im->frame_bytes;
	unsigned bytes = im->bits_allocated / 8u;
	size_t npix = (size_t)im->rows * im->cols, i;
	unsigned spp = im->samples_per_pixel, s;
	enum order ord = ORD_LE;

	if (im->bits_allocated == 1) {
		/* bit k of the whole pixel data, least significant first */
		size_t k = (size_t)frame * npix;

		for (i = 0; i < npix; i++, k++)
			out[i] = (im->pixel->val[k / 8] >> (k % 8)) & 1;
		return;
	}

	if (im->ts == ANON_PX_NATIVE_BE) {
		if (im->pixel->vr == ANON_VR('O', 'W'))
			ord = bytes == 4 ? ORD_WORDS_SWAPPED : ORD_LE;
		else
			ord = ORD_BE;
	}
	if (im->photometric == ANON_PHOTO_YBR_FULL_422) {
		/* Y1 Y2 Cb Cr for each pair of pixels of a row */
		for (i = 0; i < npix; i += 2) {
			const uint8_t *q = p + i * 2 * bytes;
			int32_t cb = stored(im, load(q + 2 * bytes, bytes,
						     ord));
			int32_t cr = stored(im, load(q + 3 * bytes, bytes,
						     ord));

			out[i * 3] = stored(im, load(q, bytes, ord));
			out[i * 3 + 1] = cb;
			out[i * 3 + 2] = cr;
			out[i * 3 + 3] = stored(im, load(q + bytes, bytes,
							 ord));
			out[i * 3 + 4] = cb;
			out[i * 3 + 5] = cr;
		}
		return;
	}
	if (spp > 1 && im->planar_config == 1) {
		for (s = 0; s < spp; s++)
			for (i = 0; i < npix; i++)
				out[i * spp + s] = stored(
					im, load(p + (s * npix + i) * bytes,
						 bytes, ord));
		return;
	}
	for (i = 0; i < npix * spp; i++)
		out[i] = stored(im, load(p + i * bytes, bytes, ord));
}

/* ---- encapsulated ------------------------------------------------------ */

static int ends_with_eoi(const struct anon_frag *f)
{
	size_t n = f->len;

	if (n >= 1 && f->val[n - 1] == 0)
		n--;
	return n >= 2 && f->val[n - 2] == 0xff && f->val[n - 1] == 0xd9;
}

static uint64_t le_n(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* The data fragments [*first, *first + *count) (indexes into frags, from 1
 * since frags[0] is the offset table) whose items start at byte offsets
 * (from the first item after the offset table) in [start, stop). 0 when
 * no fragment starts exactly at start. */
static int frags_between(const struct anon_elem *px, uint64_t start,
			 uint64_t stop, size_t *first, size_t *count)
{
	uint64_t off = 0;
	size_t i, a = 0, b = 0;
	int have_a = 0;

	if (stop <= start)
		return 0;
	for (i = 1; i < px->nfrags; i++) {
		if (off == start) {
			a = i;
			have_a = 1;
		}
		if (have_a && off < stop)
			b = i + 1;
		off += 8 + (uint64_t)px->frags[i].len;
	}
	if (!have_a || b <= a || (stop != UINT64_MAX && off < stop))
		return 0;
	*first = a;
	*count = b - a;
	return 1;
}

/* Frame location with a table of 'width'-byte offsets, one per frame. */
static int frame_by_table(const struct anon_image *im, const uint8_t *tab,
			  size_t len, unsigned width, uint32_t frame,
			  size_t *first, size_t *count)
{
	uint64_t start, stop = UINT64_MAX;

	if (len != (size_t)im->frames * width)
		return 0;
	start = le_n(tab + (size_t)frame * width, width);
	if (frame + 1 < im->frames)
		stop = le_n(tab + ((size_t)frame + 1) * width, width);
	return frags_between(im->pixel, start, stop, first, count);
}

static enum rf_rc locate(const struct anon_dicom *d,
			 const struct anon_image *im, uint32_t frame,
			 size_t *first, size_t *count, struct rf_err *e)
{
	const struct anon_elem *px = im->pixel;
	const struct anon_elem *eot = anon_ds_find(&d->ds, TAG_EOT);
	size_t ndata = px->nfrags - 1, i, k = 0, start = 1;

	if (px->frags[0].len &&
	    frame_by_table(im, px->frags[0].val, px->frags[0].len, 4, frame,
			   first, count))
		return RF_OK;
	if (eot && !(eot->flags & ANON_ELEM_ENCAP) && eot->val &&
	    frame_by_table(im, eot->val, eot->len, 8, frame, first, count))
		return RF_OK;
	if (im->frames == 1) {
		*first = 1;
		*count = ndata;
		return RF_OK;
	}
	if (ndata == im->frames) {
		*first = frame + 1;
		*count = 1;
		return RF_OK;
	}
	if (im->ts != ANON_PX_RLE) {
		for (i = 1; i < px->nfrags; i++) {
			if (!ends_with_eoi(&px->frags[i]))
				continue;
			if (k == frame) {
				*first = start;
				*count = i + 1 - start;
				return RF_OK;
			}
			k++;
			start = i + 1;
		}
	}
	return rf_err_set(e, RF_EPROTO, "cannot locate frame %u among %zu "
			  "fragments", (unsigned)frame, ndata);
}

static anon__px_decode_fn decoder_of(enum anon_pixel_ts ts)
{
	switch (ts) {
	case ANON_PX_RLE:
		return anon__px_rle;
	case ANON_PX_JPEG_BASELINE:
	case ANON_PX_JPEG_EXTENDED:
		return anon__px_jpeg;
	case ANON_PX_JPEG_LOSSLESS:
		return anon__px_ljpeg;
	case ANON_PX_JPEGLS_LOSSLESS:
	case ANON_PX_JPEGLS_NEAR:
		return anon__px_jpegls;
	case ANON_PX_J2K_LOSSLESS:
	case ANON_PX_J2K:
	case ANON_PX_HTJ2K_LOSSLESS:
	case ANON_PX_HTJ2K:
		return anon__px_j2k;
	default:
		return NULL;
	}
}

/* The SOF marker (0xc0..0xcf) of a JPEG stream, or 0. Used to send
 * streams whose transfer syntax is mislabelled (lossless data under a
 * lossy UID and the reverse, as some writers do) to the right decoder. */
static unsigned jpeg_sof(const uint8_t *p, size_t n)
{
	size_t pos = 2;

	if (n < 4 || p[0] != 0xff || p[1] != 0xd8)
		return 0;
	while (pos + 4 <= n && p[pos] == 0xff) {
		unsigned m = p[pos + 1];

		if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 &&
		    m != 0xcc)
			return m;
		if (m == 0xff) {
			pos++; /* fill byte */
			continue;
		}
		if (m == 0xda || m == 0xd9)
			return 0;
		pos += 2 + ((size_t)p[pos + 2] << 8 | p[pos + 3]);
	}
	return 0;
}

static enum rf_rc decode_encap(const struct anon_dicom *d,
			       const struct anon_image *im, uint32_t frame,
			       int32_t *out, struct rf_err *e)
{
	const struct anon_elem *px = im->pixel;
	anon__px_decode_fn fn = decoder_of(im->ts);
	size_t first = 0, count = 0, i, n = 0, nval;
	uint8_t *joined = NULL;
	const uint8_t *p;
	enum rf_rc rc;

	if (!fn)
		return rf_err_set(e, RF_EINTERNAL, "no decoder");
	if ((rc = locate(d, im, frame, &first, &count, e)))
		return rc;
	if (count == 1) {
		p = px->frags[first].val;
		n = px->frags[first].len;
	} else {
		for (i = first; i < first + count; i++) {
			if (px->frags[i].len > SIZE_MAX / 2 - n)
				return rf_err_set(e, RF_ETOOBIG, "frame too "
						  "big");
			n += px->frags[i].len;
		}
		joined = rf_malloc(n);
		if (!joined)
			return rf_err_set(e, RF_ENOMEM, "out of memory");
		n = 0;
		for (i = first; i < first + count; i++) {
			if (px->frags[i].len)
				memcpy(joined + n, px->frags[i].val,
				       px->frags[i].len);
			n += px->frags[i].len;
		}
		p = joined;
	}
	if (fn == anon__px_jpeg && jpeg_sof(p, n) == 0xc3)
		fn = anon__px_ljpeg;
	else if (fn == anon__px_ljpeg &&
		 (jpeg_sof(p, n) == 0xc0 || jpeg_sof(p, n) == 0xc1))
		fn = anon__px_jpeg;
	rc = fn(im, p, n, out, e);
	if (joined)
		rf_free_secret(joined, n);
	if (rc)
		return rc;
	nval = anon_image_frame_values(im);
	for (i = 0; i < nval; i++) {
		uint32_t mask = im->bits_stored >= 32
					? 0xffffffffu
					: ((uint32_t)1 << im->bits_stored) - 1;
		uint32_t v = (uint32_t)out[i] & mask;

		if (im->pixel_representation && im->bits_stored < 32 &&
		    (v >> (im->bits_stored - 1)) & 1)
			v |= ~mask;
		out[i] = (int32_t)v;
	}
	return RF_OK;
}

enum rf_rc anon_pixel_decode_frame(const struct anon_dicom *d,
				   const struct anon_image *im, uint32_t frame,
				   int32_t *out, struct rf_err *e)
{
	enum rf_rc rc;

	if (!d || !im || !out || !im->pixel)
		return rf_err_set(e, RF_EINVAL, "no image to decode");
	if (frame >= im->frames)
		return rf_err_set(e, RF_EINVAL, "'%s': frame %u of %u",
				  im->name, (unsigned)frame,
				  (unsigned)im->frames);
	if (anon_ds_find(&d->ds, TAG_PIXEL) != im->pixel)
		return rf_err_set(e, RF_EINVAL, "'%s': the description is "
				  "not of this file", im->name);
	if (!(im->pixel->flags & ANON_ELEM_ENCAP)) {
		decode_native(im, frame, out);
		return RF_OK;
	}
	rc = decode_encap(d, im, frame, out, e);
	if (rc)
		return rf_err_prefix(e, "'%s': frame %u (%s)", im->name,
				     (unsigned)frame,
				     anon_pixel_ts_name(im->ts));
	return RF_OK;
}

enum rf_rc anon_pixel_frame_grey(const struct anon_dicom *d,
				 const struct anon_image *im, uint32_t frame,
				 float *out, struct rf_err *e)
{
	size_t npix, i;
	int32_t *v;
	enum anon_photometric pi;
	double flip;
	enum rf_rc rc;

	if (!d || !im || !out)
		return rf_err_set(e, RF_EINVAL, "no image to decode");
	pi = anon_pixel_decoded_photometric(im);
	if (pi == ANON_PHOTO_PALETTE)
		return rf_err_set(e, RF_EUNSUPPORTED, "'%s': PALETTE COLOR "
				  "images have no defined grey level",
				  im->name);
	v = rf_mallocarray(anon_image_frame_values(im), sizeof *v);
	if (!v)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	rc = anon_pixel_decode_frame(d, im, frame, v, e);
	if (rc)
		goto out;
	npix = (size_t)im->rows * im->cols;
	if (im->pixel_representation)
		flip = -1.0;
	else
		flip = ldexp(1.0, im->bits_stored) - 1.0;
	for (i = 0; i < npix; i++) {
		double x;

		switch (pi) {
		case ANON_PHOTO_MONOCHROME1:
			x = im->rescale_slope * (flip - v[i]) +
			    im->rescale_intercept;
			break;
		case ANON_PHOTO_MONOCHROME2:
			x = im->rescale_slope * v[i] + im->rescale_intercept;
			break;
		case ANON_PHOTO_RGB:
			x = 0.299 * v[3 * i] + 0.587 * v[3 * i + 1] +
			    0.114 * v[3 * i + 2];
			break;
		default: /* YBR_FULL: the luma is the Y sample */
			x = v[3 * i];
			break;
		}
		out[i] = (float)x;
	}
out:
	rf_free_secret(v, anon_image_frame_values(im) * sizeof *v);
	return rc;
}
