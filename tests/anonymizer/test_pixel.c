/* test_pixel.c - pixel data decoding on tiny hand-made images: native
 * signed 12-bit, MONOCHROME1, planar RGB, YBR_FULL_422, RLE segments
 * written by hand from PS3.5 Annex G, lossless JPEG streams encoded here
 * from T.81 Annex H (every predictor), frame location in encapsulated
 * data, and the validation errors of anon_image_describe(). */
#include "rf_test.h"

#include <math.h>

#include "anon_pixel.h"
#include "dicom_build.h"

/* ---- building files ---------------------------------------------------- */

struct spec {
	const char *ts;
	uint16_t rows, cols, spp, ba, bs, hb, pr, planar;
	const char *photo;
	const char *frames;    /* NULL: absent */
	const char *slope;     /* NULL: absent */
	const char *intercept; /* NULL: absent */
};

static void put_us(struct db *b, uint16_t el, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	db_ex(b, 0x0028, el, "US", x, 2);
}

static void put_cs(struct db *b, uint16_t g, uint16_t el, const char *vr,
		   const char *s)
{
	char buf[80];
	size_t n = strlen(s);

	memcpy(buf, s, n);
	if (n & 1)
		buf[n++] = ' ';
	db_ex(b, g, el, vr, buf, n);
}

static void put_header(struct db *b, const struct spec *s)
{
	db_part10(b, s->ts);
	put_us(b, 0x0002, s->spp);
	put_cs(b, 0x0028, 0x0004, "CS", s->photo);
	if (s->spp > 1)
		put_us(b, 0x0006, s->planar);
	if (s->frames)
		put_cs(b, 0x0028, 0x0008, "IS", s->frames);
	put_us(b, 0x0010, s->rows);
	put_us(b, 0x0011, s->cols);
	put_us(b, 0x0100, s->ba);
	put_us(b, 0x0101, s->bs);
	put_us(b, 0x0102, s->hb);
	put_us(b, 0x0103, s->pr);
	if (s->intercept)
		put_cs(b, 0x0028, 0x1052, "DS", s->intercept);
	if (s->slope)
		put_cs(b, 0x0028, 0x1053, "DS", s->slope);
}

static void put_native(struct db *b, const void *p, size_t n)
{
	db_ex(b, 0x7fe0, 0x0010, "OW", p, n);
}

/* Encapsulated pixel data: offset table bot (nbot entries), then nfrag
 * fragments. */
static void put_encap(struct db *b, const uint32_t *bot, size_t nbot,
		      const uint8_t *const *frag, const size_t *len,
		      size_t nfrag)
{
	size_t i;

	db_ex_hdr(b, 0x7fe0, 0x0010, "OB", ANON_UNDEF_LEN);
	db_item(b, (uint32_t)(4 * nbot));
	for (i = 0; i < nbot; i++)
		db_u32(b, bot[i]);
	for (i = 0; i < nfrag; i++) {
		db_item(b, (uint32_t)len[i]);
		db_bytes(b, frag[i], len[i]);
	}
	db_seq_end(b);
}

static struct anon_dicom *parse(struct db *b)
{
	struct anon_dicom *d = NULL;
	struct rf_err err = {0};

	RF_ASSERT_OK_E(anon_dicom_read(b->p, b->len, "x.dcm", NULL, &d,
				       &err), &err);
	return d;
}

static void le16s(uint8_t *dst, const uint16_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		dst[2 * i] = (uint8_t)v[i];
		dst[2 * i + 1] = (uint8_t)(v[i] >> 8);
	}
}

/* ---- native ------------------------------------------------------------ */

static void test_native_signed_12bit(void **state)
{
	/* stored values and the garbage above bit 11 that must be ignored */
	static const int32_t want[6] = {-2048, 2047, -1, 0, 1, -1000};
	struct spec s = {ANON_TS_EXPLICIT_LE, 2, 3, 1, 16, 12, 11, 1, 0,
			 "MONOCHROME2", NULL, "1", "-1024"};
	uint16_t raw[6];
	uint8_t bytes[12];
	int32_t out[6];
	float grey[6];
	struct anon_image im;
	struct anon_dicom *d;
	struct rf_err err = {0};
	struct db b = {0};
	size_t i;

	(void)state;
	for (i = 0; i < 6; i++)
		raw[i] = (uint16_t)(((uint32_t)want[i] & 0x0fff) |
				    (i & 1 ? 0xa000 : 0x5000));
	le16s(bytes, raw, 6);
	put_header(&b, &s);
	put_native(&b, bytes, sizeof bytes);
	d = parse(&b);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	assert_int_equal(im.rows, 2);
	assert_int_equal(im.cols, 3);
	assert_int_equal(im.frames, 1);
	assert_int_equal(im.ts, ANON_PX_NATIVE_LE);
	assert_int_equal(im.frame_bytes, 12);
	assert_int_equal(anon_image_frame_values(&im), 6);
	RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out, &err), &err);
	for (i = 0; i < 6; i++)
		assert_int_equal(out[i], want[i]);
	RF_ASSERT_OK_E(anon_pixel_frame_grey(d, &im, 0, grey, &err), &err);
	for (i = 0; i < 6; i++)
		assert_float_equal(grey[i], want[i] - 1024.0, 1e-6);
	anon_dicom_destroy(d);
	db_free(&b);

	/* the same values stored in bits 15..4 (High Bit 15) */
	s.hb = 15;
	for (i = 0; i < 6; i++)
		raw[i] = (uint16_t)((((uint32_t)want[i] & 0x0fff) << 4) | 0x9);
	le16s(bytes, raw, 6);
	put_header(&b, &s);
	put_native(&b, bytes, sizeof bytes);
	d = parse(&b);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out, &err), &err);
	for (i = 0; i < 6; i++)
		assert_int_equal(out[i], want[i]);
	anon_dicom_destroy(d);
	db_free(&b);
}

