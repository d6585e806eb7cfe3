/* anon_dicom_ds.c - the dataset tree: VR properties, finding, editing and
 * walking elements. */
#include "anon_dicom_int.h"

#include <stdio.h>
#include <string.h>

#include "rf_alloc.h"

/* ---- VR properties ------------------------------------------------------ */

static const char known_vrs[] = "AEASATCSDADSDTFDFLISLOLTOBODOFOLOVOWPNSH"
				"SLSQSSSTSVTMUCUIULUNURUSUTUV";

int anon__vr_known(uint16_t vr)
{
	size_t i;

	for (i = 0; i + 1 < sizeof known_vrs; i += 2)
		if (ANON_VR(known_vrs[i], known_vrs[i + 1]) == vr)
			return 1;
	return 0;
}

int anon__vr_long(uint16_t vr)
{
	switch (vr) {
	case ANON_VR('O', 'B'):
	case ANON_VR('O', 'D'):
	case ANON_VR('O', 'F'):
	case ANON_VR('O', 'L'):
	case ANON_VR('O', 'V'):
	case ANON_VR('O', 'W'):
	case ANON_VR('S', 'Q'):
	case ANON_VR('S', 'V'):
	case ANON_VR('U', 'C'):
	case ANON_VR('U', 'N'):
	case ANON_VR('U', 'R'):
	case ANON_VR('U', 'T'):
	case ANON_VR('U', 'V'):
		return 1;
	default:
		return 0;
	}
}

unsigned anon__vr_swap_unit(uint16_t vr)
{
	switch (vr) {
	case ANON_VR('U', 'S'):
	case ANON_VR('S', 'S'):
	case ANON_VR('O', 'W'):
	case ANON_VR('A', 'T'):
		return 2;
	case ANON_VR('U', 'L'):
	case ANON_VR('S', 'L'):
	case ANON_VR('F', 'L'):
	case ANON_VR('O', 'F'):
	case ANON_VR('O', 'L'):
		return 4;
	case ANON_VR('F', 'D'):
	case ANON_VR('O', 'D'):
	case ANON_VR('S', 'V'):
	case ANON_VR('U', 'V'):
	case ANON_VR('O', 'V'):
		return 8;
	default:
		return 1;
	}
}

uint8_t anon__vr_pad(uint16_t vr)
{
	switch (vr) {
	case ANON_VR('A', 'E'):
	case ANON_VR('A', 'S'):
	case ANON_VR('C', 'S'):
	case ANON_VR('D', 'A'):
	case ANON_VR('D', 'S'):
	case ANON_VR('D', 'T'):
	case ANON_VR('I', 'S'):
	case ANON_VR('L', 'O'):
	case ANON_VR('L', 'T'):
	case ANON_VR('P', 'N'):
	case ANON_VR('S', 'H'):
	case ANON_VR('S', 'T'):
	case ANON_VR('T', 'M'):
	case ANON_VR('U', 'C'):
	case ANON_VR('U', 'R'):
	case ANON_VR('U', 'T'):
		return ' ';
	default:
		return 0;
	}
}

int anon_vr_is_text(uint16_t vr)
{
	switch (vr) {
	case ANON_VR('S', 'H'):
	case ANON_VR('L', 'O'):
	case ANON_VR('S', 'T'):
	case ANON_VR('L', 'T'):
	case ANON_VR('U', 'C'):
	case ANON_VR('U', 'T'):
	case ANON_VR('P', 'N'):
		return 1;
	default:
		return 0;
	}
}

char *anon_tag_str(uint32_t tag, char *buf)
{
	snprintf(buf, 12, "(%04X,%04X)", (unsigned)ANON_TAG_GROUP(tag),
		 (unsigned)ANON_TAG_ELEM(tag));
	return buf;
}

/* ---- construction and release ------------------------------------------- */

void anon__elem_release(struct anon_elem *el)
{
	size_t i;

	if (el->owned)
		rf_free_secret(el->owned, el->len);
	for (i = 0; i < el->nitems; i++)
		anon_ds_clear(&el->items[i]);
	rf_free(el->items);
	for (i = 0; i < el->nfrags; i++)
		if (el->frags[i].owned)
			rf_free_secret(el->frags[i].owned, el->frags[i].len);
	rf_free(el->frags);
	memset(el, 0, sizeof *el);
}

void anon_ds_clear(struct anon_ds *ds)
{
	size_t i;

	if (!ds)
		return;
	for (i = 0; i < ds->n; i++)
		anon__elem_release(&ds->elems[i]);
	rf_free(ds->elems);
	ds->elems = NULL;
	ds->n = 0;
	ds->cap = 0;
}

