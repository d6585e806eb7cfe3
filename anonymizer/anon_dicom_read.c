/* anon_dicom_read.c - the DICOM reader: Part 10 detection, file meta group,
 * transfer syntaxes, sequences, encapsulated pixel data. See anon_dicom.h
 * for what is accepted and why. */
#include "anon_dicom_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "rf_alloc.h"

/* How a dataset is encoded. */
struct enc {
	uint8_t implicit; /* implicit VR */
	uint8_t be;       /* big endian (explicit VR only) */
};

struct parser {
	const uint8_t *buf; /* the data being parsed */
	size_t len;
	uint8_t *wbuf; /* buf, writable: big-endian values are swapped here */
	const char *name;
	struct rf_err *e;
	unsigned flags;
	size_t max_elems;
	unsigned max_depth;
	size_t nelems;
	int stop; /* lenient read hit the end of the data */
	int pixel_rep; /* last (0028,0103) seen, -1 before */
};

static uint16_t rd16(const struct parser *p, size_t pos, int be)
{
	return be ? anon__rd16be(p->buf + pos) : anon__rd16(p->buf + pos);
}

static uint32_t rd32(const struct parser *p, size_t pos, int be)
{
	return be ? anon__rd32be(p->buf + pos) : anon__rd32(p->buf + pos);
}

static uint32_t rdtag(const struct parser *p, size_t pos, int be)
{
	return ANON_TAG(rd16(p, pos, be), rd16(p, pos + 2, be));
}

static enum rf_rc fail(struct parser *p, enum rf_rc rc, uint32_t tag,
		       size_t off, const char *what)
{
	char ts[12];

	return rf_err_set(p->e, rc, "'%s': %s at offset %zu: %s", p->name,
			  anon_tag_str(tag, ts), off, what);
}

/* no tag to name in a message */
#define NO_TAG 0xffffffffu

/* need more bytes than the data holds before end: RF_EPROTO, or, for a
 * lenient read running into the end of the data itself, a clean stop */
static enum rf_rc short_data(struct parser *p, uint32_t tag, size_t off,
			     size_t end, const char *what, uint64_t need,
			     size_t left)
{
	char ts[12];

	if ((p->flags & ANON_READ_LENIENT) && end == p->len) {
		p->stop = 1;
		return RF_OK;
	}
	if (tag == NO_TAG)
		return rf_err_set(p->e, RF_EPROTO, "'%s': at offset %zu: %s "
				  "%llu exceeds the %zu bytes left", p->name,
				  off, what, (unsigned long long)need, left);
	return rf_err_set(p->e, RF_EPROTO, "'%s': %s at offset %zu: %s %llu "
			  "exceeds the %zu bytes left", p->name,
			  anon_tag_str(tag, ts), off, what,
			  (unsigned long long)need, left);
}

static enum rf_rc count_elem(struct parser *p, uint32_t tag, size_t off)
{
	char msg[80];

	if (++p->nelems <= p->max_elems)
		return RF_OK;
	snprintf(msg, sizeof msg, "more than %zu elements", p->max_elems);
	return fail(p, RF_ETOOBIG, tag, off, msg);
}

static void swap_value(uint8_t *v, size_t len, unsigned unit)
{
	size_t i;
	uint8_t t;

	if (unit == 2) {
		for (i = 0; i + 1 < len; i += 2) {
			t = v[i];
			v[i] = v[i + 1];
			v[i + 1] = t;
		}
	} else if (unit == 4) {
		for (i = 0; i + 3 < len; i += 4) {
			t = v[i];
			v[i] = v[i + 3];
			v[i + 3] = t;
			t = v[i + 1];
			v[i + 1] = v[i + 2];
			v[i + 2] = t;
		}
	} else if (unit == 8) {
		for (i = 0; i + 7 < len; i += 8) {
			unsigned k;

			for (k = 0; k < 4; k++) {
				t = v[i + k];
				v[i + k] = v[i + 7 - k];
				v[i + 7 - k] = t;
			}
		}
	}
}

/* Does the (explicit VR) header at pos look like explicit VR, the test
 * pydicom uses: two upper-case ASCII letters. */