static void test_native_big_endian(void **state)
{
	/* Explicit VR Big Endian, OW: the reader swaps the words */
	struct spec s = {ANON_TS_EXPLICIT_BE, 1, 2, 1, 16, 16, 15, 0, 0,
			 "MONOCHROME2", NULL, NULL, NULL};
	static const uint8_t be[4] = {0x12, 0x34, 0xfe, 0xdc};
	int32_t out[2];
	struct anon_image im;
	struct anon_dicom *d;
	struct rf_err err = {0};
	struct db b = {0};

	(void)state;
	db_part10(&b, s.ts);
	b.be = 1;
	db_ex(&b, 0x0028, 0x0002, "US", "\0\1", 2);
	db_ex(&b, 0x0028, 0x0004, "CS", "MONOCHROME2 ", 12);
	db_ex(&b, 0x0028, 0x0010, "US", "\0\1", 2);
	db_ex(&b, 0x0028, 0x0011, "US", "\0\2", 2);
	db_ex(&b, 0x0028, 0x0100, "US", "\0\x10", 2);
	db_ex(&b, 0x0028, 0x0101, "US", "\0\x10", 2);
	db_ex(&b, 0x0028, 0x0102, "US", "\0\x0f", 2);
	db_ex(&b, 0x0028, 0x0103, "US", "\0\0", 2);
	db_ex(&b, 0x7fe0, 0x0010, "OW", be, 4);
	d = parse(&b);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	assert_int_equal(im.ts, ANON_PX_NATIVE_BE);
	RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out, &err), &err);
	assert_int_equal(out[0], 0x1234);
	assert_int_equal(out[1], 0xfedc);
	anon_dicom_destroy(d);
	db_free(&b);
}

static void test_native_1bit(void **state)
{
	/* 2 frames of 3x3 bits, packed across the frame boundary, least
	 * significant bit first (PS3.5 8.1.1) */
	struct spec s = {ANON_TS_EXPLICIT_LE, 3, 3, 1, 1, 1, 0, 0, 0,
			 "MONOCHROME2", "2", NULL, NULL};
	static const uint8_t px[4] = {0xb5, 0x63, 0x02, 0x00};
	static const int32_t want[2][9] = {{1, 0, 1, 0, 1, 1, 0, 1, 1},
					   {1, 0, 0, 0, 1, 1, 0, 0, 1}};
	struct anon_image im;
	struct anon_dicom *d;
	struct rf_err err = {0};
	struct db b = {0};
	int32_t out[9];
	size_t f, i;

	(void)state;
	put_header(&b, &s);
	db_ex(&b, 0x7fe0, 0x0010, "OB", px, sizeof px);
	d = parse(&b);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	for (f = 0; f < 2; f++) {
		RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, (uint32_t)f,
						       out, &err), &err);
		for (i = 0; i < 9; i++)
			assert_int_equal(out[i], want[f][i]);
	}
	anon_dicom_destroy(d);
	db_free(&b);

	/* 3 bytes are needed for 18 bits */
	put_header(&b, &s);
	db_ex(&b, 0x7fe0, 0x0010, "OB", px, 2);
	d = parse(&b);
	RF_ASSERT_RC(anon_image_describe(d, "x.dcm", &im, &err), RF_EPROTO);
	assert_string_equal(err.msg, "'x.dcm': Pixel Data has 2 bytes, 2 "
			    "frames of 3x3x1 bits need 3");
	anon_dicom_destroy(d);
	db_free(&b);
}

