/*
 * anon_pixel_ljpeg.c - JPEG lossless, process 14 (ITU-T T.81 Annex H, with
 * Huffman coding): transfer syntaxes .4.57 (any predictor 1-7) and .4.70
 * (predictor 1). Written here because the libjpeg-turbo of Debian 12 has no
 * lossless decoder.
 *
 * Supported: precision 2-16 bits, 1 to 4 components each sampled 1x1,
 * interleaved or one scan per component, point transform, restart intervals
 * that are a whole number of rows. Not supported (RF_EUNSUPPORTED):
 * arithmetic coding, hierarchical mode, subsampled components.
 *
 * Decoding is bounded by the frame buffer: Huffman codes are read bit by
 * bit from the stream with no look-ahead, so a stream that ends (or hits a
 * marker) before every sample is decoded fails with RF_EPROTO.
 */
#include <string.h>

#include "anon_pixel_int.h"

struct huff {
	int defined;
	uint8_t vals[256];
	int32_t mincode[17], maxcode[17], valptr[17];
};

struct comp {
	uint8_t id, td, pt, done;
};

struct ljpeg {
	const uint8_t *p;
	size_t n, pos;
	unsigned precision, width, height, ncomp, restart;
	struct comp comp[4];
	struct huff ht[4];
	uint32_t acc;
	int nbits;
	int have_sof;
	struct rf_err *e;
};

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static enum rf_rc bad(struct ljpeg *j, const char *what)
{
	return rf_err_set(j->e, RF_EPROTO, "lossless JPEG: %s at byte %zu",
			  what, j->pos);
}

/* Huffman table per T.81 Annex C and F.2.2.3. */
static enum rf_rc read_dht(struct ljpeg *j, const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned tc, th, l, k, total = 0;
		int32_t code = 0;
		struct huff *h;

		tc = p[i] >> 4;
		th = p[i] & 15;
		if (tc != 0 || th > 3)
			return bad(j, "Huffman table class/id");
		if (len - i < 17)
			return bad(j, "short Huffman table");
		for (l = 1; l <= 16; l++)
			total += p[i + l];
		if (total > 256 || len - i - 17 < total)
			return bad(j, "Huffman table size");
		h = &j->ht[th];
		memset(h, 0, sizeof *h);
		memcpy(h->vals, p + i + 17, total);
		k = 0;
		for (l = 1; l <= 16; l++) {
			unsigned cnt = p[i + l];

			if (cnt) {
				h->valptr[l] = (int32_t)k;
				h->mincode[l] = code;
				code += (int32_t)cnt;
				k += cnt;
				h->maxcode[l] = code - 1;
			} else {
				h->maxcode[l] = -1;
			}
			if (code > (1 << l))
				return bad(j, "Huffman table over-full");
			code <<= 1;
		}
		h->defined = 1;
		i += 17 + total;
	}
	return RF_OK;
}

static enum rf_rc read_sof(struct ljpeg *j, const struct anon_image *im,
			   const uint8_t *p, size_t len)
{
	unsigned c;

	if (len < 6)
		return bad(j, "short frame header");
	j->precision = p[0];
	j->height = be16(p + 1);
	j->width = be16(p + 3);
	j->ncomp = p[5];
	if (j->precision < 2 || j->precision > 16)
		return bad(j, "precision outside 2-16");
	if (j->ncomp < 1 || j->ncomp > 4 || len < 6 + 3 * (size_t)j->ncomp)
		return bad(j, "component count");
	if (j->width != im->cols || j->height != im->rows ||
	    j->ncomp != im->samples_per_pixel ||
	    j->precision > im->bits_allocated)
		return rf_err_set(j->e, RF_EPROTO, "lossless JPEG of %ux%u "
				  "pixels, %u components of %u bits does not "
				  "match the image", j->width, j->height,
				  j->ncomp, j->precision);
	for (c = 0; c < j->ncomp; c++) {
		const uint8_t *q = p + 6 + 3 * c;

		j->comp[c].id = q[0];
		if (q[1] != 0x11)
			return rf_err_set(j->e, RF_EUNSUPPORTED, "lossless "
					  "JPEG with subsampled components");
	}
	j->have_sof = 1;
	return RF_OK;
}

/* ---- entropy-coded data ------------------------------------------------ */