static int looks_explicit(const struct parser *p, size_t pos)
{
	const uint8_t *v = p->buf + pos + 4;

	return v[0] > 0x40 && v[0] < 0x5b && v[1] > 0x40 && v[1] < 0x5b;
}

/* Descriptors whose "US or SS" first value is always US (PS3.3 C.11.1.1,
 * C.7.6.3.1.5): resolved as US, whatever the pixel representation. */
static int us_descriptor(uint32_t tag)
{
	return tag == ANON_TAG(0x0028, 0x3002) ||
	       (tag >= ANON_TAG(0x0028, 0x1101) &&
		tag <= ANON_TAG(0x0028, 0x1104));
}

static uint16_t dict_vr(const struct parser *p, uint32_t tag)
{
	const struct anon_dict_entry *d;
	uint16_t g = ANON_TAG_GROUP(tag), el = ANON_TAG_ELEM(tag);

	if (el == 0)
		return ANON__VR_UL; /* group length */
	if (g & 1) {
		if (el >= 0x10 && el <= 0xff)
			return ANON__VR_LO; /* private creator */
		return ANON__VR_UN;
	}
	d = anon_dict_find(tag);
	if (!d || d->vr == ANON_VR_NONE)
		return ANON__VR_UN;
	/* "OB or OW": OW is the implicit VR encoding of such values */
	if (d->vr == ANON__VR_OB && d->vr_alt == ANON__VR_OW)
		return ANON__VR_OW;
	/* "US or SS": signed when Pixel Representation (0028,0103) is 1 */
	if (d->vr == ANON__VR_US && d->vr_alt == ANON_VR('S', 'S') &&
	    p->pixel_rep == 1 && !us_descriptor(tag))
		return ANON_VR('S', 'S');
	return d->vr;
}

static enum rf_rc parse_ds(struct parser *p, struct anon_ds *ds,
			   size_t *posp, size_t end, struct enc enc,
			   int undef_item, int is_item, unsigned depth);

/* Items of a sequence, from *posp to end (defined length) or to the
 * sequence delimiter (undef). */
static enum rf_rc parse_items(struct parser *p, struct anon_elem *sq,
			      size_t *posp, size_t end, struct enc enc,
			      int undef, const struct anon_ds *parent,
			      unsigned depth)
{
	size_t pos = *posp, istart, iend;
	uint32_t tag, ilen;
	struct anon_ds *it;
	enum rf_rc rc;

	if (depth >= p->max_depth)
		return fail(p, RF_EPROTO, sq->tag, sq->offset,
			    "sequences nested too deep");
	for (;;) {
		if (!undef && pos == end)
			break;
		if (end - pos < 8) {
			rc = short_data(p, sq->tag, pos, end, "item header "
					"of", 8, end - pos);
			goto out;
		}
		tag = rdtag(p, pos, enc.be);
		ilen = rd32(p, pos + 4, enc.be);
		if (tag == ANON__TAG_SEQ_END && undef) {
			pos += 8;
			break;
		}
		if (tag != ANON__TAG_ITEM) {
			rc = fail(p, RF_EPROTO, tag, pos, "expected an item "
				  "in the sequence");
			goto out;
		}
		rc = count_elem(p, tag, pos);
		if (rc)
			goto out;
		it = anon__elem_add_item(sq);
		if (!it) {
			rc = rf_err_set(p->e, RF_ENOMEM, "'%s': out of memory",
					p->name);
			goto out;
		}
		it->charset = parent->charset;
		it->offset = pos;
		istart = pos;
		pos += 8;
		if (ilen == ANON_UNDEF_LEN) {
			rc = parse_ds(p, it, &pos, end, enc, 1, 1, depth + 1);
		} else if (ilen > end - pos) {
			rc = short_data(p, tag, istart, end, "item length",
					ilen, end - pos);
		} else {
			iend = pos + ilen;
			rc = parse_ds(p, it, &pos, iend, enc, 0, 1, depth + 1);
		}
		if (rc == RF_OK && p->stop) {
			/* lenient: keep only complete items */
			anon_ds_clear(&sq->items[--sq->nitems]);
		}
		if (rc || p->stop)
			goto out;
	}
	rc = RF_OK;
out:
	*posp = pos;
	return rc;
}