static int ds_grow(struct anon_ds *ds)
{
	size_t ncap;
	struct anon_elem *ne;

	if (ds->n < ds->cap)
		return 0;
	ncap = ds->cap ? ds->cap * 2 : 16;
	if (ncap > SIZE_MAX / sizeof *ne)
		return -1;
	ne = rf_realloc(ds->elems, ncap * sizeof *ne);
	if (!ne)
		return -1;
	ds->elems = ne;
	ds->cap = ncap;
	return 0;
}

struct anon_elem *anon__ds_append(struct anon_ds *ds, uint32_t tag)
{
	struct anon_elem *el;

	if (ds_grow(ds))
		return NULL;
	el = &ds->elems[ds->n++];
	memset(el, 0, sizeof *el);
	el->tag = tag;
	el->vr = ANON__VR_UN;
	return el;
}

struct anon_ds *anon__elem_add_item(struct anon_elem *sq)
{
	struct anon_ds *it;
	size_t ncap;

	if (sq->nitems == sq->items_cap) {
		ncap = sq->items_cap ? sq->items_cap * 2 : 4;
		if (ncap > SIZE_MAX / sizeof *it)
			return NULL;
		it = rf_realloc(sq->items, ncap * sizeof *it);
		if (!it)
			return NULL;
		sq->items = it;
		sq->items_cap = ncap;
	}
	it = &sq->items[sq->nitems++];
	memset(it, 0, sizeof *it);
	return it;
}

enum rf_rc anon__ds_sort(struct anon_ds *ds, struct rf_err *e)
{
	struct anon_elem *tmp, *src, *dst, *sw;
	size_t width, lo, mid, hi, i, j, k, n = ds->n;

