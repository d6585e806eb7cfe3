/*
 * anon_pixel_jpeg.c - JPEG Baseline and Extended (processes 1, 2, 4) frames
 * through libjpeg(-turbo).
 *
 * Colour follows the Photometric Interpretation, as dcmtk does by default:
 * YBR_FULL and YBR_FULL_422 streams are converted to RGB, RGB streams are
 * taken as RGB whatever their JFIF/Adobe markers say. Only 8-bit samples:
 * the libjpeg of Debian 12 is built without 12-bit support, so 12-bit
 * process 4 streams give RF_EUNSUPPORTED. libjpeg's warnings about missing
 * data (premature end, unexpected marker, lost sync) are errors here: it
 * would otherwise fill the missing samples with grey.
 *
 * libjpeg reports fatal errors by longjmp; nothing allocated through
 * rf_alloc is live across the setjmp, and libjpeg's own pool holds the
 * scanline buffer.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "anon_pixel_int.h"

struct err_mgr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	int bad_data; /* a warning meaning samples are missing */
	char msg[JMSG_LENGTH_MAX];
};

static void on_error(j_common_ptr c)
{
	struct err_mgr *m = (struct err_mgr *)c->err;

	(*c->err->format_message)(c, m->msg);
	longjmp(m->jb, 1);
}

static void on_message(j_common_ptr c, int level)
{
	struct err_mgr *m = (struct err_mgr *)c->err;
	int code = c->err->msg_code;

	if (level >= 0)
		return; /* trace messages */
	if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER ||
	    code == JWRN_MUST_RESYNC || code == JWRN_HUFF_BAD_CODE) {
		if (!m->bad_data)
			(*c->err->format_message)(c, m->msg);
		m->bad_data = 1;
	}
}

enum rf_rc anon__px_jpeg(const struct anon_image *im, const uint8_t *p,
			 size_t n, int32_t *out, struct rf_err *e)
{
	struct jpeg_decompress_struct cinfo;
	struct err_mgr jerr;
	unsigned spp = im->samples_per_pixel;
	volatile enum rf_rc rc = RF_OK; /* set across setjmp */
	JSAMPARRAY row;
	size_t rowlen, i;

	if (n > (size_t)ULONG_MAX || n < 4)
		return rf_err_set(e, RF_EPROTO, "JPEG stream of %zu bytes", n);
	memset(&cinfo, 0, sizeof cinfo);
	memset(&jerr, 0, sizeof jerr);
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = on_error;
	jerr.pub.emit_message = on_message;
	if (setjmp(jerr.jb)) {
		rc = jerr.pub.msg_code == JERR_BAD_PRECISION
			     ? RF_EUNSUPPORTED
			     : RF_EPROTO;
		rf_err_set(e, rc, "JPEG: %s", jerr.msg);
		jpeg_destroy_decompress(&cinfo);
		return rc;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, p, (unsigned long)n);
	if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
		rc = rf_err_set(e, RF_EPROTO, "JPEG: no image");
		goto out;
	}
	if (cinfo.image_width != im->cols || cinfo.image_height != im->rows ||
	    cinfo.num_components != (int)spp) {
		rc = rf_err_set(e, RF_EPROTO, "JPEG of %ux%u pixels and %d "
				"components does not match the image",
				(unsigned)cinfo.image_width,
				(unsigned)cinfo.image_height,
				cinfo.num_components);
		goto out;
	}
	if (cinfo.data_precision != 8 || im->bits_allocated < 8) {
		rc = rf_err_set(e, RF_EUNSUPPORTED, "JPEG of %d-bit samples",
				cinfo.data_precision);
		goto out;
	}
	if (spp == 1) {
		cinfo.out_color_space = JCS_GRAYSCALE;
	} else if (im->photometric == ANON_PHOTO_YBR_FULL ||
		   im->photometric == ANON_PHOTO_YBR_FULL_422) {
		cinfo.jpeg_color_space = JCS_YCbCr;
		cinfo.out_color_space = JCS_RGB;
	} else {
		cinfo.jpeg_color_space = JCS_RGB;
		cinfo.out_color_space = JCS_RGB;
	}
	jpeg_start_decompress(&cinfo);
	if (cinfo.output_width != im->cols ||
	    cinfo.output_height != im->rows ||
	    cinfo.output_components != (int)spp) {
		rc = rf_err_set(e, RF_EPROTO, "JPEG output does not match the "
				"image");
		goto out;
	}
	rowlen = (size_t)im->cols * spp;
	row = (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE,
					 (JDIMENSION)rowlen, 1);
	while (cinfo.output_scanline < cinfo.output_height) {
		size_t y = cinfo.output_scanline;

		if (jpeg_read_scanlines(&cinfo, row, 1) != 1) {
			rc = rf_err_set(e, RF_EPROTO, "JPEG: no data for row "
					"%zu", y);
			goto out;
		}
		for (i = 0; i < rowlen; i++)
			out[y * rowlen + i] = row[0][i];
		if (jerr.bad_data)
			break;
	}
	if (!jerr.bad_data)
		jpeg_finish_decompress(&cinfo);
	if (jerr.bad_data)
		rc = rf_err_set(e, RF_EPROTO, "JPEG: %s", jerr.msg);
out:
	jpeg_destroy_decompress(&cinfo);
	return rc;
}
