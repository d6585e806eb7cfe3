/* test_dicom_read.c - the DICOM reader on hand-built byte streams (see
 * dicom_build.h): each VR header form, implicit VR, nested sequences and
 * items of both length kinds, UN hiding a sequence, big-endian swapping,
 * deflate and its bound, encapsulated pixel data, bare datasets, every
 * truncation point, hostile lengths, nesting and element bounds, failing
 * allocations; then character sets against pydicom's decoding. */
#include "rf_test.h"

#include <zlib.h>

#include "anon_dicom.h"
#include "dicom_build.h"

#define T(g, e) ANON_TAG(g, e)
#define VR(s) ANON_VR((s)[0], (s)[1])

static struct anon_dicom *read_ok(const struct db *b, unsigned flags)
{
	struct anon_read_opts o = {flags, 0, 0, 0};
	struct anon_dicom *d = NULL;
	struct rf_err e = {0};

	RF_ASSERT_OK_E(anon_dicom_read(b->p, b->len, "mem.dcm", &o, &d, &e),
		       &e);
	assert_non_null(d);
	return d;
}

static enum rf_rc read_rc(const struct db *b, const struct anon_read_opts *o,
			  struct rf_err *e)
{
	struct anon_dicom *d = (struct anon_dicom *)1;
	enum rf_rc rc = anon_dicom_read(b->p, b->len, "mem.dcm", o, &d, e);

	if (rc)
		assert_null(d);
	anon_dicom_destroy(d);
	return rc;
}

static const struct anon_elem *must_find(const struct anon_ds *ds,
					 uint32_t tag)
{
	const struct anon_elem *el = anon_ds_find(ds, tag);

	if (!el)
		fail_msg("tag %08x not found", (unsigned)tag);
	return el;
}

static void assert_val(const struct anon_elem *el, const void *v, size_t n)
{
	assert_int_equal(el->len, n);
	assert_memory_equal(el->val, v, n);
}

/* ---- header forms --------------------------------------------------------
 */