static int next_bit(struct ljpeg *j)
{
	if (j->nbits == 0) {
		uint8_t b;

		if (j->pos >= j->n)
			return -1;
		b = j->p[j->pos];
		if (b == 0xff) {
			if (j->pos + 1 >= j->n || j->p[j->pos + 1] != 0)
				return -1; /* a marker: the data ended */
			j->pos++;
		}
		j->pos++;
		j->acc = b;
		j->nbits = 8;
	}
	j->nbits--;
	return (int)(j->acc >> j->nbits) & 1;
}

static int decode_huff(struct ljpeg *j, const struct huff *h)
{
	int32_t code;
	int b, l;

	if ((b = next_bit(j)) < 0)
		return -1;
	code = b;
	for (l = 1; l <= 16; l++) {
		if (h->maxcode[l] >= 0 && code <= h->maxcode[l] &&
		    code >= h->mincode[l])
			return h->vals[(h->valptr[l] + code - h->mincode[l]) &
				       0xff];
		if ((b = next_bit(j)) < 0)
			return -1;
		code = code << 1 | b;
	}
	return -2;
}

/* The difference of one sample (T.81 H.1.2.2 and F.2.2.1); 0 on success. */
static int read_diff(struct ljpeg *j, const struct huff *h, int32_t *diff)
{
	int s = decode_huff(j, h), b, i;
	int32_t v = 0;

	if (s < 0 || s > 16)
		return -1;
	if (s == 16) {
		*diff = 32768;
		return 0;
	}
	for (i = 0; i < s; i++) {
		if ((b = next_bit(j)) < 0)
			return -1;
		v = v << 1 | b;
	}
	if (s && v < (1 << (s - 1)))
		v = v - (1 << s) + 1;
	*diff = v;
	return 0;
}

static enum rf_rc read_restart(struct ljpeg *j)
{
	j->nbits = 0;
	while (j->pos < j->n && j->p[j->pos] == 0xff &&
	       j->pos + 1 < j->n && j->p[j->pos + 1] == 0xff)
		j->pos++;
	if (j->pos + 1 >= j->n || j->p[j->pos] != 0xff ||
	    (j->p[j->pos + 1] & 0xf8) != 0xd0)
		return bad(j, "missing restart marker");
	j->pos += 2;
	return RF_OK;
}

static enum rf_rc decode_scan(struct ljpeg *j, const uint8_t *hdr,
			      size_t len, int32_t *out)
{
	unsigned ns, sel, pt, k, c, idx[4], nc = j->ncomp;
	const struct huff *h[4];
	unsigned x, y, rows_per_interval = 0, row_in_interval;
	size_t w = j->width;
	enum rf_rc rc;

	if (!j->have_sof)
		return bad(j, "scan before frame header");
	if (len < 1)
		return bad(j, "short scan header");
	ns = hdr[0];
	if (ns < 1 || ns > nc || len < 1 + 2 * (size_t)ns + 3)
		return bad(j, "scan header");
	for (k = 0; k < ns; k++) {
		unsigned id = hdr[1 + 2 * k], td = hdr[2 + 2 * k] >> 4;

		for (c = 0; c < nc && j->comp[c].id != id; c++)
			;
		if (c == nc || j->comp[c].done)
			return bad(j, "scan component");
		if (td > 3 || !j->ht[td].defined)
			return bad(j, "undefined Huffman table");
		idx[k] = c;
		h[k] = &j->ht[td];
	}
	sel = hdr[1 + 2 * ns];
	pt = hdr[3 + 2 * ns] & 15;
	if (sel < 1 || sel > 7)
		return rf_err_set(j->e, RF_EUNSUPPORTED, "lossless JPEG "
				  "predictor %u", sel);
	if (pt >= j->precision)
		return bad(j, "point transform");
	if (j->restart) {
		/* MCUs of a scan are single pixels (1x1 sampling) */
		if (j->restart % j->width)
			return rf_err_set(j->e, RF_EUNSUPPORTED, "lossless "
					  "JPEG restart interval of %u pixels "
					  "in rows of %u", j->restart,
					  j->width);
		rows_per_interval = j->restart / j->width;
	}
	j->nbits = 0;
	row_in_interval = 0;
	for (y = 0; y < j->height; y++) {
		if (rows_per_interval && row_in_interval == rows_per_interval) {
			if ((rc = read_restart(j)))
				return rc;
			row_in_interval = 0;
		}
		for (x = 0; x < j->width; x++) {
			for (k = 0; k < ns; k++) {
				size_t i = ((size_t)y * w + x) * nc + idx[k];
				int32_t pred, diff, ra, rb, rcc;

				if (read_diff(j, h[k], &diff))
					return bad(j, "truncated or corrupt "
						   "entropy-coded data");
				if (row_in_interval == 0) {
					pred = x == 0 ? 1 << (j->precision -
							      pt - 1)
						      : out[i - nc];
				} else if (x == 0) {
					pred = out[i - w * nc];
				} else {
					ra = out[i - nc];
					rb = out[i - w * nc];
					rcc = out[i - w * nc - nc];
					switch (sel) {
					case 1: pred = ra; break;
					case 2: pred = rb; break;
					case 3: pred = rcc; break;
					case 4: pred = ra + rb - rcc; break;
					case 5: pred = ra + ((rb - rcc) >> 1);
						break;
					case 6: pred = rb + ((ra - rcc) >> 1);
						break;
					default: pred = (ra + rb) >> 1; break;
					}
				}
				out[i] = (pred + diff) & 0xffff;
			}
		}
		row_in_interval++;
	}
	for (k = 0; k < ns; k++) {
		j->comp[idx[k]].done = 1;
		j->comp[idx[k]].pt = (uint8_t)pt;
	}
	j->nbits = 0;
	return RF_OK;
}