	for (i = 1; i < n; i++)
		if (ds->elems[i].tag < ds->elems[i - 1].tag)
			break;
	if (i >= n)
		return RF_OK;
	tmp = rf_mallocarray(n, sizeof *tmp);
	if (!tmp)
		return rf_err_set(e, RF_ENOMEM, "out of memory sorting %zu "
				  "elements", n);
	/* bottom-up merge sort: stable, O(n log n) on any input */
	src = ds->elems;
	dst = tmp;
	for (width = 1; width < n; width *= 2) {
		for (lo = 0; lo < n; lo += 2 * width) {
			mid = lo + width < n ? lo + width : n;
			hi = lo + 2 * width < n ? lo + 2 * width : n;
			i = lo;
			j = mid;
			k = lo;
			while (i < mid && j < hi)
				dst[k++] = src[j].tag < src[i].tag ? src[j++]
								  : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		sw = src;
		src = dst;
		dst = sw;
	}
	if (src != ds->elems)
		memcpy(ds->elems, src, n * sizeof *src);
	rf_free(tmp);
	return RF_OK;
}

/* ---- finding ------------------------------------------------------------ */

/* Index of the first element with tag >= tag. */
static size_t lower_bound(const struct anon_ds *ds, uint32_t tag)
{
	size_t lo = 0, hi = ds->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ds->elems[mid].tag < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct anon_elem *anon_ds_find(const struct anon_ds *ds, uint32_t tag)
{
	size_t i = lower_bound(ds, tag);

	if (i < ds->n && ds->elems[i].tag == tag)
		return &ds->elems[i];
	return NULL;
}

size_t anon_ds_count(const struct anon_ds *ds)
{
	return ds->n;
}

size_t anon_ds_count_all(const struct anon_ds *ds)
{
	size_t i, j, n = ds->n;

	for (i = 0; i < ds->n; i++)
		for (j = 0; j < ds->elems[i].nitems; j++)
			n += anon_ds_count_all(&ds->elems[i].items[j]);
	return n;
}

const char *anon_ds_private_creator(const struct anon_ds *ds, uint32_t tag,
				    size_t *len)
{
	uint16_t g = ANON_TAG_GROUP(tag), el = ANON_TAG_ELEM(tag);
	const struct anon_elem *c;
	size_t n;

	if (!(g & 1) || g <= 0x0008 || (el >> 8) < 0x10)
		return NULL;
	c = anon_ds_find(ds, ANON_TAG(g, el >> 8));
	if (!c || (c->flags & ANON_ELEM_ENCAP) || c->vr == ANON__VR_SQ)
		return NULL;
	n = c->len;
	while (n > 0 && (c->val[n - 1] == ' ' || c->val[n - 1] == '\0'))
		n--;
	*len = n;
	return (const char *)c->val;
}

/* ---- editing ------------------------------------------------------------ */

static size_t remove_if(struct anon_ds *ds, uint32_t tag, uint16_t group,
			uint16_t mask, int by_group)
{
	size_t i, o = 0, removed = 0;

	for (i = 0; i < ds->n; i++) {
		struct anon_elem *el = &ds->elems[i];
		int hit = by_group ? (ANON_TAG_GROUP(el->tag) & mask) ==
					     (group & mask)
				   : el->tag == tag;

		if (hit) {
			anon__elem_release(el);
			removed++;
			continue;
		}
		if (o != i)
			ds->elems[o] = *el;
		o++;
	}
	ds->n = o;
	return removed;
}

size_t anon_ds_remove(struct anon_ds *ds, uint32_t tag)
{
	return remove_if(ds, tag, 0, 0, 0);
}

size_t anon_ds_remove_group(struct anon_ds *ds, uint16_t group, uint16_t mask)
{
	return remove_if(ds, 0, group, mask, 1);
}

/* The element with tag, added in sorted position when missing. */
static struct anon_elem *find_or_insert(struct anon_ds *ds, uint32_t tag)
{
	size_t i = lower_bound(ds, tag);

	if (i < ds->n && ds->elems[i].tag == tag)
		return &ds->elems[i];
	if (ds_grow(ds))
		return NULL;
	memmove(&ds->elems[i + 1], &ds->elems[i],
		(ds->n - i) * sizeof ds->elems[0]);
	ds->n++;
	memset(&ds->elems[i], 0, sizeof ds->elems[i]);
	ds->elems[i].tag = tag;
	ds->elems[i].vr = ANON__VR_UN;
	return &ds->elems[i];
}

static int vr_valid(uint16_t vr)
{
	return (vr >> 8) >= 'A' && (vr >> 8) <= 'Z' && (vr & 0xff) >= 'A' &&
	       (vr & 0xff) <= 'Z';
}

enum rf_rc anon_ds_set_bytes(struct anon_ds *ds, uint32_t tag, uint16_t vr,
			     const void *p, size_t n, struct rf_err *e)
{
	char ts[12];
	uint8_t *copy;
	struct anon_elem *el;

	if (!vr_valid(vr) || vr == ANON__VR_SQ || (n && !p) ||
	    n > 0xfffffffeu || ANON_TAG_GROUP(tag) == 0xfffe)
		return rf_err_set(e, RF_EINVAL, "cannot set %s: invalid VR, "
				  "tag or length", anon_tag_str(tag, ts));
	copy = rf_malloc(n);
	if (!copy)
		return rf_err_set(e, RF_ENOMEM, "cannot set %s: out of memory",
				  anon_tag_str(tag, ts));
	if (n)
		memcpy(copy, p, n);
	el = find_or_insert(ds, tag);
	if (!el) {
		rf_free(copy);
		return rf_err_set(e, RF_ENOMEM, "cannot set %s: out of memory",
				  anon_tag_str(tag, ts));
	}
	anon__elem_release(el);
	el->tag = tag;
	el->vr = vr;
	el->flags = ANON_ELEM_OWNED;
	el->owned = copy;
	el->val = copy;
	el->len = n;
	if (tag == ANON__TAG_CHARSET)
		ds->charset = (uint8_t)anon_charset_parse(copy, n);
	return RF_OK;
}

enum rf_rc anon_ds_set_str(struct anon_ds *ds, uint32_t tag, uint16_t vr,
			   const char *s, struct rf_err *e)
{
	return anon_ds_set_bytes(ds, tag, vr, s, strlen(s), e);
}

enum rf_rc anon_ds_set_text(struct anon_ds *ds, uint32_t tag, uint16_t vr,
			    const char *s, struct rf_err *e)
{
	struct rf_buf b = RF_BUF_INIT(0xfffffffeu);
	enum rf_rc rc;

	rc = anon_charset_encode((enum anon_charset)ds->charset, s, strlen(s),
				 &b, e);
	if (rc == RF_OK)
		rc = anon_ds_set_bytes(ds, tag, vr, b.data, b.len, e);
	rf_buf_release_secret(&b);
	return rc;
}

enum rf_rc anon_ds_set_u16(struct anon_ds *ds, uint32_t tag, uint16_t v,
			   struct rf_err *e)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	return anon_ds_set_bytes(ds, tag, ANON__VR_US, b, 2, e);
}

enum rf_rc anon_ds_set_u32(struct anon_ds *ds, uint32_t tag, uint32_t v,
			   struct rf_err *e)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			(uint8_t)(v >> 24)};

	return anon_ds_set_bytes(ds, tag, ANON__VR_UL, b, 4, e);
}