static void test_explicit_headers(void **state)
{
	struct db b = {0};
	size_t off_pn, off_ut, off_ob;
	struct anon_dicom *d;
	const struct anon_elem *el;
	const char *cr;
	size_t crlen;

	(void)state;
	db_part10(&b, ANON_TS_EXPLICIT_LE);
	db_ex(&b, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7", 26);
	off_pn = b.len;
	db_ex_str(&b, 0x0010, 0x0010, "PN", "Doe^John");
	db_ex(&b, 0x0028, 0x0010, "US", "\x00\x02", 2);
	db_ex_str(&b, 0x0029, 0x0010, "LO", "ACME 1.0");
	off_ob = b.len;
	db_ex(&b, 0x0029, 0x1001, "OB", "\1\2\3\4", 4);
	off_ut = b.len;
	db_ex_str(&b, 0x0040, 0xa160, "UT", "hello!");
	/* an unknown VR, 2 reserved zero bytes and a 32-bit length */
	db_u16(&b, 0x0018);
	db_u16(&b, 0x9999);
	db_bytes(&b, "XZ\0\0\2\0\0\0ab", 10);
	d = read_ok(&b, 0);
	assert_string_equal(d->ts_uid, ANON_TS_EXPLICIT_LE);
	assert_int_equal(d->encapsulated, 0);
	assert_int_equal(anon_ds_count(&d->meta), 5);
	assert_int_equal(anon_ds_count(&d->ds), 7);

	el = must_find(&d->ds, T(0x0010, 0x0010));
	assert_int_equal(el->vr, VR("PN"));
	assert_val(el, "Doe^John", 8);
	assert_ptr_equal(el->val, b.p + off_pn + 8); /* borrowed, 8-byte hdr */
	assert_int_equal(el->offset, off_pn);
	el = must_find(&d->ds, T(0x0028, 0x0010));
	assert_int_equal(el->vr, VR("US"));
	assert_int_equal(el->val[0] | el->val[1] << 8, 512);
	el = must_find(&d->ds, T(0x0029, 0x1001));
	assert_int_equal(el->vr, VR("OB"));
	assert_ptr_equal(el->val, b.p + off_ob + 12); /* 12-byte header */
	el = must_find(&d->ds, T(0x0040, 0xa160));
	assert_ptr_equal(el->val, b.p + off_ut + 12);
	assert_val(el, "hello!", 6);
	/* an unknown VR with zero reserved bytes: long form, kept as UN */
	el = must_find(&d->ds, T(0x0018, 0x9999));
	assert_int_equal(el->vr, VR("UN"));
	assert_val(el, "ab", 2);
	cr = anon_ds_private_creator(&d->ds, T(0x0029, 0x1001), &crlen);
	assert_non_null(cr);
	assert_int_equal(crlen, 8);
	assert_memory_equal(cr, "ACME 1.0", 8);
	assert_null(anon_ds_private_creator(&d->ds, T(0x0029, 0x2001),
					    &crlen));
	assert_null(anon_ds_private_creator(&d->ds, T(0x0010, 0x0010),
					    &crlen));
	anon_dicom_destroy(d);
	db_free(&b);
}

static void test_implicit(void **state)
{
	struct db b = {0};
	struct anon_dicom *d;
	const struct anon_elem *el;

	(void)state;
	db_part10(&b, ANON_TS_IMPLICIT_LE);
	db_im(&b, 0x0008, 0x0060, "CT", 2);
	db_im(&b, 0x0010, 0x0010, "Doe^John", 8);
	db_im(&b, 0x0028, 0x0010, "\x00\x02", 2);
	db_im(&b, 0x0029, 0x0010, "ACME", 4);
	db_im(&b, 0x0029, 0x1001, "\1\2", 2);
	db_im(&b, 0x0028, 0x0103, "\1\0", 2); /* signed pixels */
	db_im(&b, 0x0028, 0x0106, "\xff\xff", 2);
	db_im(&b, 0x0028, 0x3002, "\0\1\0\0\x10\0", 6);
	db_im(&b, 0x7fe0, 0x0010, "\1\2\3\4", 4);
	d = read_ok(&b, 0);
	/* "US or SS" */
	assert_int_equal(must_find(&d->ds, T(0x28, 0x106))->vr, VR("SS"));
	assert_int_equal(must_find(&d->ds, T(0x28, 0x3002))->vr, VR("US"));
	assert_string_equal(d->ts_uid, ANON_TS_IMPLICIT_LE);
	assert_int_equal(must_find(&d->ds, T(8, 0x60))->vr, VR("CS"));
	assert_int_equal(must_find(&d->ds, T(0x10, 0x10))->vr, VR("PN"));
	assert_int_equal(must_find(&d->ds, T(0x28, 0x10))->vr, VR("US"));
	/* private creator: LO; private data: UN; pixel data: OW */
	assert_int_equal(must_find(&d->ds, T(0x29, 0x10))->vr, VR("LO"));
	assert_int_equal(must_find(&d->ds, T(0x29, 0x1001))->vr, VR("UN"));
	el = must_find(&d->ds, T(0x7fe0, 0x10));
	assert_int_equal(el->vr, VR("OW"));
	assert_val(el, "\1\2\3\4", 4);
	anon_dicom_destroy(d);
	db_free(&b);
}

/* ---- sequences ----------------------------------------------------------
 */

struct seen {
	uint32_t tag;
	struct anon_path path;
	int n;
};

static enum anon_walk find_cb(struct anon_ds *ds, struct anon_elem *el,
			      const struct anon_path *path, void *ctx)
{
	struct seen *s = ctx;

	(void)ds;
	s->n++;
	if (el->tag == s->tag)
		s->path = *path;
	return ANON_WALK_NEXT;
}

static void test_nested_sequences(void **state)
{
	struct db b = {0}, inner = {0}, item = {0};
	struct anon_dicom *d;
	const struct anon_elem *sq, *sq2;
	struct seen s = {T(0x0008, 0x1150), {0}, 0};

	(void)state;
	/* defined-length SQ holding one defined-length item */
	db_ex(&item, 0x0008, 0x1150, "UI", "1.2.3\0", 6);
	db_item(&inner, (uint32_t)item.len);
	db_bytes(&inner, item.p, item.len);

	db_part10(&b, ANON_TS_EXPLICIT_LE);
	db_ex_hdr(&b, 0x0008, 0x1115, "SQ", ANON_UNDEF_LEN);
	db_item(&b, ANON_UNDEF_LEN);
	db_ex(&b, 0x0008, 0x1140 - 0x40, "UI", "9.9\0", 4); /* (0008,1100) */
	db_ex_hdr(&b, 0x0008, 0x1140, "SQ", (uint32_t)inner.len);
	db_bytes(&b, inner.p, inner.len);
	db_item_end(&b);
	db_item(&b, 0); /* zero-length item */
	db_item(&b, ANON_UNDEF_LEN); /* empty undefined-length item */
	db_item_end(&b);
	db_seq_end(&b);
	db_ex_hdr(&b, 0x0008, 0x2112, "SQ", 0); /* empty SQ */
	db_ex_str(&b, 0x0010, 0x0010, "PN", "Doe^John");
	d = read_ok(&b, 0);
	assert_int_equal(anon_ds_count(&d->ds), 3);
	sq = must_find(&d->ds, T(0x0008, 0x1115));
	assert_int_equal(sq->vr, VR("SQ"));
	assert_int_equal(sq->nitems, 3);
	assert_int_equal(anon_ds_count(&sq->items[0]), 2);
	assert_int_equal(anon_ds_count(&sq->items[1]), 0);
	assert_int_equal(anon_ds_count(&sq->items[2]), 0);
	sq2 = must_find(&sq->items[0], T(0x0008, 0x1140));
	assert_int_equal(sq2->nitems, 1);
	assert_val(must_find(&sq2->items[0], T(0x0008, 0x1150)), "1.2.3\0",
		   6);
	assert_int_equal(must_find(&d->ds, T(0x0008, 0x2112))->nitems, 0);
	/* 3 top + 2 in item 0 + 1 in the inner item */
	assert_int_equal(anon_ds_count_all(&d->ds), 6);
	assert_int_equal(anon_ds_walk(&d->ds, find_cb, &s), 0);
	assert_int_equal(s.n, 6);
	assert_int_equal(s.path.depth, 2);
	assert_int_equal(s.path.seq[0], T(0x0008, 0x1115));
	assert_int_equal(s.path.item[0], 0);
	assert_int_equal(s.path.seq[1], T(0x0008, 0x1140));
	assert_int_equal(s.path.item[1], 0);
	anon_dicom_destroy(d);
	db_free(&b);
	db_free(&inner);
	db_free(&item);
}

static void test_un_sequences(void **state)
{
	struct db b = {0}, items = {0};
	struct anon_dicom *d;
	const struct anon_elem *el;

	(void)state;
	db_item(&items, 14);
	db_im(&items, 0x0008, 0x1150, "1.2.3\0", 6);

	db_part10(&b, ANON_TS_EXPLICIT_LE);
	/* UN of undefined length: an implicit VR LE sequence inside */
	db_ex_hdr(&b, 0x0008, 0x1115, "UN", ANON_UNDEF_LEN);
	db_item(&b, ANON_UNDEF_LEN);
	db_im(&b, 0x0008, 0x1150, "4.5\0", 4);
	db_item_end(&b);
	db_seq_end(&b);
	/* UN of defined length whose dictionary VR is SQ */
	db_ex(&b, 0x0008, 0x1140, "UN", items.p, items.len);
	/* the same, but the bytes are not a sequence: kept as UN */
	db_ex(&b, 0x0008, 0x1199, "UN", "\1\2\3\4\5\6", 6);
	/* a private UN of undefined length */
	db_ex_str(&b, 0x0009, 0x0010, "LO", "ACME");
	db_ex_hdr(&b, 0x0009, 0x1001, "UN", ANON_UNDEF_LEN);
	db_item(&b, ANON_UNDEF_LEN);
	db_im(&b, 0x0009, 0x1002, "ab", 2);
	db_item_end(&b);
	db_seq_end(&b);
	d = read_ok(&b, 0);
	el = must_find(&d->ds, T(0x0008, 0x1115));
	assert_int_equal(el->vr, VR("SQ"));
	assert_int_equal(el->nitems, 1);
	el = must_find(&el->items[0], T(0x0008, 0x1150));
	assert_int_equal(el->vr, VR("UI")); /* from the dictionary */
	assert_val(el, "4.5\0", 4);
	el = must_find(&d->ds, T(0x0008, 0x1140));
	assert_int_equal(el->vr, VR("SQ"));
	assert_int_equal(el->nitems, 1);
	assert_val(must_find(&el->items[0], T(0x0008, 0x1150)), "1.2.3\0",
		   6);
	el = must_find(&d->ds, T(0x0008, 0x1199));
	assert_int_equal(el->vr, VR("UN"));
	assert_int_equal(el->nitems, 0);
	assert_val(el, "\1\2\3\4\5\6", 6);
	el = must_find(&d->ds, T(0x0009, 0x1001));
	assert_int_equal(el->vr, VR("SQ"));
	assert_int_equal(el->nitems, 1);
	assert_int_equal(must_find(&el->items[0], T(0x0009, 0x1002))->vr,
			 VR("UN"));
	anon_dicom_destroy(d);
	db_free(&b);
	db_free(&items);
}

/* ---- byte order, deflate, encapsulation, bare datasets ------------------
 */

static void test_big_endian(void **state)
{
	struct db b = {0};
	struct anon_dicom *d;
	const struct anon_elem *el;
	const uint8_t one_le[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f}; /* 1.0 */

	(void)state;
	db_part10(&b, ANON_TS_EXPLICIT_BE);
	b.be = 1;
	db_ex_hdr(&b, 0x0010, 0x0010, "PN", 8);
	db_bytes(&b, "Doe^John", 8);
	db_ex_hdr(&b, 0x0018, 0x0088, "DS", 2);
	db_bytes(&b, "1 ", 2);
	db_ex_hdr(&b, 0x0028, 0x0009, "AT", 4);
	db_u16(&b, 0x0018);
	db_u16(&b, 0x1063);
	db_ex_hdr(&b, 0x0028, 0x0010, "US", 2);
	db_u16(&b, 512);
	db_ex_hdr(&b, 0x0028, 0x1052, "FD", 8); /* not its dictionary VR */
	db_bytes(&b, "\x3f\xf0\0\0\0\0\0\0", 8);
	db_ex_hdr(&b, 0x0040, 0x0275, "SQ", ANON_UNDEF_LEN);
	db_item(&b, ANON_UNDEF_LEN);
	db_ex_hdr(&b, 0x0040, 0xa30a, "UL", 4);
	db_u32(&b, 0x01020304);
	db_item_end(&b);
	db_seq_end(&b);
	db_ex_hdr(&b, 0x7fe0, 0x0010, "OW", 4);
	db_u16(&b, 0x0102);
	db_u16(&b, 0x0304);
	d = read_ok(&b, 0);
	assert_string_equal(d->ts_uid, ANON_TS_EXPLICIT_BE);
	/* every multi-byte value is little-endian after reading */
	assert_val(must_find(&d->ds, T(0x10, 0x10)), "Doe^John", 8);
	assert_val(must_find(&d->ds, T(0x18, 0x88)), "1 ", 2);
	assert_val(must_find(&d->ds, T(0x28, 0x09)), "\x18\0\x63\x10", 4);
	assert_val(must_find(&d->ds, T(0x28, 0x10)), "\0\2", 2);
	assert_val(must_find(&d->ds, T(0x28, 0x1052)), one_le, 8);
	el = must_find(&d->ds, T(0x40, 0x275));
	assert_int_equal(el->nitems, 1);
	assert_val(must_find(&el->items[0], T(0x40, 0xa30a)), "\4\3\2\1", 4);
	assert_val(must_find(&d->ds, T(0x7fe0, 0x10)), "\2\1\4\3", 4);
	/* the caller's buffer is left as it was */
	assert_int_equal(b.p[b.len - 4], 0x01);
	anon_dicom_destroy(d);
	db_free(&b);
}

static void deflate_raw(const struct db *in, struct db *out)
{
	z_stream zs;
	uLong bound;

	memset(&zs, 0, sizeof zs);
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY),
			 Z_OK);
	bound = deflateBound(&zs, (uLong)in->len);
	out->p = realloc(out->p, out->len + bound);
	assert_non_null(out->p);
	zs.next_in = in->p;
	zs.avail_in = (uInt)in->len;
	zs.next_out = out->p + out->len;
	zs.avail_out = (uInt)bound;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	out->len += zs.total_out;
	out->cap = out->len;
	deflateEnd(&zs);
}