enum rf_rc anon__px_ljpeg(const struct anon_image *im, const uint8_t *p,
			  size_t n, int32_t *out, struct rf_err *e)
{
	struct ljpeg j;
	unsigned marker, c;
	size_t len, i, nval = anon_image_frame_values(im);
	enum rf_rc rc;

	memset(&j, 0, sizeof j);
	j.p = p;
	j.n = n;
	j.e = e;
	if (n < 2 || p[0] != 0xff || p[1] != 0xd8)
		return bad(&j, "no start-of-image marker");
	j.pos = 2;
	for (;;) {
		/* skip anything up to a marker (fill bytes included) */
		while (j.pos < n && p[j.pos] != 0xff)
			j.pos++;
		while (j.pos < n && p[j.pos] == 0xff)
			j.pos++;
		if (j.pos >= n)
			return bad(&j, "no end-of-image marker");
		marker = p[j.pos++];
		if (marker == 0xd9)
			break;
		if (marker == 0x00 || marker == 0x01 ||
		    (marker >= 0xd0 && marker <= 0xd8))
			continue; /* stand-alone markers */
		if (n - j.pos < 2 || be16(p + j.pos) < 2 ||
		    be16(p + j.pos) > n - j.pos)
			return bad(&j, "truncated marker segment");
		len = be16(p + j.pos) - 2;
		j.pos += 2;
		switch (marker) {
		case 0xc3:
			if (j.have_sof)
				return bad(&j, "second frame header");
			rc = read_sof(&j, im, p + j.pos, len);
			break;
		case 0xc4:
			rc = read_dht(&j, p + j.pos, len);
			break;
		case 0xdd:
			rc = len < 2 ? bad(&j, "short restart interval")
				     : RF_OK;
			if (!rc)
				j.restart = be16(p + j.pos);
			break;
		case 0xda:
			j.pos += len;
			rc = decode_scan(&j, p + j.pos - len, len, out);
			if (rc)
				return rc;
			continue;
		case 0xc0: case 0xc1: case 0xc2: case 0xc5: case 0xc6:
		case 0xc7: case 0xc9: case 0xca: case 0xcb: case 0xcd:
		case 0xce: case 0xcf:
			return rf_err_set(e, RF_EUNSUPPORTED, "JPEG process "
					  "with marker SOF%u is not lossless "
					  "Huffman (SOF3)", marker - 0xc0);
		default:
			rc = RF_OK; /* APPn, COM, DQT, DNL...: skipped */
			break;
		}
		if (rc)
			return rc;
		j.pos += len;
	}
	if (!j.have_sof)
		return bad(&j, "no frame header");
	for (c = 0; c < j.ncomp; c++)
		if (!j.comp[c].done)
			return bad(&j, "component missing from every scan");
	for (i = 0; i < nval; i++)
		out[i] = (int32_t)((uint32_t)out[i] << j.comp[i % j.ncomp].pt);
	return RF_OK;
}
