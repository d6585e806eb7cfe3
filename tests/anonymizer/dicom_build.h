/*
 * dicom_build.h - builds DICOM byte streams by hand for the reader and
 * writer tests, following the encodings of PS3.5 section 7 directly (no
 * radfed code involved), so the tests check the reader against the
 * standard rather than against the writer.
 */
#ifndef DICOM_BUILD_H
#define DICOM_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct db {
	uint8_t *p;
	size_t len;
	size_t cap;
	int be; /* write numbers big-endian */
};

static inline void db_bytes(struct db *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline void db_u16(struct db *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	if (b->be) {
		x[0] = (uint8_t)(v >> 8);
		x[1] = (uint8_t)v;
	}
	db_bytes(b, x, 2);
}

static inline void db_u32(struct db *b, uint32_t v)
{
	if (b->be) {
		db_u16(b, (uint16_t)(v >> 16));
		db_u16(b, (uint16_t)v);
	} else {
		db_u16(b, (uint16_t)v);
		db_u16(b, (uint16_t)(v >> 16));
	}
}

static inline int db_vr_long(const char *vr)
{
	static const char *const l[] = {"OB", "OD", "OF", "OL", "OV", "OW",
					"SQ", "SV", "UC", "UN", "UR", "UT",
					"UV"};
	size_t i;

	for (i = 0; i < sizeof l / sizeof l[0]; i++)
		if (strcmp(vr, l[i]) == 0)
			return 1;
	return 0;
}

/* Explicit VR header (PS3.5 7.1.2). */
static inline void db_ex_hdr(struct db *b, uint16_t g, uint16_t e,
			     const char *vr, uint32_t len)
{
	db_u16(b, g);
	db_u16(b, e);
	db_bytes(b, vr, 2);
	if (db_vr_long(vr)) {
		db_u16(b, 0);
		db_u32(b, len);
	} else {
		db_u16(b, (uint16_t)len);
	}
}

static inline void db_ex(struct db *b, uint16_t g, uint16_t e,
			 const char *vr, const void *v, size_t n)
{
	db_ex_hdr(b, g, e, vr, (uint32_t)n);
	db_bytes(b, v, n);
}

static inline void db_ex_str(struct db *b, uint16_t g, uint16_t e,
			     const char *vr, const char *s)
{
	db_ex(b, g, e, vr, s, strlen(s));
}

/* Implicit VR header (PS3.5 7.1.3). */
static inline void db_im_hdr(struct db *b, uint16_t g, uint16_t e,
			     uint32_t len)
{
	db_u16(b, g);
	db_u16(b, e);
	db_u32(b, len);
}

static inline void db_im(struct db *b, uint16_t g, uint16_t e, const void *v,
			 size_t n)
{
	db_im_hdr(b, g, e, (uint32_t)n);
	db_bytes(b, v, n);
}

/* Items and delimiters (PS3.5 7.5). */
static inline void db_item(struct db *b, uint32_t len)
{
	db_u16(b, 0xfffe);
	db_u16(b, 0xe000);
	db_u32(b, len);
}

static inline void db_item_end(struct db *b)
{
	db_u16(b, 0xfffe);
	db_u16(b, 0xe00d);
	db_u32(b, 0);
}

static inline void db_seq_end(struct db *b)
{
	db_u16(b, 0xfffe);
	db_u16(b, 0xe0dd);
	db_u32(b, 0);
}

/* Preamble, "DICM" and a file meta group (PS3.10 7.1) announcing ts. */
static inline void db_part10(struct db *b, const char *ts)
{
	uint8_t pre[128] = {0};
	struct db m = {0};
	size_t tl = strlen(ts) + (strlen(ts) & 1);
	char tsp[80] = {0};
	int be = b->be;

	memcpy(tsp, ts, strlen(ts));
	b->be = 0;
	db_bytes(b, pre, sizeof pre);
	db_bytes(b, "DICM", 4);
	db_ex(&m, 0x0002, 0x0001, "OB", "\0\1", 2);
	db_ex(&m, 0x0002, 0x0002, "UI", "1.2.3\0", 6);
	db_ex(&m, 0x0002, 0x0003, "UI", "1.2.3.4\0", 8);
	db_ex(&m, 0x0002, 0x0010, "UI", tsp, tl);
	db_ex_hdr(b, 0x0002, 0x0000, "UL", 4);
	db_u32(b, (uint32_t)m.len);
	db_bytes(b, m.p, m.len);
	free(m.p);
	b->be = be;
}

static inline void db_free(struct db *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

#endif