static void test_deflate(void **state)
{
	struct db ds = {0}, b = {0}, bomb = {0}, bb = {0};
	struct anon_dicom *d;
	struct anon_read_opts o = {0, 1 << 20, 0, 0};
	struct rf_err e = {0};
	uint8_t *zeros = calloc(8 << 20, 1);

	(void)state;
	db_ex_str(&ds, 0x0010, 0x0010, "PN", "Doe^John");
	db_ex_hdr(&ds, 0x0040, 0x0275, "SQ", ANON_UNDEF_LEN);
	db_item(&ds, ANON_UNDEF_LEN);
	db_ex(&ds, 0x0040, 0xa30a, "UL", "\4\3\2\1", 4);
	db_item_end(&ds);
	db_seq_end(&ds);
	db_part10(&b, ANON_TS_DEFLATED_LE);
	deflate_raw(&ds, &b);
	d = read_ok(&b, 0);
	assert_string_equal(d->ts_uid, ANON_TS_DEFLATED_LE);
	assert_val(must_find(&d->ds, T(0x10, 0x10)), "Doe^John", 8);
	assert_int_equal(must_find(&d->ds, T(0x40, 0x275))->nitems, 1);
	anon_dicom_destroy(d);

	/* truncated deflate stream */
	b.len -= 3;
	assert_int_equal(read_rc(&b, NULL, &e), RF_EPROTO);
	assert_non_null(strstr(e.msg, "'mem.dcm'"));

	/* a decompression bomb: 8 MiB of zeros in a few KiB */
	assert_non_null(zeros);
	db_ex(&bomb, 0x7fe0, 0x0010, "OB", zeros, 8 << 20);
	db_part10(&bb, ANON_TS_DEFLATED_LE);
	deflate_raw(&bomb, &bb);
	assert_true(bb.len < 64 << 10);
	assert_int_equal(read_rc(&bb, &o, &e), RF_ETOOBIG);
	assert_non_null(strstr(e.msg, "exceeds 1048576 bytes"));
	o.max_inflated = 16 << 20;
	RF_ASSERT_OK_E(read_rc(&bb, &o, &e), &e);
	free(zeros);
	db_free(&ds);
	db_free(&b);
	db_free(&bomb);
	db_free(&bb);
}

