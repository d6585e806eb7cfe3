/*
 * anon_dict.c - lookups over the generated PS3.6, PS3.15 and SOP class
 * tables (anon_dict_gen.c, anon_profile_gen.c, anon_sop_gen.c).
 *
 * Tags: binary search over the exact entries, then the masked entries in
 * their generated order (most fixed bits first). Keywords and UIDs: binary
 * search over generated sorted arrays. Everything is static const data.
 */
#include <string.h>

#include "anon_dict.h"
#include "anon_dict_int.h"

#define UID_MAX 64 /* PS3.5 9.1: a UID is at most 64 characters */

/*
 * PS3.5 7.2: element 0000 of every group is its group length, VR UL. The
 * dictionary lists only (0002,0000); every other even group gets this
 * entry. It is not counted by anon_dict_count() and anon_dict_find_keyword()
 * does not return it: it is not an attribute of PS3.6.
 */
static const struct anon_dict_entry generic_group_length = {
	0x00000000, 0x0000ffff, ANON_VR('U', 'L'), ANON_VR_NONE, ANON_VR_NONE,
	0, "1", "GenericGroupLength", "Generic Group Length"
};

static int tag_is_private(uint32_t tag)
{
	return ANON_TAG_GROUP(tag) & 1;
}

const struct anon_dict_entry *anon_dict_find(uint32_t tag)
{
	unsigned lo = 0, hi = anon__dict_nexact;

	if (tag_is_private(tag))
		return NULL;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		uint32_t t = anon__dict_entries[mid].tag;

		if (t == tag)
			return &anon__dict_entries[mid];
		if (t < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* before the masks: (1010,xxxx) must not claim (1010,0000) */
	if (ANON_TAG_ELEM(tag) == 0)
		return &generic_group_length;
	for (unsigned i = anon__dict_nexact; i < anon__dict_nentries; i++) {
		const struct anon_dict_entry *d = &anon__dict_entries[i];

		if ((tag & d->mask) == d->tag)
			return d;
	}
	return NULL;
}

const struct anon_dict_entry *anon_dict_find_keyword(const char *keyword)
{
	unsigned lo = 0, hi = anon__dict_nkeywords;

	if (!keyword || !*keyword)
		return NULL;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct anon_dict_entry *d =
			&anon__dict_entries[anon__dict_by_keyword[mid]];
		int c = strcmp(keyword, d->keyword);

		if (c == 0)
			return d;
		if (c > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

unsigned anon_dict_count(void)
{
	return anon__dict_nentries;
}

const struct anon_profile_row *anon_profile_find(uint32_t tag)
{
	unsigned lo = 0, hi = anon__profile_nexact;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		uint32_t t = anon__profile_rows[mid].tag;

		if (t == tag)
			return &anon__profile_rows[mid];
		if (t < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the odd-group row (tag 0x00010000, mask 0x00010000) comes first */
	for (unsigned i = anon__profile_nexact; i < anon__profile_nrows; i++) {
		const struct anon_profile_row *r = &anon__profile_rows[i];

		if ((tag & r->mask) == r->tag)
			return r;
	}
	return NULL;
}

unsigned anon_profile_count(void)
{
	return anon__profile_nrows;
}

/* strcmp() order between the len bytes at a (no NUL expected) and the C
 * string b, without reading past either. */
static int uid_cmp(const char *a, size_t len, const char *b)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ca = (unsigned char)a[i];
		unsigned char cb = (unsigned char)b[i];

		if (cb == 0)
			return 1;
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return b[len] ? -1 : 0;
}

static const struct anon_sop_class *sop_search(const char *uid, size_t len)
{
	unsigned lo = 0, hi = anon__sop_nclasses;

	if (len == 0 || len > UID_MAX)
		return NULL;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = uid_cmp(uid, len, anon__sop_classes[mid].uid);

		if (c == 0)
			return &anon__sop_classes[mid];
		if (c > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct anon_sop_class *anon_sop_find(const char *uid)
{
	if (!uid)
		return NULL;
	return sop_search(uid, strnlen(uid, UID_MAX + 1));
}

const struct anon_sop_class *anon_sop_find_n(const char *uid, size_t len)
{
	if (!uid)
		return NULL;
	while (len > 0 && (uid[len - 1] == '\0' || uid[len - 1] == ' '))
		len--;
	return sop_search(uid, len);
}

unsigned anon_sop_count(void)
{
	return anon__sop_nclasses;
}