/* Fragments of encapsulated pixel data up to the sequence delimiter. */
static enum rf_rc parse_frags(struct parser *p, struct anon_elem *el,
			      size_t *posp, size_t end, int be)
{
	size_t pos = *posp, cap = 0;
	uint32_t tag, flen;
	struct anon_frag *nf;
	enum rf_rc rc;

	el->flags |= ANON_ELEM_ENCAP;
	for (;;) {
		if (end - pos < 8) {
			rc = short_data(p, el->tag, pos, end, "fragment header "
					"of", 8, end - pos);
			goto out;
		}
		tag = rdtag(p, pos, be);
		flen = rd32(p, pos + 4, be);
		if (tag == ANON__TAG_SEQ_END) {
			pos += 8;
			break;
		}
		if (tag != ANON__TAG_ITEM) {
			rc = fail(p, RF_EPROTO, tag, pos, "expected a pixel "
				  "data fragment");
			goto out;
		}
		if (flen == ANON_UNDEF_LEN) {
			rc = fail(p, RF_EPROTO, tag, pos, "fragment of "
				  "undefined length");
			goto out;
		}
		if (flen > end - pos - 8) {
			rc = short_data(p, tag, pos, end, "fragment length",
					flen, end - pos - 8);
			goto out;
		}
		rc = count_elem(p, tag, pos);
		if (rc)
			goto out;
		if (el->nfrags == cap) {
			cap = cap ? cap * 2 : 8;
			nf = rf_realloc(el->frags, cap * sizeof *nf);
			if (!nf) {
				rc = rf_err_set(p->e, RF_ENOMEM, "'%s': out of "
						"memory", p->name);
				goto out;
			}
			el->frags = nf;
		}
		el->frags[el->nfrags].val = p->buf + pos + 8;
		el->frags[el->nfrags].len = flen;
		el->frags[el->nfrags].owned = NULL;
		el->nfrags++;
		pos += 8 + (size_t)flen;
	}
	rc = RF_OK;
out:
	*posp = pos;
	return rc;
}

/* A UN value of defined length whose dictionary VR is SQ, or an implicit
 * VR SQ: parse it as implicit VR LE items; when that fails, the element
 * stays a UN byte string. */
static enum rf_rc try_seq(struct parser *p, struct anon_elem *el,
			  size_t vpos, size_t vlen, const struct anon_ds *ds,
			  unsigned depth)
{
	struct enc ienc = {1, 0};
	size_t pos = vpos, nelems = p->nelems;
	unsigned flags = p->flags;
	struct rf_err saved = {RF_OK, ""};
	enum rf_rc rc;

	if (p->e)
		saved = *p->e;
	el->vr = ANON__VR_SQ;
	p->flags &= ~(unsigned)ANON_READ_LENIENT;
	rc = parse_items(p, el, &pos, vpos + vlen, ienc, 0, ds, depth);
	p->flags = flags;
	if (rc == RF_OK)
		return RF_OK;
	if (rc == RF_ENOMEM)
		return rc;
	/* not a sequence after all: keep the bytes */
	if (p->e)
		*p->e = saved;
	p->nelems = nelems;
	anon__elem_release(el);
	return RF_OK;
}