static void test_monochrome1(void **state)
{
	struct spec s = {ANON_TS_IMPLICIT_LE, 2, 2, 1, 8, 8, 7, 0, 0,
			 "MONOCHROME1", "2", "2", "-5"};
	static const uint8_t px[8] = {0, 255, 10, 128, 1, 2, 3, 4};
	int32_t out[4];
	float grey[4];
	struct anon_image im;
	struct anon_dicom *d;
	struct rf_err err = {0};
	struct db b = {0};
	size_t i;

	(void)state;
	/* implicit VR: build the elements without VRs */
	db_part10(&b, s.ts);
	db_im(&b, 0x0028, 0x0002, "\1\0", 2);
	db_im(&b, 0x0028, 0x0004, "MONOCHROME1 ", 12);
	db_im(&b, 0x0028, 0x0008, "2 ", 2);
	db_im(&b, 0x0028, 0x0010, "\2\0", 2);
	db_im(&b, 0x0028, 0x0011, "\2\0", 2);
	db_im(&b, 0x0028, 0x0100, "\x08\0", 2);
	db_im(&b, 0x0028, 0x0101, "\x08\0", 2);
	db_im(&b, 0x0028, 0x0102, "\x07\0", 2);
	db_im(&b, 0x0028, 0x0103, "\0\0", 2);
	db_im(&b, 0x0028, 0x1052, "-5", 2);
	db_im(&b, 0x0028, 0x1053, "2 ", 2);
	db_im(&b, 0x7fe0, 0x0010, px, sizeof px);
	d = parse(&b);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	assert_int_equal(im.photometric, ANON_PHOTO_MONOCHROME1);
	assert_int_equal(im.frames, 2);
	assert_float_equal(im.rescale_slope, 2.0, 0);
	assert_float_equal(im.rescale_intercept, -5.0, 0);
	RF_ASSERT_OK_E(anon_pixel_frame_grey(d, &im, 0, grey, &err), &err);
	for (i = 0; i < 4; i++)
		assert_float_equal(grey[i], 2.0 * (255 - px[i]) - 5, 1e-6);
	RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 1, out, &err), &err);
	for (i = 0; i < 4; i++)
		assert_int_equal(out[i], px[4 + i]);
	RF_ASSERT_RC(anon_pixel_decode_frame(d, &im, 2, out, &err),
		     RF_EINVAL);
	(void)s;
	anon_dicom_destroy(d);
	db_free(&b);
}

static void test_colour(void **state)
{
	struct spec s = {ANON_TS_EXPLICIT_LE, 1, 2, 3, 8, 8, 7, 0, 1,
			 "RGB", NULL, NULL, NULL};
	/* planar: R plane, G plane, B plane */
	static const uint8_t planar[6] = {10, 20, 30, 40, 50, 60};
	/* YBR_FULL_422: Y1 Y2 Cb Cr */
	static const uint8_t ybr[4] = {100, 110, 120, 130};
	int32_t out[6];
	float grey[2];
	struct anon_image im;
	struct anon_dicom *d;
	struct rf_err err = {0};
	struct db b = {0};

	(void)state;
	put_header(&b, &s);
	db_ex(&b, 0x7fe0, 0x0010, "OB", planar, sizeof planar);
	d = parse(&b);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out, &err), &err);
	assert_int_equal(out[0], 10);
	assert_int_equal(out[1], 30);
	assert_int_equal(out[2], 50);
	assert_int_equal(out[3], 20);
	assert_int_equal(out[4], 40);
	assert_int_equal(out[5], 60);
	RF_ASSERT_OK_E(anon_pixel_frame_grey(d, &im, 0, grey, &err), &err);
	assert_float_equal(grey[0], 0.299 * 10 + 0.587 * 30 + 0.114 * 50,
			   1e-4);
	anon_dicom_destroy(d);
	db_free(&b);

	s.photo = "YBR_FULL_422";
	s.planar = 0;
	put_header(&b, &s);
	db_ex(&b, 0x7fe0, 0x0010, "OB", ybr, sizeof ybr);
	d = parse(&b);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	assert_int_equal(im.frame_bytes, 4);
	assert_int_equal(anon_pixel_decoded_photometric(&im),
			 ANON_PHOTO_YBR_FULL);
	RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out, &err), &err);
	assert_int_equal(out[0], 100);
	assert_int_equal(out[1], 120);
	assert_int_equal(out[2], 130);
	assert_int_equal(out[3], 110);
	assert_int_equal(out[4], 120);
	assert_int_equal(out[5], 130);
	RF_ASSERT_OK_E(anon_pixel_frame_grey(d, &im, 0, grey, &err), &err);
	assert_float_equal(grey[1], 110, 0);
	anon_dicom_destroy(d);
	db_free(&b);

	s.photo = "PALETTE COLOR";
	s.spp = 1;
	put_header(&b, &s);
	db_ex(&b, 0x7fe0, 0x0010, "OB", ybr, 2);
	d = parse(&b);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	RF_ASSERT_RC(anon_pixel_frame_grey(d, &im, 0, grey, &err),
		     RF_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "PALETTE COLOR"));
	anon_dicom_destroy(d);
	db_free(&b);
}