static void build_encapsulated(struct db *b)
{
	db_part10(b, "1.2.840.10008.1.2.4.50");
	db_ex_str(b, 0x0010, 0x0010, "PN", "Doe^John");
	db_ex_hdr(b, 0x7fe0, 0x0010, "OB", ANON_UNDEF_LEN);
	db_item(b, 4); /* basic offset table */
	db_bytes(b, "\0\0\0\0", 4);
	db_item(b, 6);
	db_bytes(b, "\xff\xd8\xff\xfe\xe0\xdd", 6); /* looks like a delim */
	db_item(b, 3); /* odd: kept as found */
	db_bytes(b, "\xff\xd9\0", 3);
	db_seq_end(b);
}

static void test_encapsulated(void **state)
{
	struct db b = {0};
	struct anon_dicom *d;
	const struct anon_elem *el;

	(void)state;
	build_encapsulated(&b);
	d = read_ok(&b, 0);
	assert_int_equal(d->encapsulated, 1);
	assert_string_equal(d->ts_uid, "1.2.840.10008.1.2.4.50");
	el = must_find(&d->ds, T(0x7fe0, 0x10));
	assert_true(el->flags & ANON_ELEM_ENCAP);
	assert_int_equal(el->nfrags, 3);
	assert_int_equal(el->frags[0].len, 4);
	assert_int_equal(el->frags[1].len, 6);
	assert_memory_equal(el->frags[1].val, "\xff\xd8\xff\xfe\xe0\xdd", 6);
	assert_int_equal(el->frags[2].len, 3);
	assert_ptr_equal(el->frags[2].val, b.p + b.len - 8 - 3);
	anon_dicom_destroy(d);
	db_free(&b);
}

