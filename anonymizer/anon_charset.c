/* anon_charset.c - Specific Character Set (0008,0005): decoding text values
 * to UTF-8 and encoding UTF-8 back. What is and is not supported is
 * described at anon_charset_decode() in anon_dicom.h. */
#include "anon_dicom_int.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>

struct cs_name {
	const char *term;
	enum anon_charset cs;
	const char *iconv_name; /* NULL: decoded here */
};

static const struct cs_name names[] = {
	{"ISO_IR 6", ANON_CS_DEFAULT, NULL},
	{"ISO_IR 100", ANON_CS_LATIN1, NULL},
	{"ISO_IR 192", ANON_CS_UTF8, NULL},
	{"ISO_IR 101", ANON_CS_LATIN2, "ISO-8859-2"},
	{"ISO_IR 109", ANON_CS_LATIN3, "ISO-8859-3"},
	{"ISO_IR 110", ANON_CS_LATIN4, "ISO-8859-4"},
	{"ISO_IR 144", ANON_CS_CYRILLIC, "ISO-8859-5"},
	{"ISO_IR 127", ANON_CS_ARABIC, "ISO-8859-6"},
	{"ISO_IR 126", ANON_CS_GREEK, "ISO-8859-7"},
	{"ISO_IR 138", ANON_CS_HEBREW, "ISO-8859-8"},
	{"ISO_IR 148", ANON_CS_LATIN5, "ISO-8859-9"},
	{"ISO_IR 166", ANON_CS_THAI, "TIS-620"},
	{"ISO_IR 203", ANON_CS_LATIN9, "ISO-8859-15"},
	{"GB18030", ANON_CS_GB18030, "GB18030"},
	{"GBK", ANON_CS_GBK, "GBK"},
};

static const char *iconv_name(enum anon_charset cs)
{
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].cs == cs)
			return names[i].iconv_name;
	return NULL;
}

/* Trim spaces and NULs around p[0..n). */
static void trim(const uint8_t **p, size_t *n)
{
	while (*n > 0 && ((*p)[0] == ' ' || (*p)[0] == 0)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == 0))
		(*n)--;
}

static int term_is(const uint8_t *p, size_t n, const char *t)
{
	return strlen(t) == n && memcmp(p, t, n) == 0;
}

enum anon_charset anon_charset_parse(const uint8_t *p, size_t n)
{
	const uint8_t *v, *bs;
	size_t vn, i;
	int nvals = 0;
	enum anon_charset first = ANON_CS_DEFAULT;

	if (!p)
		return ANON_CS_DEFAULT;
	while (n > 0 || nvals == 0) {
		bs = n ? memchr(p, '\\', n) : NULL;
		v = p;
		vn = bs ? (size_t)(bs - p) : n;
		p += bs ? vn + 1 : vn;
		n -= bs ? vn + 1 : vn;
		trim(&v, &vn);
		if (nvals == 0) {
			if (vn == 0 || term_is(v, vn, "ISO 2022 IR 6"))
				first = ANON_CS_DEFAULT;
			else if (term_is(v, vn, "ISO 2022 IR 100"))
				first = ANON_CS_ISO2022_LATIN1;
			else if (term_is(v, vn, "ISO 2022 IR 13"))
				first = ANON_CS_ISO2022_JIS;
			else if (vn > 8 && memcmp(v, "ISO 2022", 8) == 0)
				first = ANON_CS_ISO2022;
			else {
				first = ANON_CS_UNKNOWN;
				for (i = 0; i < sizeof names / sizeof names[0];
				     i++)
					if (term_is(v, vn, names[i].term))
						first = names[i].cs;
			}
		}
		nvals++;
		if (!bs)
			break;
	}
	if (nvals > 1 && first != ANON_CS_ISO2022_LATIN1 &&
	    first != ANON_CS_ISO2022_JIS)
		return ANON_CS_ISO2022;
	return first;
}

/* ---- decoding ----------------------------------------------------------- */

static enum rf_rc put_cp(struct rf_buf *out, uint32_t c, struct rf_err *e)
{
	uint8_t u[4];
	size_t n;

	if (c < 0x80) {
		u[0] = (uint8_t)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (uint8_t)(0xc0 | (c >> 6));
		u[1] = (uint8_t)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		u[0] = (uint8_t)(0xe0 | (c >> 12));
		u[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | (c >> 18));
		u[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (c & 0x3f));
		n = 4;
	}
	return rf_buf_append(out, u, n, e);
}

#define REPL 0xfffdu

/* Length of the valid UTF-8 sequence at p (n bytes left) and its code
 * point, or 0 when invalid. */
