/*
 * anon_synth_enc.c - the synthetic set's DICOM encoder: any of the five
 * transfer syntaxes of anon_synth, and the RLE Lossless codec of PS3.5
 * Annex G (see anon_synth_int.h).
 */
#include "anon_synth_int.h"

#include <string.h>
#include <zlib.h>

#include "anon_dicom_int.h"
#include "anon_synth.h"
#include "rf_alloc.h"

#define TAG_PIXEL_DATA ANON_TAG(0x7fe0, 0x0010)
#define TAG_ITEM ANON_TAG(0xfffe, 0xe000)
#define TAG_ITEM_END ANON_TAG(0xfffe, 0xe00d)
#define TAG_SEQ_END ANON_TAG(0xfffe, 0xe0dd)

static const char *const ts_uids[ANON__SYNTH_TS_COUNT] = {
	ANON_TS_EXPLICIT_LE, ANON_TS_IMPLICIT_LE, ANON_TS_EXPLICIT_BE,
	ANON_TS_DEFLATED_LE, ANON__SYNTH_TS_RLE_UID,
};

const char *anon_synth_ts_uid(unsigned i)
{
	return i < ANON__SYNTH_TS_COUNT ? ts_uids[i] : NULL;
}

/* ---- RLE Lossless (PS3.5 Annex G) ---------------------------------------- */

/* PackBits of n bytes at src into dst (room for 2 * n + 2 bytes; at most
 * n + n / 128 + 2 are used). Runs of three or more equal bytes (two at the
 * end of the row) are replicated, the rest is literal; nothing crosses the
 * end of src (one row). Returns the bytes written. */
static size_t packbits(const uint8_t *src, size_t n, uint8_t *dst)
{
	size_t i = 0, o = 0;

	while (i < n) {
		size_t run = 1, start, len;

		while (i + run < n && run < 128 && src[i + run] == src[i])
			run++;
		if (run >= 3 || (run == 2 && i + 2 == n)) {
			dst[o++] = (uint8_t)(257 - run);
			dst[o++] = src[i];
			i += run;
			continue;
		}
		start = i;
		len = 0;
		while (i < n && len < 128) {
			if (i + 1 < n && src[i] == src[i + 1] &&
			    (i + 2 == n || src[i] == src[i + 2]))
				break; /* a run follows */
			i++;
			len++;
		}
		dst[o++] = (uint8_t)(len - 1);
		memcpy(dst + o, src + start, len);
		o += len;
	}
	return o;
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

enum rf_rc anon_synth_rle_encode(const uint8_t *px, unsigned rows,
				 unsigned cols, unsigned bits,
				 struct rf_buf *out, struct rf_err *e)
{
	unsigned nseg = bits / 8, s, r, c;
	size_t row_max, cap, o = 64;
	uint8_t *frame = NULL, *row = NULL;
	enum rf_rc rc;

	if (!px || (bits != 8 && bits != 16) || rows == 0 || cols == 0 ||
	    rows > 65535 || cols > 65535)
		return rf_err_set(e, RF_EINVAL,
				  "cannot rle-encode a %ux%u frame of %u bits",
				  rows, cols, bits);
	row_max = 2 * (size_t)cols + 2;
	cap = 64 + (size_t)nseg * ((size_t)rows * row_max + 1);
	frame = rf_calloc(1, cap);
	row = rf_malloc(cols);
	if (!frame || !row) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory for an rle frame");
		goto out;
	}
	le32(frame, nseg);
	for (s = 0; s < nseg; s++) {
		/* segment 0 holds the most significant byte of each sample;
		 * samples are little-endian in px */
		unsigned byte = nseg - 1 - s;

		le32(frame + 4 + 4 * s, (uint32_t)o);
		for (r = 0; r < rows; r++) {
			const uint8_t *src = px + (size_t)r * cols * nseg;

			for (c = 0; c < cols; c++)
				row[c] = src[(size_t)c * nseg + byte];
			o += packbits(row, cols, frame + o);
		}
		if (o & 1)
			frame[o++] = 0;
	}
	rc = rf_buf_append(out, frame, o, e);
out:
	rf_free(frame);
	rf_free(row);
	return rc;
}