static void test_bare_datasets(void **state)
{
	struct db b = {0};
	struct anon_dicom *d;

	(void)state;
	db_im(&b, 0x0008, 0x0060, "CT", 2);
	db_im(&b, 0x0010, 0x0010, "Doe^John", 8);
	d = read_ok(&b, 0);
	assert_string_equal(d->ts_uid, ANON_TS_IMPLICIT_LE);
	assert_int_equal(anon_ds_count(&d->meta), 0);
	assert_int_equal(must_find(&d->ds, T(0x10, 0x10))->vr, VR("PN"));
	anon_dicom_destroy(d);
	db_free(&b);

	db_ex_str(&b, 0x0008, 0x0060, "CS", "CT");
	db_ex_str(&b, 0x0010, 0x0010, "PN", "Doe^John");
	d = read_ok(&b, 0);
	assert_string_equal(d->ts_uid, ANON_TS_EXPLICIT_LE);
	assert_int_equal(anon_ds_count(&d->ds), 2);
	anon_dicom_destroy(d);
	db_free(&b);

	b.be = 1;
	db_ex_str(&b, 0x0008, 0x0060, "CS", "CT");
	db_ex_hdr(&b, 0x0028, 0x0010, "US", 2);
	db_u16(&b, 512);
	d = read_ok(&b, 0);
	assert_string_equal(d->ts_uid, ANON_TS_EXPLICIT_BE);
	assert_val(must_find(&d->ds, T(0x28, 0x10)), "\0\2", 2);
	anon_dicom_destroy(d);
	db_free(&b);

	/* a meta group without the preamble */
	db_part10(&b, ANON_TS_IMPLICIT_LE);
	memmove(b.p, b.p + 132, b.len - 132);
	b.len -= 132;
	db_im(&b, 0x0010, 0x0010, "Doe^John", 8);
	d = read_ok(&b, 0);
	assert_string_equal(d->ts_uid, ANON_TS_IMPLICIT_LE);
	assert_int_equal(anon_ds_count(&d->meta), 5);
	assert_int_equal(anon_ds_count(&d->ds), 1);
	anon_dicom_destroy(d);
	db_free(&b);
}

/* ---- hostile input ------------------------------------------------------
 */

/* A small file with a sequence and encapsulated pixel data; bounds[]
 * receives the offsets where a top-level element (meta included) ends. */
static void build_small(struct db *b, size_t *bounds, size_t *nb)
{
	size_t meta_start = 132, p;

	*nb = 0;
	db_part10(b, "1.2.840.10008.1.2.4.50");
	/* the meta elements as written by db_part10 */
	for (p = meta_start; p < b->len;) {
		int lng = db_vr_long((const char[]){(char)b->p[p + 4],
						    (char)b->p[p + 5], 0});
		size_t n = lng ? (size_t)b->p[p + 8] | (size_t)b->p[p + 9] << 8
			       : (size_t)b->p[p + 6] | (size_t)b->p[p + 7] << 8;

		p += (lng ? 12 : 8) + n;
		bounds[(*nb)++] = p;
	}
	db_ex_str(b, 0x0008, 0x0060, "CS", "CT");
	bounds[(*nb)++] = b->len;
	db_ex_hdr(b, 0x0008, 0x1115, "SQ", ANON_UNDEF_LEN);
	db_item(b, ANON_UNDEF_LEN);
	db_ex(b, 0x0008, 0x1150, "UI", "1.2\0", 4);
	db_item_end(b);
	db_item(b, 12);
	db_ex(b, 0x0008, 0x1150, "UI", "3.4\0", 4);
	db_seq_end(b);
	bounds[(*nb)++] = b->len;
	db_ex_str(b, 0x0010, 0x0010, "PN", "Doe^John");
	bounds[(*nb)++] = b->len;
	db_ex_hdr(b, 0x7fe0, 0x0010, "OB", ANON_UNDEF_LEN);
	db_item(b, 0);
	db_item(b, 4);
	db_bytes(b, "\xff\xd8\xff\xd9", 4);
	db_seq_end(b);
	bounds[(*nb)++] = b->len;
}

static void test_every_truncation(void **state)
{
	struct db b = {0}, cut = {0};
	size_t bounds[32], nb, k, i;
	struct anon_read_opts lenient = {ANON_READ_LENIENT, 0, 0, 0};
	struct rf_err e;
	enum rf_rc rc;

	(void)state;
	build_small(&b, bounds, &nb);
	for (k = 0; k < b.len; k++) {
		int at_bound = 0;

		for (i = 0; i < nb; i++)
			at_bound |= bounds[i] == k;
		cut.p = b.p;
		cut.len = k;
		memset(&e, 0, sizeof e);
		rc = read_rc(&cut, NULL, &e);
		if (k < 132) {
			/* zeros and no "DICM": parsed as a bare dataset or
			 * refused, never anything else */
			if (rc != RF_OK && rc != RF_EPROTO)
				fail_msg("prefix %zu: %s", k, rf_rc_name(rc));
			continue;
		}
		if (at_bound) {
			if (rc != RF_OK)
				fail_msg("prefix %zu at a boundary: %s", k,
					 e.msg);
		} else {
			if (rc != RF_EPROTO)
				fail_msg("prefix %zu: %s, want EPROTO", k,
					 rf_rc_name(rc));
			assert_non_null(strstr(e.msg, "'mem.dcm': "));
			assert_non_null(strstr(e.msg, "at offset "));
		}
		/* lenient: always succeeds, marks the truncation */
		{
			struct anon_dicom *d = NULL;

			RF_ASSERT_OK_E(anon_dicom_read(cut.p, cut.len, "m",
						       &lenient, &d, &e),
				       &e);
			assert_int_equal(d->truncated, !at_bound);
			anon_dicom_destroy(d);
		}
	}
	db_free(&b);
}