/* ---- validation -------------------------------------------------------- */

static enum rf_rc describe_spec(const struct spec *s, size_t pixel_bytes,
				struct rf_err *err)
{
	struct anon_image im;
	struct anon_dicom *d;
	struct db b = {0};
	uint8_t *px = calloc(1, pixel_bytes + 1);
	enum rf_rc rc;

	assert_non_null(px);
	put_header(&b, s);
	put_native(&b, px, pixel_bytes);
	d = parse(&b);
	rc = anon_image_describe(d, "x.dcm", &im, err);
	if (rc) {
		assert_int_equal(im.rows, 0);
		assert_null(im.pixel);
	}
	anon_dicom_destroy(d);
	db_free(&b);
	free(px);
	return rc;
}

static void test_describe_errors(void **state)
{
	struct spec s = {ANON_TS_EXPLICIT_LE, 512, 512, 1, 16, 16, 15, 0, 0,
			 "MONOCHROME2", "2", NULL, NULL};
	struct rf_err err = {0};

	(void)state;
	RF_ASSERT_RC(describe_spec(&s, 1000, &err), RF_EPROTO);
	assert_string_equal(err.msg, "'x.dcm': Pixel Data has 1000 bytes, 2 "
			    "frames of 512x512x16 bits need 1048576");
	RF_ASSERT_OK_E(describe_spec(&s, 1048576, &err), &err);

	s.rows = s.cols = 2;
	s.frames = "1";
	s.bs = 17;
	RF_ASSERT_RC(describe_spec(&s, 8, &err), RF_EPROTO);
	assert_non_null(strstr(err.msg, "Bits Stored 17"));
	s.bs = 12;
	s.hb = 10;
	RF_ASSERT_RC(describe_spec(&s, 8, &err), RF_EPROTO);
	s.hb = 11;
	s.ba = 12;
	RF_ASSERT_RC(describe_spec(&s, 8, &err), RF_EUNSUPPORTED);
	s.ba = 16;
	s.frames = "0";
	RF_ASSERT_RC(describe_spec(&s, 8, &err), RF_EPROTO);
	s.frames = "x2";
	RF_ASSERT_RC(describe_spec(&s, 8, &err), RF_EPROTO);
	s.frames = "1";
	s.photo = "RGB";
	RF_ASSERT_RC(describe_spec(&s, 8, &err), RF_EPROTO);
	s.photo = "HSV";
	RF_ASSERT_RC(describe_spec(&s, 8, &err), RF_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "'HSV'"));
	s.photo = "MONOCHROME2";
	s.slope = "abc";
	RF_ASSERT_RC(describe_spec(&s, 8, &err), RF_EPROTO);
	s.slope = NULL;
	s.spp = 4;
	RF_ASSERT_RC(describe_spec(&s, 32, &err), RF_EUNSUPPORTED);
	s.spp = 1;
	s.ts = "1.2.840.10008.1.2.4.100";
	RF_ASSERT_RC(describe_spec(&s, 8, &err), RF_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "'1.2.840.10008.1.2.4.100'"));
	s.ts = ANON_TS_EXPLICIT_LE;
	s.rows = 0;
	RF_ASSERT_RC(describe_spec(&s, 8, &err), RF_EPROTO);
}

/* ---- RLE ---------------------------------------------------------------- */

static void rle_frame(struct db *f, const uint8_t *const *seg,
		      const size_t *len, unsigned nseg)
{
	uint32_t off = 64;
	unsigned i;

	db_u32(f, nseg);
	for (i = 0; i < 15; i++) {
		db_u32(f, i < nseg ? off : 0);
		if (i < nseg)
			off += (uint32_t)len[i];
	}
	for (i = 0; i < nseg; i++)
		db_bytes(f, seg[i], len[i]);
	if (f->len & 1)
		db_bytes(f, "", 1);
}

static struct anon_dicom *rle_file(struct db *b, const struct spec *s,
				   struct db *frame)
{
	const uint8_t *fr = frame->p;
	size_t len = frame->len;

	put_header(b, s);
	put_encap(b, NULL, 0, &fr, &len, 1);
	return parse(b);
}

