/*
 * anon_dict_int.h - the generated tables behind anon_dict.h, shared between
 * the generated anon_*_gen.c files and the lookups in anon_dict.c.
 *
 * Layout (produced by scripts/gen-dicom-tables):
 * - anon__dict_entries: the first anon__dict_nexact entries have mask
 *   0xffffffff and are sorted by tag; the rest are repeating-group entries
 *   sorted by number of fixed bits, most first, no two of equal rank able
 *   to match the same tag.
 * - anon__dict_by_keyword: indexes of the entries with a keyword, sorted by
 *   keyword in strcmp() order.
 * - anon__profile_rows: exact rows sorted by tag, then the wildcard rows in
 *   the order they must be tried (the odd-group row first).
 * - anon__sop_classes: sorted by UID in strcmp() order.
 *
 * Must not use: anything but libc.
 */
#ifndef ANON_DICT_INT_H
#define ANON_DICT_INT_H

#include <stdint.h>

#include "anon_dict.h"

extern const struct anon_dict_entry anon__dict_entries[];
extern const unsigned anon__dict_nentries;
extern const unsigned anon__dict_nexact;
extern const uint16_t anon__dict_by_keyword[];
extern const unsigned anon__dict_nkeywords;

extern const struct anon_profile_row anon__profile_rows[];
extern const unsigned anon__profile_nrows;
extern const unsigned anon__profile_nexact;

extern const struct anon_sop_class anon__sop_classes[];
extern const unsigned anon__sop_nclasses;

#endif