/* ---- the encoder, with a sticky error ------------------------------------ */

struct enc {
	struct rf_buf *b;
	int be;       /* big-endian values and tags */
	int implicit; /* implicit VR */
	int rle;      /* encapsulate the top-level pixel data */
	const struct anon_ds *top;
	struct rf_err *e;
	enum rf_rc rc;
};

static void put(struct enc *w, const void *p, size_t n)
{
	if (!w->rc)
		w->rc = rf_buf_append(w->b, p, n, w->e);
}

static void put16(struct enc *w, uint16_t v)
{
	uint8_t b[2];

	b[w->be ? 1 : 0] = (uint8_t)v;
	b[w->be ? 0 : 1] = (uint8_t)(v >> 8);
	put(w, b, 2);
}

static void put32(struct enc *w, uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[w->be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
	put(w, b, 4);
}

static void put_tag(struct enc *w, uint32_t tag)
{
	put16(w, ANON_TAG_GROUP(tag));
	put16(w, ANON_TAG_ELEM(tag));
}

static int long_vr(uint16_t vr)
{
	static const char *const l[] = {"OB", "OD", "OF", "OL", "OV", "OW",
					"SQ", "UC", "UR", "UT", "UN", "SV",
					"UV"};

	for (size_t i = 0; i < sizeof l / sizeof l[0]; i++)
		if (ANON_VR(l[i][0], l[i][1]) == vr)
			return 1;
	return 0;
}

/* The padding byte of a VR: space for text, NUL for UI and binary. */
static uint8_t vr_pad(uint16_t vr)
{
	static const char *const sp[] = {"AE", "AS", "CS", "DA", "DS", "DT",
					 "IS", "LO", "LT", "PN", "SH", "ST",
					 "TM", "UC", "UR", "UT"};

	for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
		if (ANON_VR(sp[i][0], sp[i][1]) == vr)
			return ' ';
	return 0;
}

static void put_hdr(struct enc *w, uint32_t tag, uint16_t vr, uint32_t len)
{
	uint8_t v[2] = {(uint8_t)(vr >> 8), (uint8_t)vr};

	put_tag(w, tag);
	if (w->implicit) {
		put32(w, len);
	} else if (long_vr(vr)) {
		put(w, v, 2);
		put16(w, 0);
		put32(w, len);
	} else {
		put(w, v, 2);
		put16(w, (uint16_t)len);
	}
}

static void put_value(struct enc *w, uint32_t tag, uint16_t vr,
		      const uint8_t *val, size_t n)
{
	unsigned width = anon__vr_swap_unit(vr);
	uint8_t pad = vr_pad(vr);
	size_t padded = n + (n & 1), i;
	char ts[12];

	if (w->rc)
		return;
	if (padded > 0xfffffffeu ||
	    (!w->implicit && !long_vr(vr) && padded > 0xffff) ||
	    n % width) {
		w->rc = rf_err_set(w->e, RF_EINVAL,
				   "%s: cannot encode a value of %zu bytes",
				   anon_tag_str(tag, ts), n);
		return;
	}
	put_hdr(w, tag, vr, (uint32_t)padded);
	if (w->be && width > 1) {
		uint8_t sw[8];

		for (i = 0; i < n; i += width) {
			for (unsigned k = 0; k < width; k++)
				sw[k] = val[i + width - 1 - k];
			put(w, sw, width);
		}
	} else if (n) {
		put(w, val, n);
	}
	if (n & 1)
		put(w, &pad, 1);
}

static unsigned top_u16(const struct anon_ds *ds, uint32_t tag)
{
	const struct anon_elem *el = anon_ds_find(ds, tag);

	if (!el || el->len < 2)
		return 0;
	return (unsigned)el->val[0] | (unsigned)el->val[1] << 8;
}

static void put_rle(struct enc *w, const struct anon_elem *el)
{
	unsigned rows = top_u16(w->top, ANON_TAG(0x0028, 0x0010));
	unsigned cols = top_u16(w->top, ANON_TAG(0x0028, 0x0011));
	unsigned bits = top_u16(w->top, ANON_TAG(0x0028, 0x0100));
	struct rf_buf frame = RF_BUF_INIT((size_t)1 << 31);

	if (w->rc)
		return;
	if ((bits != 8 && bits != 16) ||
	    el->len != (size_t)rows * cols * (bits / 8)) {
		w->rc = rf_err_set(w->e, RF_EINVAL,
				   "pixel data of %zu bytes does not match "
				   "%ux%u samples of %u bits", el->len, rows,
				   cols, bits);
		return;
	}
	w->rc = anon_synth_rle_encode(el->val, rows, cols, bits, &frame,
				      w->e);
	put_hdr(w, TAG_PIXEL_DATA, ANON_VR('O', 'B'), ANON_UNDEF_LEN);
	put_tag(w, TAG_ITEM); /* empty basic offset table */
	put32(w, 0);
	put_tag(w, TAG_ITEM);
	put32(w, (uint32_t)frame.len);
	put(w, frame.data, frame.len);
	put_tag(w, TAG_SEQ_END);
	put32(w, 0);
	rf_buf_release(&frame);
}

static void put_ds(struct enc *w, const struct anon_ds *ds, unsigned depth)
{
	for (size_t i = 0; i < ds->n && !w->rc; i++) {
		const struct anon_elem *el = &ds->elems[i];
		char ts[12];

		if (ANON_TAG_GROUP(el->tag) == 0x0002 ||
		    ANON_TAG_ELEM(el->tag) == 0x0000)
			continue; /* meta goes first; group lengths retired */
		if (el->vr == ANON_VR('S', 'Q')) {
			if (depth >= ANON_PATH_MAX) {
				w->rc = rf_err_set(w->e, RF_EINVAL,
						   "sequences nested too deep");
				return;
			}
			put_hdr(w, el->tag, el->vr, ANON_UNDEF_LEN);
			for (size_t k = 0; k < el->nitems; k++) {
				put_tag(w, TAG_ITEM);
				put32(w, ANON_UNDEF_LEN);
				put_ds(w, &el->items[k], depth + 1);
				put_tag(w, TAG_ITEM_END);
				put32(w, 0);
			}
			put_tag(w, TAG_SEQ_END);
			put32(w, 0);
		} else if (el->flags & ANON_ELEM_ENCAP) {
			w->rc = rf_err_set(w->e, RF_EINVAL,
					   "%s: encapsulated input is not "
					   "re-encoded", anon_tag_str(el->tag,
								      ts));
		} else if (el->tag == TAG_PIXEL_DATA && w->rle && depth == 0) {
			put_rle(w, el);
		} else {
			put_value(w, el->tag, el->vr, el->val, el->len);
		}
	}
}

/* The value of a UI element of ds without its padding, into buf. */
static void uid_of(const struct anon_ds *ds, uint32_t tag, char *buf,
		   size_t size)
{
	const struct anon_elem *el = anon_ds_find(ds, tag);
	size_t n = 0;

	if (el && el->val && el->vr != ANON_VR('S', 'Q')) {
		n = el->len < size - 1 ? el->len : size - 1;
		memcpy(buf, el->val, n);
		while (n && (buf[n - 1] == 0 || buf[n - 1] == ' '))
			n--;
	}
	buf[n] = 0;
}

static enum rf_rc deflate_into(const uint8_t *p, size_t n,
			       struct rf_buf *out, struct rf_err *e)
{
	z_stream zs;
	enum rf_rc rc;
	uLong bound;
	int zrc;

	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return rf_err_set(e, RF_ENOMEM, "cannot start deflate");
	bound = deflateBound(&zs, (uLong)n);
	rc = rf_buf_reserve(out, (size_t)bound + 2, e);
	if (rc)
		goto out;
	zs.next_in = (Bytef *)(uintptr_t)p;
	zs.avail_in = (uInt)n;
	zs.next_out = out->data + out->len;
	zs.avail_out = (uInt)bound;
	zrc = deflate(&zs, Z_FINISH);
	if (zrc != Z_STREAM_END) {
		rc = rf_err_set(e, RF_EIO, "deflate failed (%d)", zrc);
		goto out;
	}
	out->len += zs.total_out;
	if (out->len & 1) /* the deflated stream is padded to even length */
		out->data[out->len++] = 0;
	out->data[out->len] = 0;
out:
	deflateEnd(&zs);
	return rc;
}

enum rf_rc anon__synth_encode(const struct anon_ds *ds, enum anon__synth_ts ts,
			      struct rf_buf *out, struct rf_err *e)
{
	static const uint8_t version[2] = {0, 1};
	struct rf_buf meta = RF_BUF_INIT(4096);
	struct rf_buf body = RF_BUF_INIT((size_t)1 << 31);
	struct enc w = {0};
	char cls[65], inst[65];
	size_t start = out->len;
	uint8_t pre[132] = {0};
	enum rf_rc rc;

	if (!ds || (unsigned)ts >= ANON__SYNTH_TS_COUNT)
		return rf_err_set(e, RF_EINVAL, "bad arguments to the encoder");
	uid_of(ds, ANON_TAG(0x0008, 0x0016), cls, sizeof cls);
	uid_of(ds, ANON_TAG(0x0008, 0x0018), inst, sizeof inst);

	/* file meta group, always Explicit VR Little Endian */
	w.b = &meta;
	w.e = e;
	put_value(&w, ANON_TAG(0x0002, 0x0001), ANON_VR('O', 'B'), version, 2);
	put_value(&w, ANON_TAG(0x0002, 0x0002), ANON_VR('U', 'I'),
		  (const uint8_t *)cls, strlen(cls));
	put_value(&w, ANON_TAG(0x0002, 0x0003), ANON_VR('U', 'I'),
		  (const uint8_t *)inst, strlen(inst));
	put_value(&w, ANON_TAG(0x0002, 0x0010), ANON_VR('U', 'I'),
		  (const uint8_t *)ts_uids[ts], strlen(ts_uids[ts]));
	put_value(&w, ANON_TAG(0x0002, 0x0012), ANON_VR('U', 'I'),
		  (const uint8_t *)ANON_IMPL_CLASS_UID,
		  strlen(ANON_IMPL_CLASS_UID));
	put_value(&w, ANON_TAG(0x0002, 0x0013), ANON_VR('S', 'H'),
		  (const uint8_t *)ANON_IMPL_VERSION,
		  strlen(ANON_IMPL_VERSION));
	if (w.rc) {
		rc = w.rc;
		goto out;
	}
	memcpy(pre + 128, "DICM", 4);
	w.b = out;
	put(&w, pre, sizeof pre);
	put_hdr(&w, ANON_TAG(0x0002, 0x0000), ANON_VR('U', 'L'), 4);
	put32(&w, (uint32_t)meta.len);
	put(&w, meta.data, meta.len);

	/* the dataset */
	w.be = ts == ANON__SYNTH_EXPLICIT_BE;
	w.implicit = ts == ANON__SYNTH_IMPLICIT_LE;
	w.rle = ts == ANON__SYNTH_RLE;
	w.top = ds;
	if (ts == ANON__SYNTH_DEFLATED_LE) {
		w.b = &body;
		put_ds(&w, ds, 0);
		if (!w.rc)
			w.rc = deflate_into(body.data, body.len, out, e);
	} else {
		put_ds(&w, ds, 0);
	}
	rc = w.rc;
out:
	if (rc)
		rf_buf_truncate(out, start);
	rf_buf_release(&meta);
	rf_buf_release_secret(&body);
	return rc;
}