static void test_rle(void **state)
{
	struct spec s = {"1.2.840.10008.1.2.5", 2, 3, 1, 16, 16, 15, 0, 0,
			 "MONOCHROME2", NULL, NULL, NULL};
	/* 0x0102 0x0102 0x0102 0xff00 0x0001 0x1234, PackBits by hand:
	 * high bytes 01 01 01 ff 00 12: run of 3 (-2) then 3 literals,
	 * low bytes 02 02 02 00 01 34: a no-op (-128), run, literals */
	static const uint8_t hi[] = {0xfe, 0x01, 0x02, 0xff, 0x00, 0x12};
	static const uint8_t lo[] = {0x80, 0xfe, 0x02, 0x02, 0x00, 0x01, 0x34};
	static const int32_t want[6] = {0x0102, 0x0102, 0x0102,
					0xff00, 0x0001, 0x1234};
	/* RGB 8-bit 2x2: R 4 x 7, G literal 1 2 3 4, B 9 9 then 5 5 */
	static const uint8_t r[] = {0xfd, 7};
	static const uint8_t g[] = {3, 1, 2, 3, 4};
	static const uint8_t bl[] = {0xff, 9, 0xff, 5};
	static const int32_t want_rgb[12] = {7, 1, 9, 7, 2, 9,
					     7, 3, 5, 7, 4, 5};
	const uint8_t *segs[3] = {hi, lo, NULL};
	size_t lens[3] = {sizeof hi, sizeof lo, 0};
	struct db b = {0}, f = {0};
	struct anon_image im;
	struct anon_dicom *d;
	struct rf_err err = {0};
	int32_t out[12];
	enum rf_rc rc = RF_OK;
	size_t i;

	(void)state;
	rle_frame(&f, segs, lens, 2);
	d = rle_file(&b, &s, &f);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	assert_int_equal(im.ts, ANON_PX_RLE);
	RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out, &err), &err);
	for (i = 0; i < 6; i++)
		assert_int_equal(out[i], want[i]);
	/* the one allocation (a segment plane) fails cleanly */
	RF_TEST_OOM_LOOP(rc, rc = anon_pixel_decode_frame(d, &im, 0, out,
							  &err), (void)0);
	anon_dicom_destroy(d);
	db_free(&b);
	db_free(&f);

	/* signed: 0xff00 is -256 */
	s.pr = 1;
	rle_frame(&f, segs, lens, 2);
	d = rle_file(&b, &s, &f);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out, &err), &err);
	assert_int_equal(out[3], -256);
	anon_dicom_destroy(d);
	db_free(&b);
	db_free(&f);

	/* a segment one byte short */
	s.pr = 0;
	lens[1] = sizeof lo - 1;
	rle_frame(&f, segs, lens, 2);
	d = rle_file(&b, &s, &f);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	RF_ASSERT_RC(anon_pixel_decode_frame(d, &im, 0, out, &err),
		     RF_EPROTO);
	assert_non_null(strstr(err.msg, "'x.dcm': frame 0 (RLE Lossless): "
				       "RLE segment 2 decodes to 5 bytes"));
	anon_dicom_destroy(d);
	db_free(&b);
	db_free(&f);

	/* a wrong number of segments */
	lens[1] = sizeof lo;
	rle_frame(&f, segs, lens, 1);
	d = rle_file(&b, &s, &f);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	RF_ASSERT_RC(anon_pixel_decode_frame(d, &im, 0, out, &err),
		     RF_EPROTO);
	anon_dicom_destroy(d);
	db_free(&b);
	db_free(&f);

	/* RGB, three segments */
	s = (struct spec){"1.2.840.10008.1.2.5", 2, 2, 3, 8, 8, 7, 0, 0,
			  "RGB", NULL, NULL, NULL};
	segs[0] = r;
	segs[1] = g;
	segs[2] = bl;
	lens[0] = sizeof r;
	lens[1] = sizeof g;
	lens[2] = sizeof bl;
	rle_frame(&f, segs, lens, 3);
	d = rle_file(&b, &s, &f);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out, &err), &err);
	for (i = 0; i < 12; i++)
		assert_int_equal(out[i], want_rgb[i]);
	anon_dicom_destroy(d);
	db_free(&b);
	db_free(&f);
}

/* ---- lossless JPEG, encoded here following T.81 Annex H ---------------- */

struct bw {
	struct db *out;
	uint32_t acc;
	int nb;
};

static void bw_put(struct bw *w, uint32_t v, int len)
{
	int i;

	for (i = len - 1; i >= 0; i--) {
		w->acc = w->acc << 1 | ((v >> i) & 1);
		if (++w->nb == 8) {
			uint8_t c = (uint8_t)w->acc;

			db_bytes(w->out, &c, 1);
			if (c == 0xff)
				db_bytes(w->out, "", 1); /* byte stuffing */
			w->acc = 0;
			w->nb = 0;
		}
	}
}

static void bw_flush(struct bw *w)
{
	while (w->nb)
		bw_put(w, 1, 1);
}

static void be16(struct db *b, unsigned v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	db_bytes(b, x, 2);
}