/* One element at *posp (not an item or delimiter tag). */
static enum rf_rc parse_elem(struct parser *p, struct anon_ds *ds,
			     size_t *posp, size_t end, struct enc enc,
			     unsigned depth)
{
	size_t pos = *posp, hdr, left;
	uint32_t tag, vlen;
	uint16_t vr, dvr;
	struct anon_elem *el;
	enum rf_rc rc;

	tag = rdtag(p, pos, enc.be);
	if (enc.implicit) {
		vlen = rd32(p, pos + 4, 0);
		vr = dict_vr(p, tag);
		hdr = 8;
	} else {
		vr = ANON_VR(p->buf[pos + 4], p->buf[pos + 5]);
		if (!looks_explicit(p, pos))
			return fail(p, RF_EPROTO, tag, pos, "invalid VR");
		if (anon__vr_long(vr) ||
		    (!anon__vr_known(vr) && p->buf[pos + 6] == 0 &&
		     p->buf[pos + 7] == 0)) {
			if (end - pos < 12)
				return short_data(p, tag, pos, end,
						  "header of", 12, end - pos);
			vlen = rd32(p, pos + 8, enc.be);
			hdr = 12;
		} else {
			vlen = rd16(p, pos + 6, enc.be);
			hdr = 8;
		}
		if (!anon__vr_known(vr))
			vr = ANON__VR_UN;
	}
	rc = count_elem(p, tag, pos);
	if (rc)
		return rc;
	el = anon__ds_append(ds, tag);
	if (!el)
		return rf_err_set(p->e, RF_ENOMEM, "'%s': out of memory",
				  p->name);
	el->vr = vr;
	el->offset = pos;
	pos += hdr;
	left = end - pos;
	if (vlen == ANON_UNDEF_LEN) {
		if (vr == ANON__VR_SQ ||
		    (enc.implicit && tag != ANON__TAG_PIXEL_DATA)) {
			el->vr = ANON__VR_SQ;
			rc = parse_items(p, el, &pos, end, enc, 1, ds, depth);
		} else if (vr == ANON__VR_UN) {
			struct enc ienc = {1, 0};

			el->vr = ANON__VR_SQ;
			rc = parse_items(p, el, &pos, end, ienc, 1, ds, depth);
		} else {
			rc = parse_frags(p, el, &pos, end, enc.be);
		}
		goto out;
	}
	if (vlen > left) {
		ds->n--;
		anon__elem_release(el);
		return short_data(p, tag, *posp, end, "value length", vlen,
				  left);
	}
	if (vr == ANON__VR_SQ && !enc.implicit) {
		size_t vend = pos + vlen;

		rc = parse_items(p, el, &pos, vend, enc, 0, ds, depth);
		if (rc == RF_OK && !p->stop)
			pos = vend;
		goto out;
	}
	dvr = vr == ANON__VR_UN ? dict_vr(p, tag) : ANON__VR_UN;
	if (vlen > 0 && ((vr == ANON__VR_UN && dvr == ANON__VR_SQ) ||
			 (enc.implicit && vr == ANON__VR_SQ))) {
		rc = try_seq(p, el, pos, vlen, ds, depth);
		if (rc)
			goto out;
		if (el->vr == ANON__VR_SQ) {
			pos += vlen;
			goto out;
		}
		el->tag = tag;
		el->vr = vr == ANON__VR_SQ ? ANON__VR_UN : vr;
		el->offset = *posp;
	}
	el->val = p->buf + pos;
	el->len = vlen;
	if (enc.be && p->wbuf)
		swap_value(p->wbuf + pos, vlen, anon__vr_swap_unit(vr));
	if (tag == ANON_TAG(0x0028, 0x0103) && vlen == 2)
		p->pixel_rep = anon__rd16(el->val);
	pos += vlen;
out:
	if (rc == RF_OK && p->stop && el->vr != ANON__VR_SQ) {
		/* a lenient read ran out inside the value: drop it */
		anon__elem_release(&ds->elems[--ds->n]);
	}
	*posp = pos;
	return rc;
}

/* Elements of one dataset from *posp to end (or to the item delimiter when
 * undef_item). Sorts them and sets the dataset's charset. */