static void test_huge_lengths(void **state)
{
	struct db b = {0};
	struct rf_err e = {0};
	char want[200];
	size_t off;

	(void)state;
	db_part10(&b, ANON_TS_IMPLICIT_LE);
	db_im(&b, 0x0008, 0x0060, "CT", 2);
	off = b.len;
	db_im_hdr(&b, 0x0010, 0x0010, 0xfffffff0u);
	db_bytes(&b, "Doe^John", 8);
	assert_int_equal(read_rc(&b, NULL, &e), RF_EPROTO);
	snprintf(want, sizeof want, "'mem.dcm': (0010,0010) at offset %zu: "
		 "value length 4294967280 exceeds the 8 bytes left", off);
	assert_string_equal(e.msg, want);
	db_free(&b);

	/* explicit long form */
	db_part10(&b, ANON_TS_EXPLICIT_LE);
	db_ex_hdr(&b, 0x0029, 0x1001, "OB", 0xfffffff0u);
	db_bytes(&b, "ab", 2);
	assert_int_equal(read_rc(&b, NULL, &e), RF_EPROTO);
	assert_non_null(strstr(e.msg, "value length 4294967280 exceeds"));
	db_free(&b);

	/* item and fragment lengths */
	db_part10(&b, ANON_TS_EXPLICIT_LE);
	db_ex_hdr(&b, 0x0008, 0x1115, "SQ", ANON_UNDEF_LEN);
	db_item(&b, 0xfffffff0u);
	db_seq_end(&b);
	assert_int_equal(read_rc(&b, NULL, &e), RF_EPROTO);
	assert_non_null(strstr(e.msg, "item length 4294967280"));
	db_free(&b);
	db_part10(&b, "1.2.840.10008.1.2.5");
	db_ex_hdr(&b, 0x7fe0, 0x0010, "OB", ANON_UNDEF_LEN);
	db_item(&b, 0xfffffff0u);
	db_seq_end(&b);
	assert_int_equal(read_rc(&b, NULL, &e), RF_EPROTO);
	assert_non_null(strstr(e.msg, "fragment length 4294967280"));
	db_free(&b);

	/* a defined-length SQ shorter than its item */
	db_part10(&b, ANON_TS_EXPLICIT_LE);
	db_ex_hdr(&b, 0x0008, 0x1115, "SQ", 8);
	db_item(&b, 12);
	db_ex(&b, 0x0008, 0x1150, "UI", "1.2\0", 4);
	assert_int_equal(read_rc(&b, NULL, &e), RF_EPROTO);
	db_free(&b);
}

static void build_nested(struct db *b, unsigned depth)
{
	unsigned i;

	db_part10(b, ANON_TS_EXPLICIT_LE);
	for (i = 0; i < depth; i++) {
		db_ex_hdr(b, 0x0008, 0x1115, "SQ", ANON_UNDEF_LEN);
		db_item(b, ANON_UNDEF_LEN);
	}
	db_ex_str(b, 0x0010, 0x0010, "PN", "Doe^John");
	for (i = 0; i < depth; i++) {
		db_item_end(b);
		db_seq_end(b);
	}
}

static enum anon_walk depth_cb(struct anon_ds *ds, struct anon_elem *el,
			       const struct anon_path *path, void *ctx)
{
	unsigned *max = ctx;

	(void)ds;
	(void)el;
	if (path->depth > *max)
		*max = path->depth;
	return ANON_WALK_NEXT;
}

static void test_depth_bomb(void **state)
{
	struct db b = {0};
	struct rf_err e = {0};
	struct anon_dicom *d;
	struct anon_read_opts o = {0, 0, 0, 8};
	unsigned max = 0;

	(void)state;
	build_nested(&b, ANON_READ_MAX_DEPTH);
	d = read_ok(&b, 0);
	anon_ds_walk(&d->ds, depth_cb, &max);
	assert_int_equal(max, ANON_READ_MAX_DEPTH);
	anon_dicom_destroy(d);
	db_free(&b);
	build_nested(&b, ANON_READ_MAX_DEPTH + 1);
	assert_int_equal(read_rc(&b, NULL, &e), RF_EPROTO);
	assert_non_null(strstr(e.msg, "nested too deep"));
	db_free(&b);
	build_nested(&b, 100000);
	assert_int_equal(read_rc(&b, NULL, &e), RF_EPROTO);
	assert_int_equal(read_rc(&b, &o, &e), RF_EPROTO);
	db_free(&b);
}

static void test_element_bound(void **state)
{
	struct db b = {0};
	size_t bounds[32], nb;
	struct anon_read_opts o = {0, 0, 5, 0};
	struct rf_err e = {0};

	(void)state;
	build_small(&b, bounds, &nb);
	assert_int_equal(read_rc(&b, &o, &e), RF_ETOOBIG);
	assert_non_null(strstr(e.msg, "more than 5 elements"));
	o.max_elems = 100;
	RF_ASSERT_OK_E(read_rc(&b, &o, &e), &e);
	db_free(&b);
}