/* Encodes a w x h image of nc components (interleaved samples, values
 * below 2^p) with predictor sel, in one interleaved scan, with a restart
 * interval of ri rows (0: none). The Huffman table gives SSSS k the 5-bit
 * code k (17 codes of length 5). */
static void ljpeg_encode_ri(struct db *o, const int32_t *v, unsigned w,
			    unsigned h, unsigned nc, unsigned p, unsigned sel,
			    unsigned ri)
{
	struct bw bw = {o, 0, 0};
	unsigned x, y, c, k, y0 = 0;

	db_bytes(o, "\xff\xd8", 2);
	db_bytes(o, "\xff\xc3", 2); /* SOF3 */
	be16(o, 8 + 3 * nc);
	db_bytes(o, (uint8_t[]){(uint8_t)p}, 1);
	be16(o, h);
	be16(o, w);
	db_bytes(o, (uint8_t[]){(uint8_t)nc}, 1);
	for (c = 0; c < nc; c++)
		db_bytes(o, (uint8_t[]){(uint8_t)(c + 1), 0x11, 0}, 3);
	db_bytes(o, "\xff\xc4", 2); /* DHT */
	be16(o, 2 + 1 + 16 + 17);
	db_bytes(o, "\x00", 1);
	for (k = 1; k <= 16; k++)
		db_bytes(o, (uint8_t[]){k == 5 ? 17 : 0}, 1);
	for (k = 0; k <= 16; k++)
		db_bytes(o, (uint8_t[]){(uint8_t)k}, 1);
	if (ri) {
		db_bytes(o, "\xff\xdd", 2); /* DRI */
		be16(o, 4);
		be16(o, ri * w);
	}
	db_bytes(o, "\xff\xda", 2); /* SOS */
	be16(o, 6 + 2 * nc);
	db_bytes(o, (uint8_t[]){(uint8_t)nc}, 1);
	for (c = 0; c < nc; c++)
		db_bytes(o, (uint8_t[]){(uint8_t)(c + 1), 0x00}, 2);
	db_bytes(o, (uint8_t[]){(uint8_t)sel, 0, 0}, 3);
	for (y = 0; y < h; y++) {
		if (ri && y && y % ri == 0) {
			/* RSTm: byte-aligned, prediction starts over */
			bw_flush(&bw);
			db_bytes(o, (uint8_t[]){0xff, (uint8_t)(0xd0 +
						 (y / ri - 1) % 8)}, 2);
			y0 = y;
		}
		for (x = 0; x < w; x++) {
			for (c = 0; c < nc; c++) {
				size_t i = ((size_t)y * w + x) * nc + c;
				int32_t ra = x ? v[i - nc] : 0;
				int32_t rb = y ? v[i - (size_t)w * nc] : 0;
				int32_t rc = x && y ? v[i - (size_t)w * nc -
							nc]
						    : 0;
				int32_t pred, d;
				unsigned s = 0;

				if (!x && y == y0)
					pred = 1 << (p - 1);
				else if (y == y0)
					pred = ra;
				else if (!x)
					pred = rb;
				else if (sel == 1)
					pred = ra;
				else if (sel == 2)
					pred = rb;
				else if (sel == 3)
					pred = rc;
				else if (sel == 4)
					pred = ra + rb - rc;
				else if (sel == 5)
					pred = ra + ((rb - rc) >> 1);
				else if (sel == 6)
					pred = rb + ((ra - rc) >> 1);
				else
					pred = (ra + rb) >> 1;
				d = (v[i] - pred) % 65536;
				if (d >= 32768)
					d -= 65536;
				if (d < -32767)
					d += 65536;
				if (d == 32768 || d == -32768) {
					bw_put(&bw, 16, 5);
					continue;
				}
				while (s < 16 && (d < 0 ? -d : d) >> s)
					s++;
				bw_put(&bw, s, 5);
				if (s)
					bw_put(&bw, (uint32_t)(d >= 0 ? d
							: d + (1 << s) - 1),
					       (int)s);
			}
		}
	}
	bw_flush(&bw);
	db_bytes(o, "\xff\xd9", 2);
}

static void ljpeg_encode(struct db *o, const int32_t *v, unsigned w,
			 unsigned h, unsigned nc, unsigned p, unsigned sel)
{
	ljpeg_encode_ri(o, v, w, h, nc, p, sel, 0);
}