static size_t utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint32_t c = p[0], min;
	size_t len, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static enum rf_rc decode_iconv(const char *name, const uint8_t *p, size_t n,
			       struct rf_buf *out, struct rf_err *e)
{
	iconv_t cd = iconv_open("UTF-8", name);
	char tmp[256];
	char *in = (char *)(uintptr_t)p, *o;
	size_t in_left = n, o_left, r;
	enum rf_rc rc = RF_OK;

	if (cd == (iconv_t)-1) {
		/* no converter: ASCII through, the rest U+FFFD */
		for (r = 0; r < n && !rc; r++)
			rc = put_cp(out, p[r] < 0x80 ? p[r] : REPL, e);
		return rc;
	}
	while (in_left > 0 && !rc) {
		o = tmp;
		o_left = sizeof tmp;
		r = iconv(cd, &in, &in_left, &o, &o_left);
		rc = rf_buf_append(out, tmp, sizeof tmp - o_left, e);
		if (r == (size_t)-1 && errno != E2BIG && !rc) {
			/* invalid or incomplete input: one U+FFFD per byte */
			rc = put_cp(out, REPL, e);
			in++;
			in_left--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	iconv_close(cd);
	return rc;
}

/* ISO 2022 as DICOM uses it (PS3.5 6.1.2.5, PS3.3 C.12.1.1.2): escape
 * sequences designate the set of G0 (bytes < 0x80) or G1 (bytes >= 0x80).
 * Each character of a multi-byte set is mapped to its EUC form and
 * converted with iconv; a set this decoder does not know, or a byte its set
 * does not define, gives U+FFFD. */
enum gset {
	G_NONE,     /* nothing designated (G1 at first) */
	G_ASCII,    /* ISO-IR 6, and ISO-IR 14 (JIS X 0201 Romaji) */
	G_JIS0208,  /* ISO-IR 87, 7-bit pairs */
	G_JIS0212,  /* ISO-IR 159, 7-bit pairs */
	G_KATAKANA, /* ISO-IR 13, G1 */
	G_KSC,      /* ISO-IR 149, G1 pairs */
	G_GB2312,   /* ISO-IR 58, G1 pairs */
	G_SINGLE,   /* an ISO 8859 part in G1, iconv name in `single` */
	G_UNKNOWN
};

struct iso2022 {
	enum gset g0, g1;
	const char *single;
	iconv_t cd; /* open for cd_name, or (iconv_t)-1 */
	const char *cd_name;
};

/* ESC - F: the G1 single-byte sets of PS3.3 Table C.12-3. */
static const char *g1_single(uint8_t f)
{
	switch (f) {
	case 'A': return "ISO-8859-1";
	case 'B': return "ISO-8859-2";
	case 'C': return "ISO-8859-3";
	case 'D': return "ISO-8859-4";
	case 'L': return "ISO-8859-5";
	case 'G': return "ISO-8859-6";
	case 'F': return "ISO-8859-7";
	case 'H': return "ISO-8859-8";
	case 'M': return "ISO-8859-9";
	case 'T': return "TIS-620";
	case 'b': return "ISO-8859-15";
	default: return NULL;
	}
}

/* Applies the escape sequence p[0..n) (ESC, intermediates, final). */
static void iso2022_escape(struct iso2022 *st, const uint8_t *p, size_t n)
{
	if (n == 3 && p[1] == '(')
		st->g0 = p[2] == 'B' || p[2] == 'J' ? G_ASCII : G_UNKNOWN;
	else if (n == 3 && p[1] == '$' && (p[2] == 'B' || p[2] == '@'))
		st->g0 = G_JIS0208;
	else if (n == 4 && p[1] == '$' && p[2] == '(' && p[3] == 'D')
		st->g0 = G_JIS0212;
	else if (n == 3 && p[1] == ')')
		st->g1 = p[2] == 'I' ? G_KATAKANA : G_UNKNOWN;
	else if (n == 4 && p[1] == '$' && p[2] == ')')
		st->g1 = p[3] == 'C' ? G_KSC : p[3] == 'A' ? G_GB2312
							    : G_UNKNOWN;
	else if (n == 3 && p[1] == '-' && g1_single(p[2])) {
		st->g1 = G_SINGLE;
		st->single = g1_single(p[2]);
	} else if (n >= 3 && p[1] == '$')
		st->g0 = G_UNKNOWN; /* another multi-byte set */
	else
		st->g1 = G_UNKNOWN;
}

/* Converts one character (n bytes in encoding name) to UTF-8. */
static enum rf_rc iso2022_char(struct iso2022 *st, const char *name,
			       const uint8_t *b, size_t n, struct rf_buf *out,
			       struct rf_err *e)
{
	char tmp[16], *in = (char *)(uintptr_t)b, *o = tmp;
	size_t in_left = n, o_left = sizeof tmp;

	if (st->cd_name != name) {
		if (st->cd != (iconv_t)-1)
			iconv_close(st->cd);
		st->cd = iconv_open("UTF-8", name);
		st->cd_name = name;
	}
	if (st->cd == (iconv_t)-1 ||
	    iconv(st->cd, &in, &in_left, &o, &o_left) == (size_t)-1 ||
	    in_left != 0) {
		if (st->cd != (iconv_t)-1)
			iconv(st->cd, NULL, NULL, NULL, NULL);
		return put_cp(out, REPL, e);
	}
	return rf_buf_append(out, tmp, sizeof tmp - o_left, e);
}

static enum rf_rc decode_iso2022(enum anon_charset cs, const uint8_t *p,
				 size_t n, struct rf_buf *out,
				 struct rf_err *e)
{
	struct iso2022 st = {G_ASCII, G_NONE, NULL, (iconv_t)-1, NULL};
	size_t i = 0, k;
	uint8_t b[3];
	enum rf_rc rc = RF_OK;

	if (cs == ANON_CS_ISO2022_LATIN1) {
		st.g1 = G_SINGLE;
		st.single = "ISO-8859-1";
	} else if (cs == ANON_CS_ISO2022_JIS) {
		st.g1 = G_KATAKANA;
	}
	while (i < n && !rc) {
		uint8_t c = p[i];
		int two = i + 1 < n;

		if (c == 0x1b) {
			k = i + 1;
			while (k < n && p[k] >= 0x20 && p[k] <= 0x2f)
				k++;
			if (k >= n) {
				rc = put_cp(out, REPL, e);
				break;
			}
			iso2022_escape(&st, p + i, k + 1 - i);
			i = k + 1;
			continue;
		}
		if (c < 0x80 && (st.g0 == G_ASCII || c < 0x21 || c == 0x7f)) {
			rc = put_cp(out, c, e);
			i++;
		} else if (c < 0x80 && st.g0 == G_JIS0208 && two) {
			b[0] = c | 0x80;
			b[1] = p[i + 1] | 0x80;
			rc = iso2022_char(&st, "EUC-JP", b, 2, out, e);
			i += 2;
		} else if (c < 0x80 && st.g0 == G_JIS0212 && two) {
			b[0] = 0x8f;
			b[1] = c | 0x80;
			b[2] = p[i + 1] | 0x80;
			rc = iso2022_char(&st, "EUC-JP", b, 3, out, e);
			i += 2;
		} else if (c >= 0xa1 && c <= 0xdf && st.g1 == G_KATAKANA) {
			b[0] = 0x8e;
			b[1] = c;
			rc = iso2022_char(&st, "EUC-JP", b, 2, out, e);
			i++;
		} else if (c >= 0xa1 && two &&
			   (st.g1 == G_KSC || st.g1 == G_GB2312)) {
			rc = iso2022_char(&st, st.g1 == G_KSC ? "EUC-KR"
							      : "GB2312",
					  p + i, 2, out, e);
			i += 2;
		} else if (c >= 0x80 && st.g1 == G_SINGLE) {
			rc = iso2022_char(&st, st.single, p + i, 1, out, e);
			i++;
		} else {
			rc = put_cp(out, REPL, e);
			i++;
		}
	}
	if (st.cd != (iconv_t)-1)
		iconv_close(st.cd);
	return rc;
}

enum rf_rc anon_charset_decode(enum anon_charset cs, const uint8_t *p,
			       size_t n, struct rf_buf *out, struct rf_err *e)
{
	size_t old = out->len, i, k;
	uint32_t c;
	const char *name;
	enum rf_rc rc = RF_OK;

	switch (cs) {
	case ANON_CS_LATIN1:
		for (i = 0; i < n && !rc; i++)
			rc = put_cp(out, p[i], e);
		break;
	case ANON_CS_UTF8:
		for (i = 0; i < n && !rc; i += k) {
			k = utf8_next(p + i, n - i, &c);
			if (!k) {
				k = 1;
				c = REPL;
			}
			rc = put_cp(out, c, e);
		}
		break;
	case ANON_CS_ISO2022:
	case ANON_CS_ISO2022_LATIN1:
	case ANON_CS_ISO2022_JIS:
		rc = decode_iso2022(cs, p, n, out, e);
		break;
	default:
		name = iconv_name(cs);
		if (name) {
			rc = decode_iconv(name, p, n, out, e);
			break;
		}
		for (i = 0; i < n && !rc; i++)
			rc = put_cp(out, p[i] < 0x80 ? p[i] : REPL, e);
		break;
	}
	if (rc)
		rf_buf_truncate(out, old);
	return rc;
}

/* ---- keeping converters loaded ----------------------------------------- */

/* The converters a hold can keep, one slot each: the iconv names of
 * names[], then the EUC forms decode_iso2022() converts through. */
static const char *const hold_names[ANON_CHARSET_HOLD_SLOTS] = {
	"ISO-8859-2", "ISO-8859-3", "ISO-8859-4", "ISO-8859-5",
	"ISO-8859-6", "ISO-8859-7", "ISO-8859-8", "ISO-8859-9",
	"TIS-620",    "ISO-8859-15", "GB18030",   "GBK",
	"EUC-JP",     "EUC-KR",     "GB2312",
};

void anon_charset_hold_init(struct anon_charset_hold *h)
{
	size_t i;

	for (i = 0; i < ANON_CHARSET_HOLD_SLOTS; i++)
		h->cd[i] = (iconv_t)-1;
	h->tried = 0;
}

static void hold_one(struct anon_charset_hold *h, const char *name)
{
	size_t i;

	for (i = 0; i < ANON_CHARSET_HOLD_SLOTS; i++) {
		if (strcmp(hold_names[i], name) != 0)
			continue;
		if (!(h->tried & (UINT32_C(1) << i))) {
			h->tried |= UINT32_C(1) << i;
			h->cd[i] = iconv_open("UTF-8", name);
		}
		return;
	}
}

void anon_charset_hold_add(struct anon_charset_hold *h, enum anon_charset cs)
{
	const char *name;

	switch (cs) {
	case ANON_CS_ISO2022_JIS:
		hold_one(h, "EUC-JP");
		break;
	case ANON_CS_ISO2022:
	case ANON_CS_ISO2022_LATIN1:
		hold_one(h, "EUC-JP");
		hold_one(h, "EUC-KR");
		hold_one(h, "GB2312");
		break;
	default:
		name = iconv_name(cs);
		if (name)
			hold_one(h, name);
		break;
	}
}

void anon_charset_hold_release(struct anon_charset_hold *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < ANON_CHARSET_HOLD_SLOTS; i++)
		if (h->cd[i] != (iconv_t)-1)
			iconv_close(h->cd[i]);
	anon_charset_hold_init(h);
}

/* ---- encoding ----------------------------------------------------------- */

static enum rf_rc encode_iconv(const char *name, const char *s, size_t n,
			       struct rf_buf *out, struct rf_err *e)
{
	iconv_t cd = iconv_open(name, "UTF-8");
	char tmp[256];
	char *in = (char *)(uintptr_t)s, *o;
	size_t in_left = n, o_left, r, k;
	uint32_t c;
	enum rf_rc rc = RF_OK;