static enum rf_rc parse_ds(struct parser *p, struct anon_ds *ds,
			   size_t *posp, size_t end, struct enc enc,
			   int undef_item, int is_item, unsigned depth)
{
	size_t pos = *posp;
	uint32_t tag;
	struct anon_elem *cs;
	enum rf_rc rc = RF_OK;

	/* the first element tells whether the VR is really explicit */
	if (end - pos >= 6 && !enc.be &&
	    ANON_TAG_GROUP(rdtag(p, pos, 0)) != 0xfffe) {
		int expl = looks_explicit(p, pos);

		if (!enc.implicit && !expl)
			enc.implicit = 1;
		else if (enc.implicit && expl && !is_item)
			enc.implicit = 0;
	}
	while (pos < end || undef_item) {
		if (end - pos < 8) {
			rc = short_data(p, NO_TAG, pos, end,
					"element header of", 8, end - pos);
			break;
		}
		tag = rdtag(p, pos, enc.be);
		if (ANON_TAG_GROUP(tag) == 0xfffe) {
			if (undef_item && tag == ANON__TAG_ITEM_END) {
				pos += 8;
				break;
			}
			if (undef_item && tag == ANON__TAG_SEQ_END)
				break; /* item delimiter missing */
			if (!is_item && tag == ANON__TAG_SEQ_END &&
			    rd32(p, pos + 4, enc.be) == 0) {
				pos += 8; /* stray delimiter: skip */
				continue;
			}
			rc = fail(p, RF_EPROTO, tag, pos, "unexpected item or "
				  "delimiter");
			break;
		}
		rc = parse_elem(p, ds, &pos, end, enc, depth);
		if (rc || p->stop)
			break;
	}
	*posp = pos;
	if (rc)
		return rc;
	rc = anon__ds_sort(ds, p->e);
	if (rc)
		return rc;
	cs = anon_ds_find(ds, ANON__TAG_CHARSET);
	if (cs && cs->vr != ANON__VR_SQ && !(cs->flags & ANON_ELEM_ENCAP))
		ds->charset = (uint8_t)anon_charset_parse(cs->val, cs->len);
	return RF_OK;
}

/* ---- file level --------------------------------------------------------- */

/* The file meta group at *posp: explicit VR LE elements of group 0002. Its
 * group length is not trusted: the group ends at the first other tag. */
static enum rf_rc parse_meta(struct parser *p, struct anon_ds *meta,
			     size_t *posp)
{
	size_t pos = *posp;
	struct enc enc = {0, 0};
	enum rf_rc rc;

	while (p->len - pos >= 8 &&
	       ANON_TAG_GROUP(rdtag(p, pos, 0)) == 0x0002) {
		rc = parse_elem(p, meta, &pos, p->len,
				looks_explicit(p, pos) ? enc
						       : (struct enc){1, 0},
				0);
		if (rc)
			return rc;
		if (p->stop)
			break;
	}
	*posp = pos;
	return anon__ds_sort(meta, p->e);
}

/* Guess the encoding of a dataset without transfer syntax, as dcmtk does. */
static struct enc guess_enc(const struct parser *p, size_t pos)
{
	struct enc enc = {1, 0};
	uint16_t gle, gbe;

	if (p->len - pos < 8)
		return enc;
	if (anon__vr_known(ANON_VR(p->buf[pos + 4], p->buf[pos + 5])))
		enc.implicit = 0;
	gle = anon__rd16(p->buf + pos);
	gbe = anon__rd16be(p->buf + pos);
	if (!enc.implicit && gbe < gle)
		enc.be = 1;
	return enc;
}

static enum rf_rc inflate_rest(struct parser *p, struct anon_dicom *d,
			       size_t pos, size_t max)
{
	z_stream zs;
	size_t cap, ncap;
	uint8_t *out = NULL, *no;
	int zr;
	enum rf_rc rc;

	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
		return rf_err_set(p->e, RF_ENOMEM, "'%s': cannot start "
				  "inflating", p->name);
	cap = (p->len - pos) * 4 + 4096;
	if (cap > max || cap < p->len - pos)
		cap = max;
	out = rf_malloc(cap);
	if (!out) {
		rc = rf_err_set(p->e, RF_ENOMEM, "'%s': out of memory",
				p->name);
		goto out;
	}
	zs.next_in = (uint8_t *)(uintptr_t)(p->buf + pos);
	for (;;) {
		size_t in_left = p->len - pos - (size_t)zs.total_in;

		zs.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
		zs.next_out = out + zs.total_out;
		ncap = cap - zs.total_out;
		zs.avail_out = ncap > UINT_MAX ? UINT_MAX : (uInt)ncap;
		zr = inflate(&zs, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_MEM_ERROR) {
			rc = rf_err_set(p->e, RF_ENOMEM, "'%s': out of memory",
					p->name);
			goto out;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			rc = rf_err_set(p->e, RF_EPROTO, "'%s': deflated data "
					"at offset %zu: %s", p->name, pos,
					zs.msg ? zs.msg : "corrupt");
			goto out;
		}
		if (zs.avail_out == 0) {
			if (cap >= max) {
				rc = rf_err_set(p->e, RF_ETOOBIG, "'%s': "
						"inflated dataset exceeds %zu "
						"bytes", p->name, max);
				goto out;
			}
			ncap = cap > max / 2 ? max : cap * 2;
			no = rf_realloc(out, ncap);
			if (!no) {
				rc = rf_err_set(p->e, RF_ENOMEM, "'%s': out of "
						"memory", p->name);
				goto out;
			}
			out = no;
			cap = ncap;
		} else if (zs.avail_in == 0 || zr == Z_BUF_ERROR) {
			if (p->flags & ANON_READ_LENIENT) {
				d->truncated = 1;
				break;
			}
			rc = rf_err_set(p->e, RF_EPROTO, "'%s': deflated data "
					"at offset %zu is truncated", p->name,
					pos);
			goto out;
		}
	}
	d->data = out;
	d->data_len = zs.total_out;
	out = NULL;
	rc = RF_OK;
out:
	rf_free(out);
	inflateEnd(&zs);
	return rc;
}