static void test_ljpeg(void **state)
{
	struct spec s = {"1.2.840.10008.1.2.4.57", 4, 5, 1, 16, 12, 11, 0, 0,
			 "MONOCHROME2", NULL, NULL, NULL};
	int32_t v[4 * 5 * 3], out[4 * 5 * 3];
	struct db b = {0}, f = {0};
	struct anon_image im;
	struct anon_dicom *d;
	struct rf_err err = {0};
	const uint8_t *fr;
	size_t i, len;
	unsigned sel, nc;

	(void)state;
	/* a 12-bit ramp with jumps, including 0 and 4095 */
	for (i = 0; i < 60; i++)
		v[i] = (int32_t)((i * 977 + (i % 7) * 1500) % 4096);
	v[3] = 4095;
	v[4] = 0;
	for (nc = 1; nc <= 3; nc += 2) {
		s.spp = (uint16_t)nc;
		s.photo = nc == 1 ? "MONOCHROME2" : "RGB";
		for (sel = 1; sel <= 7; sel++) {
			ljpeg_encode(&f, v, 5, 4, nc, 12, sel);
			fr = f.p;
			len = f.len;
			put_header(&b, &s);
			put_encap(&b, NULL, 0, &fr, &len, 1);
			d = parse(&b);
			RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im,
							   &err), &err);
			assert_int_equal(im.ts, ANON_PX_JPEG_LOSSLESS);
			RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out,
							       &err), &err);
			for (i = 0; i < 20 * nc; i++)
				if (out[i] != v[i])
					fail_msg("predictor %u, %u comp: "
						 "sample %zu is %d, want %d",
						 sel, nc, i, out[i], v[i]);
			anon_dicom_destroy(d);
			db_free(&b);

			/* truncated entropy-coded data */
			len = f.len - 6;
			put_header(&b, &s);
			put_encap(&b, NULL, 0, &fr, &len, 1);
			d = parse(&b);
			RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im,
							   &err), &err);
			RF_ASSERT_RC(anon_pixel_decode_frame(d, &im, 0, out,
							     &err),
				     RF_EPROTO);
			anon_dicom_destroy(d);
			db_free(&b);
			db_free(&f);
		}
	}

	/* restart intervals of one and of two rows, predictor 7 */
	s.spp = 3;
	s.photo = "RGB";
	for (sel = 1; sel <= 2; sel++) {
		ljpeg_encode_ri(&f, v, 5, 4, 3, 12, 7, sel);
		fr = f.p;
		len = f.len;
		put_header(&b, &s);
		put_encap(&b, NULL, 0, &fr, &len, 1);
		d = parse(&b);
		RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err),
			       &err);
		RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out, &err),
			       &err);
		for (i = 0; i < 60; i++)
			assert_int_equal(out[i], v[i]);
		anon_dicom_destroy(d);
		db_free(&b);
		db_free(&f);
	}

	/* lossless data under the JPEG Baseline UID: the stream decides */
	s.spp = 1;
	s.photo = "MONOCHROME2";
	s.ts = "1.2.840.10008.1.2.4.50";
	ljpeg_encode(&f, v, 5, 4, 1, 12, 6);
	fr = f.p;
	len = f.len;
	put_header(&b, &s);
	put_encap(&b, NULL, 0, &fr, &len, 1);
	d = parse(&b);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	assert_int_equal(im.ts, ANON_PX_JPEG_BASELINE);
	RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out, &err), &err);
	for (i = 0; i < 20; i++)
		assert_int_equal(out[i], v[i]);
	anon_dicom_destroy(d);
	db_free(&b);
	db_free(&f);
	s.ts = "1.2.840.10008.1.2.4.57";

	/* a stream of another size than the data set says */
	ljpeg_encode(&f, v, 4, 5, 1, 12, 1);
	fr = f.p;
	len = f.len;
	s.spp = 1;
	s.photo = "MONOCHROME2";
	put_header(&b, &s);
	put_encap(&b, NULL, 0, &fr, &len, 1);
	d = parse(&b);
	RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err), &err);
	RF_ASSERT_RC(anon_pixel_decode_frame(d, &im, 0, out, &err),
		     RF_EPROTO);
	assert_non_null(strstr(err.msg, "does not match"));
	anon_dicom_destroy(d);
	db_free(&b);
	db_free(&f);
}

/* Two frames of lossless JPEG: frame 0 split over two fragments, frame 1
 * in one; located by the offset table, then by EOI markers. */