enum rf_rc anon_ds_add_seq(struct anon_ds *ds, uint32_t tag,
			   struct anon_elem **out, struct rf_err *e)
{
	char ts[12];
	struct anon_elem *el = anon_ds_find(ds, tag);

	if (el && el->vr != ANON__VR_SQ)
		return rf_err_set(e, RF_EINVAL, "%s exists and is not a "
				  "sequence", anon_tag_str(tag, ts));
	if (!el) {
		if (ANON_TAG_GROUP(tag) == 0xfffe)
			return rf_err_set(e, RF_EINVAL, "invalid tag %s",
					  anon_tag_str(tag, ts));
		el = find_or_insert(ds, tag);
		if (!el)
			return rf_err_set(e, RF_ENOMEM, "cannot add %s: out of "
					  "memory", anon_tag_str(tag, ts));
		el->vr = ANON__VR_SQ;
	}
	if (out)
		*out = el;
	return RF_OK;
}

enum rf_rc anon_elem_insert_item(struct anon_elem *sq, size_t index,
				 const struct anon_ds *parent,
				 struct anon_ds **out, struct rf_err *e)
{
	struct anon_ds *it, saved;

	if (sq->vr != ANON__VR_SQ || index > sq->nitems)
		return rf_err_set(e, RF_EINVAL, "cannot insert item %zu into a "
				  "sequence of %zu items", index, sq->nitems);
	it = anon__elem_add_item(sq);
	if (!it)
		return rf_err_set(e, RF_ENOMEM, "cannot insert item: out of "
				  "memory");
	saved = *it;
	memmove(&sq->items[index + 1], &sq->items[index],
		(sq->nitems - 1 - index) * sizeof *it);
	sq->items[index] = saved;
	sq->items[index].charset = parent ? parent->charset : ANON_CS_DEFAULT;
	if (out)
		*out = &sq->items[index];
	return RF_OK;
}

void anon_elem_remove_item(struct anon_elem *sq, size_t index)
{
	if (index >= sq->nitems)
		return;
	anon_ds_clear(&sq->items[index]);
	memmove(&sq->items[index], &sq->items[index + 1],
		(sq->nitems - 1 - index) * sizeof sq->items[0]);
	sq->nitems--;
}

/* ---- walking ------------------------------------------------------------ */

static int walk(struct anon_ds *ds, anon_walk_fn fn, void *ctx,
		struct anon_path *path)
{
	size_t i, j;
	enum anon_walk w;

	for (i = 0; i < ds->n; i++) {
		struct anon_elem *el = &ds->elems[i];

		w = fn(ds, el, path, ctx);
		if (w == ANON_WALK_STOP)
			return 1;
		if (w == ANON_WALK_SKIP || el->vr != ANON__VR_SQ ||
		    path->depth >= ANON_PATH_MAX)
			continue;
		for (j = 0; j < el->nitems; j++) {
			path->seq[path->depth] = el->tag;
			path->item[path->depth] = j;
			path->depth++;
			if (walk(&el->items[j], fn, ctx, path))
				return 1;
			path->depth--;
			/* the callback may not resize ds, but be safe */
			el = &ds->elems[i];
		}
	}
	return 0;
}

int anon_ds_walk(struct anon_ds *ds, anon_walk_fn fn, void *ctx)
{
	struct anon_path path;

	path.depth = 0;
	return walk(ds, fn, ctx, &path);
}

/* ---- text --------------------------------------------------------------- */

enum rf_rc anon_ds_text(const struct anon_ds *ds, const struct anon_elem *el,
			struct rf_buf *out, struct rf_err *e)
{
	char ts[12];
	size_t n = el->len;
	enum anon_charset cs = ANON_CS_DEFAULT;

	if (el->vr == ANON__VR_SQ || (el->flags & ANON_ELEM_ENCAP))
		return rf_err_set(e, RF_EINVAL, "%s has no text value",
				  anon_tag_str(el->tag, ts));
	while (n > 0 && (el->val[n - 1] == ' ' || el->val[n - 1] == '\0'))
		n--;
	if (anon_vr_is_text(el->vr))
		cs = (enum anon_charset)ds->charset;
	return anon_charset_decode(cs, el->val, n, out, e);
}