	while (in_left > 0 && !rc) {
		o = tmp;
		o_left = sizeof tmp;
		if (cd == (iconv_t)-1) {
			r = (size_t)-1;
			errno = EILSEQ;
		} else {
			r = iconv(cd, &in, &in_left, &o, &o_left);
		}
		rc = rf_buf_append(out, tmp, sizeof tmp - o_left, e);
		if (r == (size_t)-1 && errno != E2BIG && !rc) {
			/* not representable: one '?' per character */
			k = utf8_next((const uint8_t *)in, in_left, &c);
			if (!k)
				k = 1;
			rc = rf_buf_putc(out, (k == 1 && (uint8_t)*in < 0x80)
						      ? *in
						      : '?',
					 e);
			in += k;
			in_left -= k;
			if (cd != (iconv_t)-1)
				iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	if (cd != (iconv_t)-1)
		iconv_close(cd);
	return rc;
}

enum rf_rc anon_charset_encode(enum anon_charset cs, const char *s, size_t n,
			       struct rf_buf *out, struct rf_err *e)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t old = out->len, i, k;
	uint32_t c;
	const char *name;
	enum rf_rc rc = RF_OK;

	name = iconv_name(cs);
	if (name) {
		rc = encode_iconv(name, s, n, out, e);
		goto out;
	}
	for (i = 0; i < n && !rc; i += k) {
		k = utf8_next(p + i, n - i, &c);
		if (!k) {
			k = 1;
			c = '?';
		}
		if (cs == ANON_CS_UTF8 && c >= 0x80)
			rc = rf_buf_append(out, p + i, k, e);
		else if (c < 0x80)
			rc = rf_buf_putc(out, (int)c, e);
		else if (c <= 0xff && cs == ANON_CS_LATIN1)
			rc = rf_buf_putc(out, (int)c, e);
		else
			rc = rf_buf_putc(out, '?', e);
	}
out:
	if (rc)
		rf_buf_truncate(out, old);
	return rc;
}