static void test_frames(void **state)
{
	struct spec s = {"1.2.840.10008.1.2.4.70", 3, 3, 1, 8, 8, 7, 0, 0,
			 "MONOCHROME2", "2", NULL, NULL};
	int32_t v0[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	int32_t v1[9] = {200, 100, 50, 25, 12, 6, 3, 1, 0};
	int32_t out[9];
	struct db b = {0}, f0 = {0}, f1 = {0};
	struct anon_image im;
	struct anon_dicom *d;
	struct rf_err err = {0};
	const uint8_t *fr[3];
	size_t len[3], cut;
	uint32_t bot[2];
	int pass;
	size_t i;

	(void)state;
	ljpeg_encode(&f0, v0, 3, 3, 1, 8, 1);
	ljpeg_encode(&f1, v1, 3, 3, 1, 8, 1);
	/* fragments have even lengths: pad after EOI as DICOM writers do */
	if (f0.len & 1)
		db_bytes(&f0, "", 1);
	if (f1.len & 1)
		db_bytes(&f1, "", 1);
	cut = f0.len / 2 & ~(size_t)1;
	fr[0] = f0.p;
	len[0] = cut;
	fr[1] = f0.p + cut;
	len[1] = f0.len - cut;
	fr[2] = f1.p;
	len[2] = f1.len;
	for (pass = 0; pass < 2; pass++) {
		bot[0] = 0;
		bot[1] = (uint32_t)(8 + len[0] + 8 + len[1]);
		put_header(&b, &s);
		put_encap(&b, bot, pass == 0 ? 2 : 0, fr, len, 3);
		d = parse(&b);
		RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err),
			       &err);
		RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 1, out, &err),
			       &err);
		for (i = 0; i < 9; i++)
			assert_int_equal(out[i], v1[i]);
		RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out, &err),
			       &err);
		for (i = 0; i < 9; i++)
			assert_int_equal(out[i], v0[i]);
		if (pass == 1) {
			enum rf_rc rc = RF_OK;

			/* frame 0 is joined from two fragments: one
			 * allocation, which may fail */
			RF_TEST_OOM_LOOP(rc, rc = anon_pixel_decode_frame(
						     d, &im, 0, out, &err),
					 (void)0);
		}
		anon_dicom_destroy(d);
		db_free(&b);
	}
	db_free(&f0);
	db_free(&f1);
}

/* Two RLE frames in three fragments: only an offset table can tell where
 * frame 1 starts (RLE has no end marker). */
static void test_offset_tables(void **state)
{
	struct spec s = {"1.2.840.10008.1.2.5", 2, 2, 1, 8, 8, 7, 0, 0,
			 "MONOCHROME2", "2", NULL, NULL};
	static const uint8_t seg0[] = {3, 1, 2, 3, 4};
	static const uint8_t seg1[] = {0xfd, 9};
	const uint8_t *segs[1];
	size_t lens[1], len[3], cut;
	const uint8_t *fr[3];
	struct db b = {0}, f0 = {0}, f1 = {0};
	struct anon_image im;
	struct anon_dicom *d;
	struct rf_err err = {0};
	uint32_t bot[2];
	uint8_t eot[16] = {0};
	int32_t out[4];
	int pass;
	size_t i;

	(void)state;
	segs[0] = seg0;
	lens[0] = sizeof seg0;
	rle_frame(&f0, segs, lens, 1);
	segs[0] = seg1;
	lens[0] = sizeof seg1;
	rle_frame(&f1, segs, lens, 1);
	cut = 32;
	fr[0] = f0.p;
	len[0] = cut;
	fr[1] = f0.p + cut;
	len[1] = f0.len - cut;
	fr[2] = f1.p;
	len[2] = f1.len;
	bot[0] = 0;
	bot[1] = (uint32_t)(8 + len[0] + 8 + len[1]);
	for (i = 0; i < 8; i++)
		eot[8 + i] = (uint8_t)((uint64_t)bot[1] >> (8 * i));
	for (pass = 0; pass < 3; pass++) {
		put_header(&b, &s);
		if (pass == 2)
			db_ex(&b, 0x7fe0, 0x0001, "OV", eot, sizeof eot);
		put_encap(&b, bot, pass == 1 ? 2 : 0, fr, len, 3);
		d = parse(&b);
		RF_ASSERT_OK_E(anon_image_describe(d, "x.dcm", &im, &err),
			       &err);
		if (pass == 0) {
			RF_ASSERT_RC(anon_pixel_decode_frame(d, &im, 1, out,
							     &err),
				     RF_EPROTO);
			assert_non_null(strstr(err.msg, "cannot locate frame "
						       "1 among 3 fragments"));
		} else {
			RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 1, out,
							       &err), &err);
			for (i = 0; i < 4; i++)
				assert_int_equal(out[i], 9);
			RF_ASSERT_OK_E(anon_pixel_decode_frame(d, &im, 0, out,
							       &err), &err);
			for (i = 0; i < 4; i++)
				assert_int_equal(out[i], (int)i + 1);
		}
		anon_dicom_destroy(d);
		db_free(&b);
	}
	db_free(&f0);
	db_free(&f1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native_signed_12bit),
		cmocka_unit_test(test_native_big_endian),
		cmocka_unit_test(test_native_1bit),
		cmocka_unit_test(test_monochrome1),
		cmocka_unit_test(test_colour),
		cmocka_unit_test(test_describe_errors),
		cmocka_unit_test(test_rle),
		cmocka_unit_test(test_ljpeg),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_offset_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