static void test_oom(void **state)
{
	struct db b = {0}, z = {0}, ds = {0};
	size_t bounds[32], nb;
	struct anon_dicom *d = NULL;
	struct rf_err e;
	enum rf_rc rc;

	(void)state;
	build_small(&b, bounds, &nb);
	RF_TEST_OOM_LOOP(rc,
			 rc = anon_dicom_read(b.p, b.len, "m", NULL, &d, &e),
			 anon_dicom_destroy(d));
	/* deflated and big-endian inputs own buffers too */
	db_ex_str(&ds, 0x0010, 0x0010, "PN", "Doe^John");
	db_part10(&z, ANON_TS_DEFLATED_LE);
	deflate_raw(&ds, &z);
	RF_TEST_OOM_LOOP(rc,
			 rc = anon_dicom_read(z.p, z.len, "m", NULL, &d, &e),
			 anon_dicom_destroy(d));
	db_free(&z);
	db_part10(&z, ANON_TS_EXPLICIT_BE);
	z.be = 1;
	db_ex_hdr(&z, 0x0028, 0x0010, "US", 2);
	db_u16(&z, 512);
	RF_TEST_OOM_LOOP(rc,
			 rc = anon_dicom_read(z.p, z.len, "m", NULL, &d, &e),
			 anon_dicom_destroy(d));
	db_free(&z);
	db_free(&ds);
	db_free(&b);
}

/* ---- editing ------------------------------------------------------------
 */

static void test_edit(void **state)
{
	struct db b = {0};
	size_t bounds[32], nb;
	struct anon_dicom *d;
	struct anon_elem *sq;
	struct anon_ds *it;
	struct rf_err e = {0};

	(void)state;
	build_small(&b, bounds, &nb);
	d = read_ok(&b, 0);
	RF_ASSERT_OK(anon_ds_set_str(&d->ds, T(0x10, 0x20), VR("LO"), "ID1",
				     &e));
	RF_ASSERT_OK(anon_ds_set_u16(&d->ds, T(0x28, 0x10), 256, &e));
	RF_ASSERT_OK(anon_ds_set_u32(&d->ds, T(0x6000, 0x10), 7, &e));
	RF_ASSERT_OK(anon_ds_set_u32(&d->ds, T(0x6002, 0x10), 7, &e));
	assert_val(must_find(&d->ds, T(0x10, 0x20)), "ID1", 3);
	assert_val(must_find(&d->ds, T(0x28, 0x10)), "\0\1", 2);
	assert_true(must_find(&d->ds, T(0x10, 0x20))->flags &
		    ANON_ELEM_OWNED);
	/* still sorted */
	for (nb = 1; nb < d->ds.n; nb++)
		assert_true(d->ds.elems[nb - 1].tag < d->ds.elems[nb].tag);
	assert_int_equal(anon_ds_count(&d->ds), 8);
	RF_ASSERT_OK(anon_ds_set_str(&d->ds, T(0x10, 0x10), VR("PN"), "X^Y",
				     &e));
	assert_val(must_find(&d->ds, T(0x10, 0x10)), "X^Y", 3);
	assert_int_equal(anon_ds_remove_group(&d->ds, 0x6000, 0xff00), 2);
	assert_int_equal(anon_ds_remove(&d->ds, T(0x10, 0x20)), 1);
	assert_int_equal(anon_ds_remove(&d->ds, T(0x10, 0x20)), 0);
	assert_int_equal(anon_ds_count(&d->ds), 5);
	assert_int_equal(anon_ds_set_bytes(&d->ds, T(0x10, 0x10), VR("SQ"),
					   "", 0, &e),
			 RF_EINVAL);
	sq = anon_ds_find(&d->ds, T(0x8, 0x1115));
	RF_ASSERT_OK(anon_elem_insert_item(sq, 0, &d->ds, &it, &e));
	RF_ASSERT_OK(anon_ds_set_str(it, T(0x8, 0x1150), VR("UI"), "5.6",
				     &e));
	assert_int_equal(sq->nitems, 3);
	assert_val(must_find(&sq->items[0], T(0x8, 0x1150)), "5.6", 3);
	assert_val(must_find(&sq->items[1], T(0x8, 0x1150)), "1.2\0", 4);
	assert_int_equal(anon_elem_insert_item(sq, 9, &d->ds, &it, &e),
			 RF_EINVAL);
	anon_elem_remove_item(sq, 1);
	assert_int_equal(sq->nitems, 2);
	assert_val(must_find(&sq->items[1], T(0x8, 0x1150)), "3.4\0", 4);
	RF_ASSERT_OK(anon_ds_add_seq(&d->ds, T(0x8, 0x1140), &sq, &e));
	assert_int_equal(sq->nitems, 0);
	assert_int_equal(anon_ds_add_seq(&d->ds, T(0x10, 0x10), &sq, &e),
			 RF_EINVAL);
	anon_dicom_destroy(d);
	db_free(&b);
}

/* ---- character sets -----------------------------------------------------
 */

#define CHARSET_DIR "/usr/lib/python3/dist-packages/pydicom/data/charset_files/"

