/* anon_dicom_write.c - the DICOM writer: Part 10, Explicit VR Little
 * Endian, undefined-length sequences and items, atomic file output. */
#include "anon_dicom_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rf_alloc.h"
#include "rf_file.h"

/* The output: a sizing pass with p == NULL counts bytes, the second pass
 * fills exactly that many. */
struct wr {
	uint8_t *p;
	size_t len;
	/* DICOMDIR: where each directory record (item of (0004,1220)) was
	 * read (old) and is written (new), in item order */
	size_t *old_off;
	size_t *new_off;
	size_t nrec;
	size_t rec_cap;
	int recording; /* the sizing pass fills new_off */
	int oom;
};

#define TAG_DIR_RECORDS ANON_TAG(0x0004, 0x1220)

static void put(struct wr *w, const void *d, size_t n)
{
	if (w->p && n)
		memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void put_byte(struct wr *w, uint8_t b)
{
	if (w->p)
		w->p[w->len] = b;
	w->len++;
}

static void put_hdr(struct wr *w, uint32_t tag, uint16_t vr, uint32_t len)
{
	uint8_t h[12];
	size_t n;

	h[0] = (uint8_t)(tag >> 16);
	h[1] = (uint8_t)(tag >> 24);
	h[2] = (uint8_t)tag;
	h[3] = (uint8_t)(tag >> 8);
	if (vr == ANON_VR_NONE) { /* item or delimiter */
		h[4] = (uint8_t)len;
		h[5] = (uint8_t)(len >> 8);
		h[6] = (uint8_t)(len >> 16);
		h[7] = (uint8_t)(len >> 24);
		n = 8;
	} else if (anon__vr_long(vr)) {
		h[4] = (uint8_t)(vr >> 8);
		h[5] = (uint8_t)vr;
		h[6] = 0;
		h[7] = 0;
		h[8] = (uint8_t)len;
		h[9] = (uint8_t)(len >> 8);
		h[10] = (uint8_t)(len >> 16);
		h[11] = (uint8_t)(len >> 24);
		n = 12;
	} else {
		h[4] = (uint8_t)(vr >> 8);
		h[5] = (uint8_t)vr;
		h[6] = (uint8_t)len;
		h[7] = (uint8_t)(len >> 8);
		n = 8;
	}
	put(w, h, n);
}

static void record_item(struct wr *w, const struct anon_ds *it)
{
	size_t ncap, *no, *nn;

	if (w->nrec == w->rec_cap) {
		ncap = w->rec_cap ? w->rec_cap * 2 : 64;
		no = rf_realloc(w->old_off, ncap * sizeof *no);
		if (no)
			w->old_off = no;
		nn = no ? rf_realloc(w->new_off, ncap * sizeof *nn) : NULL;
		if (nn)
			w->new_off = nn;
		if (!no || !nn) {
			w->oom = 1;
			return;
		}
		w->rec_cap = ncap;
	}
	w->old_off[w->nrec] = it->offset;
	w->new_off[w->nrec] = w->len;
	w->nrec++;
}

static int is_dir_offset(uint32_t tag)
{
	return tag == ANON_TAG(0x0004, 0x1200) ||
	       tag == ANON_TAG(0x0004, 0x1202) ||
	       tag == ANON_TAG(0x0004, 0x1400) ||
	       tag == ANON_TAG(0x0004, 0x1420);
}

/* The new offset of the record that was at old; 0 ("none") when no
 * record was there, so that no offset dangles. */
static uint32_t map_offset(const struct wr *w, uint32_t old)
{
	size_t lo = 0, hi = w->nrec, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (w->old_off[mid] < old)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < w->nrec && w->old_off[lo] == old &&
	    w->new_off[lo] <= 0xffffffffu)
		return (uint32_t)w->new_off[lo];
	return 0;
}

/* A value with its header, padded to even length. */
static void put_value(struct wr *w, uint32_t tag, uint16_t vr,
		      const uint8_t *val, size_t len)
{
	size_t padded = len + (len & 1);
	uint8_t fixed[4], pad = anon__vr_pad(vr);
	uint32_t v;

	if (w->nrec && is_dir_offset(tag) && vr == ANON__VR_UL && len == 4) {
		v = map_offset(w, anon__rd32(val));
		fixed[0] = (uint8_t)v;
		fixed[1] = (uint8_t)(v >> 8);
		fixed[2] = (uint8_t)(v >> 16);
		fixed[3] = (uint8_t)(v >> 24);
		val = fixed;
	}

	if (!anon__vr_long(vr) && padded > 0xffff)
		vr = ANON__VR_UN; /* too long for a 16-bit length */
	put_hdr(w, tag, vr, (uint32_t)padded);
	put(w, val, len);
	if (len & 1)
		put_byte(w, pad); /* the pad of the value's own VR */
}

static void put_ds(struct wr *w, const struct anon_ds *ds, int top);