static void ts_from_meta(struct anon_dicom *d)
{
	struct anon_elem *ts = anon_ds_find(&d->meta, ANON_TAG(2, 0x10));
	size_t n;

	d->ts_uid[0] = 0;
	if (!ts || ts->vr == ANON__VR_SQ || (ts->flags & ANON_ELEM_ENCAP))
		return;
	n = ts->len < sizeof d->ts_uid - 1 ? ts->len : sizeof d->ts_uid - 1;
	memcpy(d->ts_uid, ts->val, n);
	while (n > 0 && (d->ts_uid[n - 1] == 0 || d->ts_uid[n - 1] == ' '))
		n--;
	d->ts_uid[n] = 0;
	/* not a UID: as if absent, the encoding is guessed */
	if (strspn(d->ts_uid, "0123456789.") != n)
		d->ts_uid[0] = 0;
}

static void set_ts(struct anon_dicom *d, struct enc enc)
{
	const char *uid = enc.implicit ? ANON_TS_IMPLICIT_LE
			  : enc.be     ? ANON_TS_EXPLICIT_BE
				       : ANON_TS_EXPLICIT_LE;

	memcpy(d->ts_uid, uid, strlen(uid) + 1);
}

enum rf_rc anon_dicom_read(const uint8_t *buf, size_t len, const char *name,
			   const struct anon_read_opts *opts,
			   struct anon_dicom **out, struct rf_err *e)
{
	struct parser p;
	struct anon_dicom *d = NULL;
	size_t pos = 0, max_inflated = ANON_READ_MAX_INFLATED;
	struct enc enc = {0, 0};
	enum rf_rc rc;

