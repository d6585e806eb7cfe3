/*
 * anon_pixel_j2k.c - JPEG 2000 (Part 1) and HTJ2K (Part 15) frames through
 * OpenJPEG 2 (2.5 or later decodes HTJ2K codestreams).
 *
 * DICOM holds a bare codestream (starting with SOC FF 4F); a JP2 file
 * (starting with its signature box), which some writers put there, is
 * accepted too. OpenJPEG applies the inverse multi-component transform
 * that the codestream declares, so YBR_RCT/YBR_ICT data comes out as RGB.
 * The decoded image must have rows x cols pixels in each of its first
 * samples_per_pixel components, no subsampling, precision at most Bits
 * Allocated; extra components (alpha) are ignored. OpenJPEG's messages are
 * kept: the last error becomes the message of RF_EPROTO.
 */
#include <stdio.h>
#include <string.h>

#include <openjpeg.h>

#include "anon_pixel_int.h"

struct mem_stream {
	const uint8_t *p;
	size_t n, pos;
};

static OPJ_SIZE_T mem_read(void *buf, OPJ_SIZE_T len, void *ud)
{
	struct mem_stream *m = ud;
	size_t k = m->n - m->pos;

	if (k == 0)
		return (OPJ_SIZE_T)-1;
	if (k > len)
		k = len;
	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return k;
}

static OPJ_OFF_T mem_skip(OPJ_OFF_T off, void *ud)
{
	struct mem_stream *m = ud;

	if (off < 0) {
		if ((size_t)-off > m->pos)
			return -1;
		m->pos -= (size_t)-off;
		return off;
	}
	if ((uint64_t)off > m->n - m->pos)
		off = (OPJ_OFF_T)(m->n - m->pos);
	m->pos += (size_t)off;
	return off;
}

static OPJ_BOOL mem_seek(OPJ_OFF_T off, void *ud)
{
	struct mem_stream *m = ud;

	if (off < 0 || (uint64_t)off > m->n)
		return OPJ_FALSE;
	m->pos = (size_t)off;
	return OPJ_TRUE;
}

static void on_error(const char *msg, void *ud)
{
	char *buf = ud;
	size_t n;

	snprintf(buf, 200, "%s", msg);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '.'))
		buf[--n] = 0;
}

static void on_quiet(const char *msg, void *ud)
{
	(void)msg;
	(void)ud;
}

static const uint8_t jp2_sig[12] = {0, 0, 0, 12, 'j', 'P', ' ', ' ',
				    0x0d, 0x0a, 0x87, 0x0a};

enum rf_rc anon__px_j2k(const struct anon_image *im, const uint8_t *p,
			size_t n, int32_t *out, struct rf_err *e)
{
	struct mem_stream ms = {p, n, 0};
	opj_stream_t *st = NULL;
	opj_codec_t *codec = NULL;
	opj_image_t *img = NULL;
	opj_dparameters_t par;
	char msg[200] = "corrupt codestream";
	unsigned spp = im->samples_per_pixel, c;
	size_t npix = (size_t)im->rows * im->cols, i;
	enum rf_rc rc = RF_OK;

	if (n >= 12 && memcmp(p, jp2_sig, 12) == 0)
		codec = opj_create_decompress(OPJ_CODEC_JP2);
	else if (n >= 2 && p[0] == 0xff && p[1] == 0x4f)
		codec = opj_create_decompress(OPJ_CODEC_J2K);
	else
		return rf_err_set(e, RF_EPROTO, "JPEG 2000: no codestream "
				  "start marker");
	st = opj_stream_create(64 * 1024, OPJ_TRUE);
	if (!codec || !st) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory");
		goto out;
	}
	opj_stream_set_user_data(st, &ms, NULL);
	opj_stream_set_user_data_length(st, n);
	opj_stream_set_read_function(st, mem_read);
	opj_stream_set_skip_function(st, mem_skip);
	opj_stream_set_seek_function(st, mem_seek);
	opj_set_error_handler(codec, on_error, msg);
	opj_set_warning_handler(codec, on_quiet, NULL);
	opj_set_info_handler(codec, on_quiet, NULL);
	opj_set_default_decoder_parameters(&par);
	if (!opj_setup_decoder(codec, &par) ||
	    !opj_read_header(st, codec, &img) || !img) {
		rc = rf_err_set(e, RF_EPROTO, "JPEG 2000: %s", msg);
		goto out;
	}
	if (img->numcomps < spp ||
	    img->x1 - img->x0 != im->cols || img->y1 - img->y0 != im->rows) {
		rc = rf_err_set(e, RF_EPROTO, "JPEG 2000 of %ux%u pixels and "
				"%u components does not match the image",
				(unsigned)(img->x1 - img->x0),
				(unsigned)(img->y1 - img->y0),
				(unsigned)img->numcomps);
		goto out;
	}
	if (!opj_decode(codec, st, img) || !opj_end_decompress(codec, st)) {
		rc = rf_err_set(e, RF_EPROTO, "JPEG 2000: %s", msg);
		goto out;
	}
	for (c = 0; c < spp; c++) {
		const opj_image_comp_t *cp = &img->comps[c];

		if (!cp->data || cp->w != im->cols || cp->h != im->rows ||
		    cp->dx != 1 || cp->dy != 1 || cp->prec < 1 ||
		    cp->prec > im->bits_allocated || cp->prec > 31) {
			rc = rf_err_set(e, RF_EPROTO, "JPEG 2000 component %u "
					"of %ux%u samples of %u bits does not "
					"match the image", c, (unsigned)cp->w,
					(unsigned)cp->h, (unsigned)cp->prec);
			goto out;
		}
	}
	for (i = 0; i < npix; i++)
		for (c = 0; c < spp; c++)
			out[i * spp + c] = img->comps[c].data[i];
out:
	opj_image_destroy(img);
	opj_stream_destroy(st);
	opj_destroy_codec(codec);
	return rc;
}