static void put_elem(struct wr *w, const struct anon_elem *el)
{
	size_t i;
	uint16_t vr;

	if (el->vr == ANON__VR_SQ) {
		put_hdr(w, el->tag, ANON__VR_SQ, ANON_UNDEF_LEN);
		for (i = 0; i < el->nitems; i++) {
			if (w->recording && el->tag == TAG_DIR_RECORDS)
				record_item(w, &el->items[i]);
			put_hdr(w, ANON__TAG_ITEM, ANON_VR_NONE,
				ANON_UNDEF_LEN);
			put_ds(w, &el->items[i], 0);
			put_hdr(w, ANON__TAG_ITEM_END, ANON_VR_NONE, 0);
		}
		put_hdr(w, ANON__TAG_SEQ_END, ANON_VR_NONE, 0);
	} else if (el->flags & ANON_ELEM_ENCAP) {
		vr = anon__vr_long(el->vr) ? el->vr : ANON__VR_OB;
		put_hdr(w, el->tag, vr, ANON_UNDEF_LEN);
		for (i = 0; i < el->nfrags; i++) {
			const struct anon_frag *f = &el->frags[i];

			put_hdr(w, ANON__TAG_ITEM, ANON_VR_NONE,
				(uint32_t)(f->len + (f->len & 1)));
			put(w, f->val, f->len);
			if (f->len & 1)
				put_byte(w, 0);
		}
		put_hdr(w, ANON__TAG_SEQ_END, ANON_VR_NONE, 0);
	} else {
		put_value(w, el->tag, el->vr, el->val, el->len);
	}
}

static void put_ds(struct wr *w, const struct anon_ds *ds, int top)
{
	size_t i;

	for (i = 0; i < ds->n; i++) {
		const struct anon_elem *el = &ds->elems[i];

		/* group lengths are retired and would be stale; the meta
		 * group is written afresh */
		if (ANON_TAG_ELEM(el->tag) == 0 ||
		    (top && ANON_TAG_GROUP(el->tag) == 0x0002))
			continue;
		put_elem(w, el);
	}
}

/* A UI-like value of el (not SQ or encapsulated), or NULL. */
static const struct anon_elem *plain(const struct anon_elem *el)
{
	if (!el || el->vr == ANON__VR_SQ || (el->flags & ANON_ELEM_ENCAP) ||
	    el->len > 64)
		return NULL;
	return el;
}

static void put_meta_uid(struct wr *w, uint32_t tag, const uint8_t *v,
			 size_t n)
{
	while (n > 0 && (v[n - 1] == 0 || v[n - 1] == ' '))
		n--;
	put_value(w, tag, ANON__VR_UI, v, n);
}

/* The file meta group without (0002,0000). */
static void put_meta_body(struct wr *w, const struct anon_dicom *d)
{
	static const uint8_t version[2] = {0, 1};
	const struct anon_elem *cls, *inst;
	const char *ts;

	put_value(w, ANON_TAG(2, 1), ANON__VR_OB, version, 2);
	cls = plain(anon_ds_find(&d->ds, ANON_TAG(8, 0x16)));
	if (!cls)
		cls = plain(anon_ds_find(&d->meta, ANON_TAG(2, 2)));
	if (cls)
		put_meta_uid(w, ANON_TAG(2, 2), cls->val, cls->len);
	inst = plain(anon_ds_find(&d->ds, ANON_TAG(8, 0x18)));
	if (!inst)
		inst = plain(anon_ds_find(&d->meta, ANON_TAG(2, 3)));
	if (inst)
		put_meta_uid(w, ANON_TAG(2, 3), inst->val, inst->len);
	ts = d->encapsulated ? d->ts_uid : ANON_TS_EXPLICIT_LE;
	put_meta_uid(w, ANON_TAG(2, 0x10), (const uint8_t *)ts, strlen(ts));
	put_meta_uid(w, ANON_TAG(2, 0x12),
		     (const uint8_t *)ANON_IMPL_CLASS_UID,
		     strlen(ANON_IMPL_CLASS_UID));
	put_value(w, ANON_TAG(2, 0x13), ANON__VR_SH,
		  (const uint8_t *)ANON_IMPL_VERSION,
		  strlen(ANON_IMPL_VERSION));
}

static void put_file(struct wr *w, const struct anon_dicom *d)
{
	static const uint8_t zeros[128];
	struct wr cnt;
	uint8_t gl[4];

	memset(&cnt, 0, sizeof cnt);
	put(w, zeros, sizeof zeros);
	put(w, "DICM", 4);
	put_meta_body(&cnt, d);
	gl[0] = (uint8_t)cnt.len;
	gl[1] = (uint8_t)(cnt.len >> 8);
	gl[2] = (uint8_t)(cnt.len >> 16);
	gl[3] = (uint8_t)(cnt.len >> 24);
	put_value(w, ANON_TAG(2, 0), ANON__VR_UL, gl, 4);
	put_meta_body(w, d);
	put_ds(w, &d->ds, 1);
}

enum rf_rc anon_dicom_write_buf(const struct anon_dicom *d,
				struct rf_buf *out, struct rf_err *e)
{
	struct wr w;
	const struct anon_elem *dir;
	enum rf_rc rc;

	memset(&w, 0, sizeof w);
	dir = anon_ds_find(&d->ds, TAG_DIR_RECORDS);
	w.recording = dir && dir->vr == ANON__VR_SQ;
	put_file(&w, d);
	if (w.oom) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory writing a "
				"DICOMDIR");
		goto out;
	}
	w.recording = 0;
	rc = rf_buf_reserve(out, w.len, e);
	if (rc)
		goto out;
	w.p = out->data + out->len;
	w.len = 0;
	put_file(&w, d);
	out->len += w.len;
	out->data[out->len] = 0;
out:
	rf_free(w.old_off);
	rf_free(w.new_off);
	return rc;
}

enum rf_rc anon_dicom_write_file(const struct anon_dicom *d, const char *path,
				 struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(SIZE_MAX - 1);
	enum rf_rc rc;

	rc = anon_dicom_write_buf(d, &b, e);
	if (!rc)
		rc = rf_file_write_atomic(path, b.data, b.len, 0600, e);
	rf_buf_release_secret(&b);
	return rc;
}