static void test_charsets(void **state)
{
	static const char *const exact[] = {
		"chrFren.dcm", "chrFrenMulti.dcm", "chrGerm.dcm",
		"chrGreek.dcm", "chrRuss.dcm", "chrArab.dcm", "chrHbrw.dcm",
		"chrX1.dcm", "chrX2.dcm", "chrH31.dcm", "chrH32.dcm",
		"chrI2.dcm", "chrJapMulti.dcm", "chrJapMultiExplicitIR6.dcm",
		"chrKoreanMulti.dcm"};
	char cmd[4096], line[1024];
	size_t i, n = 0, nexact = sizeof exact / sizeof exact[0];
	FILE *f;

	(void)state;
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/anonymizer/ref/"
		 "charset.py", RF_TEST_SRCDIR);
	for (i = 0; i < nexact; i++)
		snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s%s",
			 CHARSET_DIR, exact[i]);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		char *path = line, *name = strchr(line, '\t'), *hex;
		struct anon_dicom *d = NULL;
		struct rf_err e = {0};
		struct rf_buf got = RF_BUF_INIT(1 << 16);
		struct rf_buf enc = RF_BUF_INIT(1 << 16);
		const struct anon_elem *el;
		size_t k;

		assert_non_null(name);
		*name++ = 0;
		hex = strchr(name, '\t');
		assert_non_null(hex);
		*hex++ = 0;
		hex[strcspn(hex, "\n")] = 0;
		RF_ASSERT_OK_E(anon_dicom_read_file(path, 1 << 24, NULL, &d,
						    &e),
			       &e);
		el = must_find(&d->ds, T(0x10, 0x10));
		RF_ASSERT_OK(anon_ds_text(&d->ds, el, &got, &e));
		/* decoded exactly as pydicom does */
		if (strcmp((char *)got.data, name) != 0)
			fail_msg("%s: '%s' != '%s'", path, (char *)got.data,
				 name);
		if (d->ds.charset < ANON_CS_ISO2022) {
			/* and encoded back to the very bytes of the file */
			RF_ASSERT_OK(anon_charset_encode(
				(enum anon_charset)d->ds.charset, name,
				strlen(name), &enc, &e));
			assert_int_equal(enc.len * 2, strlen(hex));
			for (k = 0; k < enc.len; k++) {
				unsigned v;

				sscanf(hex + 2 * k, "%2x", &v);
				assert_int_equal(enc.data[k], v);
			}
		} else {
			/* ISO 2022: written back as ASCII, '?' for the rest */
			RF_ASSERT_OK(anon_charset_encode(
				(enum anon_charset)d->ds.charset, name,
				strlen(name), &enc, &e));
			for (k = 0; k < enc.len; k++)
				assert_true(enc.data[k] < 0x80);
		}
		rf_buf_release(&got);
		rf_buf_release(&enc);
		anon_dicom_destroy(d);
		n++;
	}
	assert_int_equal(pclose(f), 0);
	assert_int_equal(n, nexact);
}

static void test_charset_codec(void **state)
{
	struct rf_buf b = RF_BUF_INIT(256);
	struct rf_err e = {0};

	(void)state;
	assert_int_equal(anon_charset_parse(NULL, 0), ANON_CS_DEFAULT);
	assert_int_equal(anon_charset_parse((const uint8_t *)"ISO_IR 100 ",
					    11),
			 ANON_CS_LATIN1);
	assert_int_equal(anon_charset_parse((const uint8_t *)"ISO_IR 192",
					    10),
			 ANON_CS_UTF8);
	assert_int_equal(anon_charset_parse((const uint8_t *)"\\ISO 2022 IR "
					    "87", 16),
			 ANON_CS_ISO2022);
	assert_int_equal(anon_charset_parse((const uint8_t *)"KLINGON", 7),
			 ANON_CS_UNKNOWN);
	/* default repertoire: non-ASCII bytes become U+FFFD */
	RF_ASSERT_OK(anon_charset_decode(ANON_CS_DEFAULT,
					 (const uint8_t *)"a\xe9", 2, &b, &e));
	assert_string_equal((char *)b.data, "a\xef\xbf\xbd");
	rf_buf_reset(&b);
	/* invalid UTF-8: one U+FFFD per bad byte */
	RF_ASSERT_OK(anon_charset_decode(ANON_CS_UTF8,
					 (const uint8_t *)"\xc3\xa9\xc3", 3,
					 &b, &e));
	assert_string_equal((char *)b.data, "\xc3\xa9\xef\xbf\xbd");
	rf_buf_reset(&b);
	/* encoding what the charset cannot hold gives '?' */
	RF_ASSERT_OK(anon_charset_encode(ANON_CS_LATIN1, "\xc3\xa9\xe2\x82\xac",
					 5, &b, &e));
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "\xe9?", 2);
	rf_buf_reset(&b);
	RF_ASSERT_OK(anon_charset_encode(ANON_CS_DEFAULT, "J\xc3\xa9r", 4, &b,
					 &e));
	assert_string_equal((char *)b.data, "J?r");
	rf_buf_reset(&b);
	RF_ASSERT_OK(anon_charset_encode(ANON_CS_UTF8, "J\xc3\xa9\xff", 4,
					 &b, &e));
	assert_string_equal((char *)b.data, "J\xc3\xa9?");
	rf_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_explicit_headers),
		cmocka_unit_test(test_implicit),
		cmocka_unit_test(test_nested_sequences),
		cmocka_unit_test(test_un_sequences),
		cmocka_unit_test(test_big_endian),
		cmocka_unit_test(test_deflate),
		cmocka_unit_test(test_encapsulated),
		cmocka_unit_test(test_bare_datasets),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_huge_lengths),
		cmocka_unit_test(test_depth_bomb),
		cmocka_unit_test(test_element_bound),
		cmocka_unit_test(test_oom),
		cmocka_unit_test(test_edit),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_charset_codec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