	*out = NULL;
	if ((!buf && len) || !name)
		return rf_err_set(e, RF_EINVAL, "invalid arguments");
	memset(&p, 0, sizeof p);
	p.buf = buf;
	p.len = len;
	p.name = name;
	p.e = e;
	p.max_elems = ANON_READ_MAX_ELEMS;
	p.max_depth = ANON_READ_MAX_DEPTH;
	p.pixel_rep = -1;
	if (opts) {
		p.flags = opts->flags;
		if (opts->max_elems)
			p.max_elems = opts->max_elems;
		if (opts->max_depth)
			p.max_depth = opts->max_depth < ANON_PATH_MAX
					      ? opts->max_depth
					      : ANON_PATH_MAX;
		if (opts->max_inflated)
			max_inflated = opts->max_inflated;
	}
	d = rf_calloc(1, sizeof *d);
	if (!d)
		return rf_err_set(e, RF_ENOMEM, "'%s': out of memory", name);
	if (len >= 132 && memcmp(buf + 128, "DICM", 4) == 0)
		pos = 132;
	else if (len >= 4 && memcmp(buf, "DICM", 4) == 0)
		pos = 4;
	if (len - pos >= 8 && anon__rd16(buf + pos) == 0x0002) {
		rc = parse_meta(&p, &d->meta, &pos);
		if (rc)
			goto out;
		ts_from_meta(d);
	} else if (pos == 0 && len < 8) {
		rc = rf_err_set(e, RF_EPROTO, "'%s': not a DICOM file (%zu "
				"bytes)", name, len);
		goto out;
	}
	if (p.stop) {
		d->truncated = 1;
		if (!d->ts_uid[0])
			set_ts(d, enc);
		rc = RF_OK;
		goto out;
	}
	if (!d->ts_uid[0]) {
		enc = guess_enc(&p, pos);
		set_ts(d, enc);
	} else if (strcmp(d->ts_uid, ANON_TS_IMPLICIT_LE) == 0) {
		enc.implicit = 1;
	} else if (strcmp(d->ts_uid, ANON_TS_EXPLICIT_BE) == 0) {
		enc.be = 1;
	} else if (strcmp(d->ts_uid, ANON_TS_DEFLATED_LE) == 0) {
		rc = inflate_rest(&p, d, pos, max_inflated);
		if (rc)
			goto out;
		p.buf = d->data;
		p.len = d->data_len;
		pos = 0;
	} else if (strcmp(d->ts_uid, ANON_TS_EXPLICIT_LE) != 0) {
		d->encapsulated = 1;
	}
	if (enc.be) {
		/* swap values in an owned copy; the caller's buffer is const */
		d->data = rf_malloc(len);
		if (!d->data) {
			rc = rf_err_set(e, RF_ENOMEM, "'%s': out of memory",
					name);
			goto out;
		}
		memcpy(d->data + pos, buf + pos, len - pos);
		memset(d->data, 0, pos);
		d->data_len = len;
		p.buf = d->data;
		p.wbuf = d->data;
		p.len = d->data_len;
	}
	if (pos == p.len && d->meta.n == 0 && (p.flags & ANON_READ_LENIENT)) {
		d->truncated = 1;
	} else if (pos == p.len && d->meta.n == 0) {
		rc = rf_err_set(e, RF_EPROTO, "'%s': at offset %zu: no "
				"dataset", name, pos);
		goto out;
	}
	rc = parse_ds(&p, &d->ds, &pos, p.len, enc, 0, 0, 0);
	if (rc)
		goto out;
	if (p.stop)
		d->truncated = 1;
out:
	if (rc) {
		anon_dicom_destroy(d);
		return rc;
	}
	*out = d;
	return RF_OK;
}

enum rf_rc anon_dicom_read_file(const char *path, size_t max_size,
				const struct anon_read_opts *opts,
				struct anon_dicom **out, struct rf_err *e)
{
	struct stat st;
	uint8_t *data = NULL;
	size_t got = 0;
	ssize_t r;
	int fd;
	enum rf_rc rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rf_err_set(e, RF_EIO, "cannot open '%s': %s", path,
				  strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = rf_err_set(e, RF_EIO, "cannot read '%s': not a regular "
				"file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max_size) {
		rc = rf_err_set(e, RF_ETOOBIG, "'%s': %lld bytes exceeds the "
				"limit of %zu", path, (long long)st.st_size,
				max_size);
		goto out;
	}
	data = rf_malloc((size_t)st.st_size);
	if (!data) {
		rc = rf_err_set(e, RF_ENOMEM, "'%s': out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, data + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = rf_err_set(e, RF_EIO, "cannot read '%s': %s",
					path, r ? strerror(errno)
						: "file shrank");
			goto out;
		}
		got += (size_t)r;
	}
	rc = anon_dicom_read(data, got, path, opts, out, e);
	if (rc)
		goto out;
	(*out)->file = data;
	(*out)->file_len = got;
	data = NULL;
out:
	rf_free_secret(data, got);
	close(fd);
	return rc;
}

enum rf_rc anon_dicom_create(struct anon_dicom **out, struct rf_err *e)
{
	struct anon_dicom *d = rf_calloc(1, sizeof *d);

	*out = NULL;
	if (!d)
		return rf_err_set(e, RF_ENOMEM, "out of memory");
	set_ts(d, (struct enc){0, 0});
	*out = d;
	return RF_OK;
}

void anon_dicom_destroy(struct anon_dicom *d)
{
	if (!d)
		return;
	anon_ds_clear(&d->meta);
	anon_ds_clear(&d->ds);
	if (d->data)
		rf_free_secret(d->data, d->data_len);
	if (d->file)
		rf_free_secret(d->file, d->file_len);
	rf_free(d);
}
