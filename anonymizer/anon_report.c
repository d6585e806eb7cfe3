/*
 * anon_report.c - the French report scrubber (see anon_report.h).
 *
 * One pass over the text. At every word start the rules below are tried in
 * order; the first that matches writes its replacement and the scan resumes
 * after the matched bytes. When none matches, the whole word (or the one
 * non-word character) is copied. Every rule reads a bounded window (at most
 * a few hundred bytes, or the current word, which is then consumed), so the
 * whole scan is linear in the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "anon_fr_int.h"
#include "anon_report.h"

#include "anon_pseudo.h"
#include "rf_alloc.h"

#define WORD_MAX 48     /* longest folded word compared with seeds */
#define SEEDS_MAX 128   /* seed words kept per report */
#define WINDOW 96       /* longest span most rules look at */
#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

struct seed {
	char w[WORD_MAX];
	size_t len;
	int caps_only; /* an everyday word: a name only in capitals */
};

struct scan {
	const struct anon_report_ctx *c;
	const uint8_t *p;
	size_t n;
	struct rf_buf *out;
	struct anon_report_stats *st;
	struct seed *seeds;
	size_t nseeds;
	struct rf_err *e;
};

/* ---- UTF-8 and character classes --------------------------------------- */

/* The length (1..4) of the valid UTF-8 sequence at p[i], its code point in
 * *cp; 0 for invalid bytes, NUL, or i >= n. */
static size_t u8_dec(const uint8_t *p, size_t n, size_t i, uint32_t *cp)
{
	uint32_t c;
	size_t len, k;
	uint8_t b0;

	if (i >= n)
		return 0;
	b0 = p[i];
	if (b0 < 0x80) {
		*cp = b0;
		return b0 ? 1 : 0;
	}
	if (b0 < 0xc2)
		return 0;
	if (b0 < 0xe0) {
		len = 2;
		c = b0 & 0x1f;
	} else if (b0 < 0xf0) {
		len = 3;
		c = b0 & 0x0f;
	} else if (b0 < 0xf5) {
		len = 4;
		c = b0 & 0x07;
	} else {
		return 0;
	}
	if (n - i < len)
		return 0;
	for (k = 1; k < len; k++) {
		if ((p[i + k] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i + k] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static int cp_is_letter(uint32_t c)
{
	if (c < 0x80)
		return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
	if (c < 0xc0 || c == 0xd7 || c == 0xf7)
		return 0;
	if ((c >= 0x2000 && c <= 0x2bff) || (c >= 0x3000 && c <= 0x303f) ||
	    (c >= 0xfe00 && c <= 0xfe0f) || c == 0xfeff ||
	    (c >= 0xfff0 && c <= 0xffff))
		return 0;
	return 1;
}

static int cp_is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

static int cp_is_word(uint32_t c)
{
	return cp_is_digit(c) || cp_is_letter(c);
}

static int cp_is_upper(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z';
	if (c >= 0xc0 && c <= 0xde)
		return c != 0xd7;
	if (c >= 0x100 && c <= 0x137)
		return !(c & 1);
	if (c >= 0x139 && c <= 0x148)
		return c & 1;
	if (c >= 0x14a && c <= 0x177)
		return !(c & 1);
	if (c == 0x178)
		return 1;
	if (c >= 0x179 && c <= 0x17e)
		return c & 1;
	return 0;
}

static int cp_is_lower(uint32_t c)
{
	if (c < 0x80)
		return c >= 'a' && c <= 'z';
	if (c >= 0xdf && c <= 0xff)
		return c != 0xf7;
	if (c >= 0x100 && c <= 0x17f)
		return !cp_is_upper(c);
	return 0;
}

static int is_digit_at(const struct scan *s, size_t i)
{
	return i < s->n && s->p[i] >= '0' && s->p[i] <= '9';
}

static int is_alnum_ascii(uint8_t b)
{
	return (b >= '0' && b <= '9') ||
	       ((b | 0x20) >= 'a' && (b | 0x20) <= 'z');
}

static int word_at(const struct scan *s, size_t i)
{
	uint32_t c;

	if (i < s->n && s->p[i] < 0x80)
		return is_alnum_ascii(s->p[i]);
	return u8_dec(s->p, s->n, i, &c) && cp_is_word(c);
}

static int letter_at(const struct scan *s, size_t i)
{
	uint32_t c;

	if (i < s->n && s->p[i] < 0x80)
		return (s->p[i] | 0x20) >= 'a' && (s->p[i] | 0x20) <= 'z';
	return u8_dec(s->p, s->n, i, &c) && cp_is_letter(c);
}

static int upper_at(const struct scan *s, size_t i)
{
	uint32_t c;

	if (i < s->n && s->p[i] < 0x80)
		return s->p[i] >= 'A' && s->p[i] <= 'Z';
	return u8_dec(s->p, s->n, i, &c) && cp_is_upper(c);
}

static int word_before(const struct scan *s, size_t i)
{
	size_t j;
	uint32_t c;

	if (i == 0)
		return 0;
	j = i - 1;
	while (j > 0 && i - j < 4 && (s->p[j] & 0xc0) == 0x80)
		j--;
	return u8_dec(s->p, s->n, j, &c) == i - j && cp_is_word(c);
}

/* ---- folding: ASCII lowercase without accents --------------------------- */

/* U+00C0..U+00FF; '?' for the ligatures, '*' for non-letters. */
static const char fold_latin1[] = "aaaaaa?ceeeeiiiidnooooo*ouuuuyt?"
				  "aaaaaa?ceeeeiiiidnooooo*ouuuuyty";
/* U+0100..U+017F, from the Unicode decompositions (and the base letters of
 * the few that have none); U+0152/U+0153 are handled apart. */
static const char fold_latin_a[] = "aaaaaaccccccccddddeeeeeeeeeegggg"
				   "gggghhhhiiiiiiiiiiiijjkkklllllll"
				   "lllnnnnnnnnnoooooooorrrrrrssssss"
				   "ssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

/* Folds c into o (1 or 2 bytes) and returns the count; 0 when c has no
 * ASCII folding (it is then compared as its UTF-8 bytes). */
static size_t fold_cp(uint32_t c, char o[2])
{
	char f;

	if (c < 0x80) {
		o[0] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
		return 1;
	}
	if (c == 0xc6 || c == 0xe6) {
		o[0] = 'a';
		o[1] = 'e';
		return 2;
	}
	if (c == 0xdf) {
		o[0] = o[1] = 's';
		return 2;
	}
	if (c == 0x152 || c == 0x153) {
		o[0] = 'o';
		o[1] = 'e';
		return 2;
	}
	if (c >= 0xc0 && c <= 0xff) {
		f = fold_latin1[c - 0xc0];
		if (f == '*')
			return 0;
		o[0] = f;
		return 1;
	}
	if (c >= 0x100 && c <= 0x17f) {
		o[0] = fold_latin_a[c - 0x100];
		return 1;
	}
	return 0;
}

/* Folds the bytes [a, b) into buf (cap bytes). Returns the folded length,
 * or SIZE_MAX when it does not fit. Invalid bytes fold to '?'. */
static size_t fold_span(const struct scan *s, size_t a, size_t b, char *buf,
			size_t cap)
{
	size_t j = a, k = 0, l, fl;
	uint32_t c;
	char f[2];

	while (j < b) {
		l = u8_dec(s->p, b, j, &c);
		if (!l) {
			if (k + 1 > cap)
				return SIZE_MAX;
			buf[k++] = '?';
			j++;
			continue;
		}
		fl = fold_cp(c, f);
		if (!fl) {
			if (k + l > cap)
				return SIZE_MAX;
			memcpy(buf + k, s->p + j, l);
			k += l;
		} else {
			if (k + fl > cap)
				return SIZE_MAX;
			memcpy(buf + k, f, fl);
			k += fl;
		}
		j += l;
	}
	return k;
}

/* ---- small scanners ----------------------------------------------------- */

/* Skips spaces, tabs, U+00A0 and U+202F (never a line break). */
static size_t skip_blanks(const struct scan *s, size_t j)
{
	const uint8_t *p = s->p;

	for (;;) {
		if (j < s->n && (p[j] == ' ' || p[j] == '\t'))
			j++;
		else if (j + 1 < s->n && p[j] == 0xc2 && p[j + 1] == 0xa0)
			j += 2;
		else if (j + 2 < s->n && p[j] == 0xe2 && p[j + 1] == 0x80 &&
			 p[j + 2] == 0xaf)
			j += 3;
		else
			return j;
	}
}

static size_t skip_digits(const struct scan *s, size_t j, size_t max)
{
	size_t k = 0;

	while (k < max && is_digit_at(s, j + k))
		k++;
	return k;
}

/* The end of the run of letters at j (j itself when there is none). */
static size_t letters_end(const struct scan *s, size_t j)
{
	size_t l;
	uint32_t c;

	for (;;) {
		while (j < s->n && (s->p[j] | 0x20) >= 'a' &&
		       (s->p[j] | 0x20) <= 'z')
			j++;
		if (j >= s->n || s->p[j] < 0x80)
			return j;
		if (!(l = u8_dec(s->p, s->n, j, &c)) || !cp_is_letter(c))
			return j;
		j += l;
	}
}

/* The end of a run of word characters. */
static size_t word_end(const struct scan *s, size_t j)
{
	size_t l;
	uint32_t c;

	for (;;) {
		while (j < s->n && is_alnum_ascii(s->p[j]))
			j++;
		if (j >= s->n || s->p[j] < 0x80)
			return j;
		if (!(l = u8_dec(s->p, s->n, j, &c)) || !cp_is_word(c))
			return j;
		j += l;
	}
}

/* The length of an apostrophe (' or U+2019) at j, or 0. */
static size_t apostrophe_at(const struct scan *s, size_t j)
{
	if (j < s->n && s->p[j] == '\'')
		return 1;
	if (j + 2 < s->n && s->p[j] == 0xe2 && s->p[j + 1] == 0x80 &&
	    s->p[j + 2] == 0x99)
		return 3;
	return 0;
}

/* A word of letters joined by hyphens ("Saint-Étienne"), and by an
 * apostrophe after one letter ("D'ANGELO"). Bounded to WINDOW bytes past
 * the first part. Returns the end, j when there is no letter at j. */
static size_t joined_end(const struct scan *s, size_t j)
{
	size_t start = j, e = letters_end(s, j), a;

	if (e == j)
		return j;
	for (;;) {
		if (e - start > WINDOW)
			return e;
		if (e < s->n && s->p[e] == '-' && letter_at(s, e + 1)) {
			e = letters_end(s, e + 1);
			continue;
		}
		a = apostrophe_at(s, e);
		if (a && letters_end(s, start) == e && e - start <= 2 &&
		    letter_at(s, e + a)) {
			e = letters_end(s, e + a);
			continue;
		}
		return e;
	}
}

/* 1 when every letter of [a, b) is a capital and there are at least two. */
static int all_caps(const struct scan *s, size_t a, size_t b)
{
	size_t l, letters = 0;
	uint32_t c;

	while (a < b) {
		l = u8_dec(s->p, b, a, &c);
		if (!l)
			return 0;
		if (cp_is_lower(c))
			return 0;
		if (cp_is_letter(c))
			letters++;
		a += l;
	}
	return letters >= 2;
}

/*
 * Matches pat at j, case- and accent-insensitively. In pat: a space matches
 * one or more blanks, '\'' an apostrophe, '#' one of "°", "º", "o"; other
 * characters match their folded self. A pattern ending with a letter or a
 * digit must end at a word end. On success *end is past the match.
 */
static int pat_match(const struct scan *s, size_t j, const char *pat,
		     size_t *end)
{
	const char *q = pat;
	size_t l, fl, k;
	uint32_t c;
	char f[2];

	while (*q) {
		if (*q == ' ') {
			k = skip_blanks(s, j);
			if (k == j)
				return 0;
			j = k;
			q++;
			continue;
		}
		if (*q == '\'') {
			l = apostrophe_at(s, j);
			if (!l)
				return 0;
			j += l;
			q++;
			continue;
		}
		if (*q == '#') {
			if (j + 1 < s->n && s->p[j] == 0xc2 &&
			    (s->p[j + 1] == 0xb0 || s->p[j + 1] == 0xba))
				j += 2;
			else if (j < s->n && (s->p[j] | 0x20) == 'o')
				j++;
			else
				return 0;
			q++;
			continue;
		}
		l = u8_dec(s->p, s->n, j, &c);
		if (!l)
			return 0;
		fl = fold_cp(c, f);
		if (!fl || q[0] != f[0] || (fl == 2 && q[1] != f[1]))
			return 0;
		q += fl;
		j += l;
	}
	if (q > pat && is_alnum_ascii((uint8_t)q[-1]) && word_at(s, j))
		return 0;
	*end = j;
	return 1;
}

/* The longest pattern of list matching at j; its end in *end. */
static int pat_longest(const struct scan *s, size_t j,
		       const char *const *list, size_t count, size_t *end)
{
	size_t best = 0, e;
	uint32_t c;
	char f[2];

	size_t l;
	int second = -1;

	/* every pattern starts with a letter: compare that first, and the
	 * second when both are ASCII letters */
	l = u8_dec(s->p, s->n, j, &c);
	if (!l || !fold_cp(c, f))
		return 0;
	if (c < 0x80 && j + 1 < s->n && (s->p[j + 1] | 0x20) >= 'a' &&
	    (s->p[j + 1] | 0x20) <= 'z')
		second = s->p[j + 1] | 0x20;
	for (size_t k = 0; k < count; k++) {
		const char *q = list[k];

		if (q[0] != f[0] ||
		    (second >= 0 && q[1] >= 'a' && q[1] <= 'z' &&
		     q[1] != second))
			continue;
		if (pat_match(s, j, q, &e) && e > best)
			best = e;
	}
	if (!best)
		return 0;
	*end = best;
	return 1;
}

#define PAT_LONGEST(s, j, list, end)                                          \
	pat_longest(s, j, list, sizeof list / sizeof list[0], end)

/* ---- output ------------------------------------------------------------- */

static const char *const tags[ANON_REPORT_CAT_COUNT] = {
	"[NOM]", "[NIR]",	"[ID]",	  "[TEL]",	    "[EMAIL]",
	"[ADRESSE]", "[CP VILLE]", "[DATE]", "90 ans ou plus",
};

static const char *const cat_names[ANON_REPORT_CAT_COUNT] = {
	"name", "nir", "id", "phone", "email", "address", "city", "date", "age",
};

static enum rf_rc put(struct scan *s, const void *b, size_t len)
{
	return rf_buf_append(s->out, b, len, s->e);
}

static enum rf_rc put_raw(struct scan *s, size_t a, size_t b)
{
	return put(s, s->p + a, b - a);
}

static enum rf_rc put_tag(struct scan *s, enum anon_report_cat cat)
{
	const char *t = tags[cat];

	s->st->count[cat]++;
	if (s->c->style == ANON_REPORT_STYLE_GENERIC &&
	    cat != ANON_REPORT_AGE)
		t = "[***]";
	return rf_buf_puts(s->out, t, s->e);
}

/* Writes tag for [i, end) and reports the advance. */
static enum rf_rc replace(struct scan *s, size_t i, size_t end,
			  enum anon_report_cat cat, size_t *adv)
{
	*adv = end - i;
	return put_tag(s, cat);
}

/* ---- dates -------------------------------------------------------------- */

/* Shifts a date in place. 0 when it is impossible or leaves 1..9999. */
static int date_shift(int64_t *y, int *m, int *d, int shift)
{
	int yy;

	if (*y < 1 || *y > 9999 || !anon_date_is_valid((int)*y, *m, *d))
		return 0;
	yy = (int)*y;
	anon_civil_from_days(anon_days_from_civil(yy, *m, *d) + shift, &yy, m,
			     d);
	*y = yy;
	return *y >= 1 && *y <= 9999;
}

static enum rf_rc put_date_invalid(struct scan *s, size_t i, size_t end,
				   size_t *adv)
{
	s->st->dates_invalid++;
	return replace(s, i, end, ANON_REPORT_DATE, adv);
}

static size_t num_at(const struct scan *s, size_t j, size_t len)
{
	size_t v = 0;

	for (size_t k = 0; k < len; k++)
		v = v * 10 + (size_t)(s->p[j + k] - '0');
	return v;
}

/* 12/03/2024, 12-03-24, 12.03.2024, 2024-03-12: written back shifted, in
 * the same format. */
static enum rf_rc m_date_num(struct scan *s, size_t i, size_t *adv)
{
	size_t la, lb, lc, j, end;
	uint8_t sep;
	int64_t y;
	int m, d, iso;
	char buf[32];

	la = skip_digits(s, i, 5);
	if (la == 0 || la == 3 || la > 4 || i + la >= s->n)
		return RF_OK;
	sep = s->p[i + la];
	if (sep != '/' && sep != '-' && sep != '.')
		return RF_OK;
	j = i + la + 1;
	lb = skip_digits(s, j, 3);
	if (lb == 0 || lb > 2 || j + lb >= s->n || s->p[j + lb] != sep)
		return RF_OK;
	j += lb + 1;
	lc = skip_digits(s, j, 5);
	end = j + lc;
	if (word_at(s, end) ||
	    (end + 1 < s->n && s->p[end] == sep && is_digit_at(s, end + 1)))
		return RF_OK;
	iso = la == 4;
	if (iso) {
		if (lc == 0 || lc > 2)
			return RF_OK;
		y = (int64_t)num_at(s, i, 4);
		m = (int)num_at(s, i + 5, lb);
		d = (int)num_at(s, j, lc);
	} else {
		if (lc != 4 && !(lc == 2 && la == 2 && lb == 2))
			return RF_OK;
		d = (int)num_at(s, i, la);
		m = (int)num_at(s, i + la + 1, lb);
		y = (int64_t)num_at(s, j, lc);
		if (lc == 2)
			y += y < 50 ? 2000 : 1900;
	}
	if (!date_shift(&y, &m, &d, s->c->date_shift_days))
		return put_date_invalid(s, i, end, adv);
	if (iso)
		snprintf(buf, sizeof buf, "%04lld%c%0*d%c%0*d", (long long)y,
			 sep, (int)lb, m, sep, (int)lc, d);
	else if (lc == 4)
		snprintf(buf, sizeof buf, "%0*d%c%0*d%c%04lld", (int)la, d,
			 sep, (int)lb, m, sep, (long long)y);
	else
		snprintf(buf, sizeof buf, "%02d%c%02d%c%02lld", d, sep, m,
			 sep, (long long)(y % 100));
	s->st->count[ANON_REPORT_DATE]++;
	*adv = end - i;
	return rf_buf_puts(s->out, buf, s->e);
}

static const char *const month_pat[12] = {
	"janvier", "fevrier", "mars",	  "avril",    "mai",	  "juin",
	"juillet", "aout",    "septembre", "octobre", "novembre", "decembre",
};
static const char *const month_acc[12] = {
	"janvier", "février", "mars",	   "avril",   "mai",	  "juin",
	"juillet", "août",    "septembre", "octobre", "novembre", "décembre",
};
static const char *const month_acc_up[12] = {
	"JANVIER", "FÉVRIER", "MARS",	   "AVRIL",   "MAI",	  "JUIN",
	"JUILLET", "AOÛT",    "SEPTEMBRE", "OCTOBRE", "NOVEMBRE", "DÉCEMBRE",
};

/* The month name at j (index in *mon, end in *end). */
static int month_at(const struct scan *s, size_t j, int *mon, size_t *end)
{
	uint32_t c;
	char f[2];

	if (!u8_dec(s->p, s->n, j, &c) || !fold_cp(c, f))
		return 0;
	for (int k = 0; k < 12; k++) {
		if (month_pat[k][0] == f[0] &&
		    pat_match(s, j, month_pat[k], end)) {
			*mon = k + 1;
			return 1;
		}
	}
	return 0;
}

/* Writes month m in the style of orig, the name at [a, b): capitals,
 * capital initial or lowercase; with accents unless orig lacked them. */
static enum rf_rc put_month(struct scan *s, int m, int orig, size_t a,
			    size_t b)
{
	char buf[24];
	int accents = 1, upper = all_caps(s, a, b);
	size_t k;

	/* "fevrier", "aout", "decembre": the writer left accents out */
	if (orig == 2 || orig == 8 || orig == 12) {
		accents = 0;
		for (k = a; k < b; k++)
			if (s->p[k] >= 0x80)
				accents = 1;
	}
	if (upper && accents)
		snprintf(buf, sizeof buf, "%s", month_acc_up[m - 1]);
	else
		snprintf(buf, sizeof buf, "%s",
			 accents ? month_acc[m - 1] : month_pat[m - 1]);
	if (upper && !accents)
		for (k = 0; buf[k]; k++)
			buf[k] = (char)(buf[k] - 'a' + 'A');
	else if (!upper && upper_at(s, a))
		buf[0] = (char)(buf[0] - 'a' + 'A');
	return rf_buf_puts(s->out, buf, s->e);
}

/* A four-digit year at j ending a word. */
static int year_at(const struct scan *s, size_t j, int64_t *y)
{
	if (skip_digits(s, j, 5) != 4 || word_at(s, j + 4))
		return 0;
	*y = (int64_t)num_at(s, j, 4);
	return 1;
}

/* "12 mars 2024", "1er janvier 2023"; "12 mars" without a year is shifted
 * within a common year (a leap year for 29 February). */
static enum rf_rc m_date_text(struct scan *s, size_t i, size_t *adv)
{
	size_t ld, j, ms, me, end;
	int64_t y;
	int m, d, orig, year = 0;
	enum rf_rc rc;
	char buf[16];

	ld = skip_digits(s, i, 3);
	if (ld == 0 || ld > 2)
		return RF_OK;
	d = (int)num_at(s, i, ld);
	j = i + ld;
	if (d == 1 && !pat_match(s, j, "er", &j) && word_at(s, j))
		return RF_OK;
	if (d != 1 && word_at(s, j))
		return RF_OK;
	ms = skip_blanks(s, j);
	if (ms == j || !month_at(s, ms, &m, &me))
		return RF_OK;
	j = skip_blanks(s, me);
	if (j > me && year_at(s, j, &y)) {
		end = j + 4;
		year = 1;
	} else {
		end = me;
		y = d == 29 && m == 2 ? 2024 : 2023;
	}
	orig = m;
	if (!date_shift(&y, &m, &d, s->c->date_shift_days))
		return put_date_invalid(s, i, end, adv);
	if (d == 1)
		snprintf(buf, sizeof buf, "1er ");
	else
		snprintf(buf, sizeof buf, "%d ", d);
	rc = rf_buf_puts(s->out, buf, s->e);
	if (!rc)
		rc = put_month(s, m, orig, ms, me);
	if (!rc && year)
		rc = rf_buf_printf(s->out, s->e, " %04lld", (long long)y);
	s->st->count[ANON_REPORT_DATE]++;
	*adv = end - i;
	return rc;
}

/* "mars 2024": shifted from the middle of the month. */
static enum rf_rc m_month_year(struct scan *s, size_t i, size_t *adv)
{
	size_t me, j;
	int64_t y;
	int m, d = 15, orig;
	enum rf_rc rc;

	if (!month_at(s, i, &m, &me))
		return RF_OK;
	orig = m;
	j = skip_blanks(s, me);
	if (j == me || !year_at(s, j, &y))
		return RF_OK;
	if (!date_shift(&y, &m, &d, s->c->date_shift_days))
		return put_date_invalid(s, i, j + 4, adv);
	rc = put_month(s, m, orig, i, me);
	if (!rc)
		rc = rf_buf_printf(s->out, s->e, " %04lld", (long long)y);
	s->st->count[ANON_REPORT_DATE]++;
	*adv = j + 4 - i;
	return rc;
}

/* ---- ages --------------------------------------------------------------- */

/* "92 ans" -> "90 ans ou plus"; ages up to 89 are kept. */
static enum rf_rc m_age(struct scan *s, size_t i, size_t *adv)
{
	size_t l = skip_digits(s, i, 4), end;

	if (l == 0 || l > 3 || num_at(s, i, l) < 90)
		return RF_OK;
	if (!pat_match(s, skip_blanks(s, i + l), "ans", &end))
		return RF_OK;
	return replace(s, i, end, ANON_REPORT_AGE, adv);
}

/* ---- NIR and identifiers ------------------------------------------------ */

/* An optional separator between NIR groups. */
static size_t nir_sep(const struct scan *s, size_t j)
{
	if (j < s->n && (s->p[j] == ' ' || s->p[j] == '.' || s->p[j] == '-'))
		return 1;
	if (j + 1 < s->n && s->p[j] == 0xc2 && s->p[j + 1] == 0xa0)
		return 2;
	return 0;
}

/*
 * The French social security number (NIR): sex, year, month, department
 * (2A/2B in Corsica), commune, order, then the key 97 - (N mod 97), where N
 * is the 13-digit number with 2A read as 19 and 2B as 18. Groups may be
 * separated by one blank, dot or dash. A valid key gives "[NIR]"; a wrong
 * or missing key still hides the 13 digits as "[ID]".
 */
static enum rf_rc m_nir(struct scan *s, size_t i, size_t *adv)
{
	static const size_t groups[6] = {1, 2, 2, 2, 3, 3};
	char num[13];
	size_t j = i, k = 0, g, q, ks;
	uint64_t v = 0;
	int month, corsica = 0, key = -1;

	for (g = 0; g < 6; g++) {
		if (g > 0)
			j += nir_sep(s, j);
		for (q = 0; q < groups[g]; q++, j++) {
			if (j >= s->n)
				return RF_OK;
			if (g == 3 && q == 1 && num[k - 1] == '2' &&
			    ((s->p[j] | 0x20) == 'a' ||
			     (s->p[j] | 0x20) == 'b')) {
				corsica = (s->p[j] | 0x20) == 'a' ? 1 : 2;
				num[k++] = '0';
				continue;
			}
			if (!is_digit_at(s, j))
				return RF_OK;
			num[k++] = (char)s->p[j];
		}
	}
	if (num[0] != '1' && num[0] != '2' && num[0] != '7' && num[0] != '8')
		return RF_OK;
	month = (num[3] - '0') * 10 + (num[4] - '0');
	if (!((month >= 1 && month <= 12) || (month >= 20 && month <= 42) ||
	      month >= 50))
		return RF_OK;
	if (corsica) {
		num[5] = '1';
		num[6] = corsica == 1 ? '9' : '8';
	}
	ks = j + nir_sep(s, j);
	if (skip_digits(s, ks, 3) == 2 && !word_at(s, ks + 2)) {
		key = (int)num_at(s, ks, 2);
		j = ks + 2;
	} else if (word_at(s, j)) {
		return RF_OK;
	}
	for (k = 0; k < 13; k++)
		v = v * 10 + (uint64_t)(num[k] - '0');
	if (key == (int)(97 - v % 97))
		return replace(s, i, j, ANON_REPORT_NIR, adv);
	return replace(s, i, j, ANON_REPORT_ID, adv);
}

/* A token of ASCII letters and digits joined by '-', '_' or '/', with at
 * least min_digits digits; the first part is read whole, the rest within
 * WINDOW bytes. Returns its end, or i when there is none. */
static size_t id_token_end(const struct scan *s, size_t i, size_t min_digits,
			   size_t *max_part_digits)
{
	size_t j = i, start, d, total = 0, end = i, parts = 0;

	*max_part_digits = 0;
	for (;;) {
		start = j;
		d = 0;
		while (j < s->n && is_alnum_ascii(s->p[j])) {
			if (s->p[j] <= '9')
				d++;
			j++;
			if (parts > 0 && j - i > WINDOW)
				return i;
		}
		if (j == start || word_at(s, j))
			return parts && !word_at(s, j) ? end : i;
		total += d;
		if (d > *max_part_digits)
			*max_part_digits = d;
		parts++;
		end = j;
		if (j + 1 < s->n &&
		    (s->p[j] == '-' || s->p[j] == '_' || s->p[j] == '/') &&
		    is_alnum_ascii(s->p[j + 1]) && j - i < WINDOW) {
			j++;
			continue;
		}
		break;
	}
	return total >= min_digits ? end : i;
}

/* Codes with six digits or more, four of them together: "12345678",
 * "ACC2024001234", "RX-2024-001234". */
static enum rf_rc m_generic_id(struct scan *s, size_t i, size_t *adv)
{
	size_t maxd, end = id_token_end(s, i, 6, &maxd);

	if (end == i || maxd < 4)
		return RF_OK;
	return replace(s, i, end, ANON_REPORT_ID, adv);
}

static const char *const id_labels[] = {
	"ipp", "nda", "id", "ins", "ref", "n# ipp", "n# nda",
	"n# de dossier", "n# dossier", "n# patient", "n# de patient",
	"n# d'examen", "n# examen", "n# d'accession", "n# accession",
	"n# de sejour", "n# sejour", "n# d'archivage", "numero de dossier",
	"numero du dossier", "numero patient", "numero de patient",
	"numero d'examen", "numero d'accession", "numero de sejour",
	"num. dossier", "accession", "dossier", "identifiant",
	"identifiant patient",
};

/* "IPP : AB12", "N° de dossier 2024/77": the label is kept. */
static enum rf_rc m_id_label(struct scan *s, size_t i, size_t *adv)
{
	size_t j, k, end, maxd;
	enum rf_rc rc;

	if (!PAT_LONGEST(s, i, id_labels, &j))
		return RF_OK;
	k = j;
	for (int steps = 0; steps < 8; steps++) {
		size_t b = skip_blanks(s, k);

		if (b < s->n && (s->p[b] == ':' || s->p[b] == '#' ||
				 s->p[b] == '-' || s->p[b] == '.'))
			b++;
		else if (b + 1 < s->n && s->p[b] == 0xc2 &&
			 (s->p[b + 1] == 0xb0 || s->p[b + 1] == 0xba))
			b += 2;
		if (b == k)
			break;
		k = b;
	}
	end = id_token_end(s, k, 1, &maxd);
	if (end == k || end - k < 3)
		return RF_OK;
	rc = put_raw(s, i, k);
	if (!rc)
		rc = replace(s, i, end, ANON_REPORT_ID, adv);
	return rc;
}

/* The study's own identifiers, as whole tokens. */
static enum rf_rc m_study_id(struct scan *s, size_t i, size_t *adv)
{
	size_t best = 0, len, k;
	const char *id;

	for (size_t q = 0; q < s->c->n_ids; q++) {
		id = s->c->ids[q];
		if (!id || (id[0] | 0x20) != (s->p[i] | 0x20))
			continue;
		len = id ? strnlen(id, ANON_REPORT_ID_MAX + 1) : 0;
		if (len < 3 || len > ANON_REPORT_ID_MAX || len > s->n - i ||
		    len <= best)
			continue;
		for (k = 0; k < len; k++) {
			uint8_t a = s->p[i + k], b = (uint8_t)id[k];

			if (a != b && !(is_alnum_ascii(a) &&
					(a | 0x20) == (b | 0x20)))
				break;
		}
		if (k == len && !word_at(s, i + len))
			best = len;
	}
	if (!best)
		return RF_OK;
	return replace(s, i, i + best, ANON_REPORT_ID, adv);
}

/* ---- phones and e-mail -------------------------------------------------- */

/* 0X XX XX XX XX with one kind of separator (blank, dot, dash) or none. */
static enum rf_rc m_phone_fr(struct scan *s, size_t i, size_t *adv)
{
	size_t j = i + 2;
	int sep = -1, c;

	if (i + 1 >= s->n || s->p[i] != '0' || !is_digit_at(s, i + 1) ||
	    s->p[i + 1] == '0')
		return RF_OK;
	for (int g = 0; g < 4; g++) {
		c = j < s->n ? s->p[j] : 0;
		if (c == ' ' || c == '.' || c == '-') {
			if (sep != -1 && sep != c)
				return RF_OK;
			sep = c;
			j++;
		} else {
			if (sep != -1 && sep != 0)
				return RF_OK;
			sep = 0;
		}
		if (skip_digits(s, j, 2) != 2)
			return RF_OK;
		j += 2;
	}
	if (word_at(s, j))
		return RF_OK;
	return replace(s, i, j, ANON_REPORT_PHONE, adv);
}

/* +33 (0)1 23 45 67 89, 0033 1 23 45 67 89, +41 22 345 67 89. */
static enum rf_rc m_phone_intl(struct scan *s, size_t i, size_t *adv)
{
	size_t j, digits = 0, end = 0, seps = 0;
	uint8_t b;

	if (s->p[i] == '+')
		j = i + 1;
	else if (i + 2 < s->n && s->p[i] == '0' && s->p[i + 1] == '0' &&
		 s->p[i + 2] >= '1' && s->p[i + 2] <= '9')
		j = i + 2;
	else
		return RF_OK;
	if (!is_digit_at(s, j) || s->p[j] == '0')
		return RF_OK;
	while (j < s->n && j - i < 40) {
		b = s->p[j];
		if (b >= '0' && b <= '9') {
			digits++;
			seps = 0;
			end = ++j;
		} else if ((b == ' ' || b == '.' || b == '-' || b == '(' ||
			    b == ')') &&
			   seps < 2) {
			seps++;
			j++;
		} else {
			break;
		}
	}
	if (digits < 8 || digits > 16 || word_at(s, end))
		return RF_OK;
	return replace(s, i, end, ANON_REPORT_PHONE, adv);
}

static int email_local(uint8_t b)
{
	return is_alnum_ascii(b) || b == '.' || b == '_' || b == '%' ||
	       b == '+' || b == '-';
}

static enum rf_rc m_email(struct scan *s, size_t i, size_t *adv)
{
	size_t j = i, labels = 0, end = 0, ls, alpha;

	while (j < s->n && j - i < 64 && email_local(s->p[j]))
		j++;
	if (j == i || j >= s->n || s->p[j] != '@')
		return RF_OK;
	j++;
	for (;;) {
		ls = j;
		alpha = 1;
		while (j < s->n && j - ls < 63 &&
		       (is_alnum_ascii(s->p[j]) || s->p[j] == '-')) {
			if (s->p[j] <= '9')
				alpha = 0;
			j++;
		}
		if (j == ls)
			break;
		labels++;
		end = j;
		if (j + 1 < s->n && s->p[j] == '.' &&
		    is_alnum_ascii(s->p[j + 1]) && j - i < 254) {
			j++;
			continue;
		}
		break;
	}
	if (labels < 2 || !alpha || end - ls < 2 || word_at(s, end))
		return RF_OK;
	return replace(s, i, end, ANON_REPORT_EMAIL, adv);
}

/* ---- addresses ---------------------------------------------------------- */

static const char *const street_types[] = {
	"rue", "avenue", "av.", "av", "boulevard", "bd", "bld", "chemin",
	"allee", "allees", "place", "impasse", "route", "quai", "cours",
	"square", "residence", "lotissement", "voie", "sentier", "passage",
	"chaussee", "faubourg", "fbg", "cite", "hameau", "lieu-dit",
	"lieu dit", "rond-point", "promenade", "esplanade", "parvis", "villa",
	"domaine", "clos", "montee", "traverse", "ruelle", "mail",
};

/* Street types that also start an address without a number. */
static const char *const street_types_bare[] = {
	"rue", "avenue", "boulevard", "bd", "chemin", "allee", "place",
	"impasse", "route", "quai", "cours", "square", "residence",
	"lotissement", "passage", "chaussee", "faubourg", "promenade",
	"esplanade",
};

static const char *const particles[] = {
	"de", "du", "des", "de la", "de l'", "d'", "la", "le", "les", "l'",
	"aux", "au",
};

/* The end of a street name starting at j: up to a line break, a comma or
 * similar, a sentence end, a postal code or WINDOW bytes; trailing blanks
 * excluded. j when there is no letter or digit. */
static size_t street_name_end(const struct scan *s, size_t j)
{
	size_t k = j, last = j, b;
	uint8_t c;

	while (k < s->n && k - j < WINDOW) {
		c = s->p[k];
		if (c == '\n' || c == '\r' || c == ',' || c == ';' ||
		    c == ':' || c == '(' || c == ')' || c == '[' || c == '/')
			break;
		if (c == '.' && (k + 1 >= s->n || s->p[k + 1] == ' ' ||
				 s->p[k + 1] == '\n' || s->p[k + 1] == '\r'))
			break;
		if (c == ' ' || c == '\t') {
			b = skip_blanks(s, k);
			if (skip_digits(s, b, 6) == 5)
				break;
			k = b;
			continue;
		}
		if (c == '-' && k + 1 < s->n && s->p[k + 1] == ' ')
			break;
		k++;
		if (word_at(s, k - 1) || c >= 0x80)
			last = k;
	}
	return last;
}

/* After a street type: particles then a capitalised word (or a capitals
 * word when the type itself was in capitals). */
static int street_name_plausible(const struct scan *s, size_t j, int caps)
{
	size_t e, we;

	for (int k = 0; k < 3; k++) {
		if (!PAT_LONGEST(s, j, particles, &e))
			break;
		if (e > j && apostrophe_at(s, e - 1))
			j = e;
		else if (skip_blanks(s, e) > e)
			j = skip_blanks(s, e);
		else
			break;
	}
	if (!upper_at(s, j))
		return 0;
	we = joined_end(s, j);
	return caps ? 1 : !all_caps(s, j, we);
}

static enum rf_rc m_address(struct scan *s, size_t i, size_t *adv)
{
	size_t l = skip_digits(s, i, 5), j, e, end;
	static const char *const suffixes[] = {"bis", "ter", "quater", "a",
					       "b", "c"};

	if (l == 0 || l > 4)
		return RF_OK;
	j = i + l;
	if (PAT_LONGEST(s, skip_blanks(s, j), suffixes, &e))
		j = e;
	if (j < s->n && s->p[j] == ',')
		j++;
	e = skip_blanks(s, j);
	if (e == j || !PAT_LONGEST(s, e, street_types, &j))
		return RF_OK;
	e = skip_blanks(s, j);
	if (e == j && !(j > 0 && s->p[j - 1] == '.'))
		return RF_OK;
	end = street_name_end(s, e);
	if (end == e)
		return RF_OK;
	return replace(s, i, end, ANON_REPORT_ADDRESS, adv);
}

/* "rue des Lilas", "Place de la République" without a number. */
static enum rf_rc m_street(struct scan *s, size_t i, size_t *adv)
{
	size_t j, e, end;

	if (!PAT_LONGEST(s, i, street_types_bare, &j))
		return RF_OK;
	e = skip_blanks(s, j);
	if (e == j || !street_name_plausible(s, e, all_caps(s, i, j)))
		return RF_OK;
	end = street_name_end(s, e);
	if (end == e)
		return RF_OK;
	return replace(s, i, end, ANON_REPORT_ADDRESS, adv);
}

static const char *const city_particles[] = {
	"sur", "sous", "en", "les", "le", "la", "de", "du", "des",
	"aux", "au",
};
static const char *const city_heads[] = {
	"le", "la", "les", "saint", "sainte", "st", "ste",
};

/* "75013 Paris", "13005 MARSEILLE CEDEX 05", "42000 Saint-Étienne",
 * "94270 Le Kremlin-Bicêtre", "13100 Aix en Provence". */
static enum rf_rc m_postcode(struct scan *s, size_t i, size_t *adv)
{
	size_t j, we, end, k, e, words = 1, d;
	int dept;

	if (skip_digits(s, i, 6) != 5 || word_at(s, i + 5))
		return RF_OK;
	dept = (int)num_at(s, i, 2);
	if (dept < 1 || dept == 96 || dept == 99)
		return RF_OK;
	j = skip_blanks(s, i + 5);
	if (j == i + 5 || !upper_at(s, j))
		return RF_OK;
	we = joined_end(s, j);
	/* "25000 UI", "12000 UH", "50000 Unités": units, not cities */
	if (we == j || (all_caps(s, j, we) && we - j <= 3) ||
	    pat_match(s, j, "unites", &e) || pat_match(s, j, "unite", &e))
		return RF_OK;
	end = we;
	while (words < 8) {
		k = skip_blanks(s, end);
		if (k == end)
			break;
		if (pat_match(s, k, "cedex", &e)) {
			end = e;
			d = skip_digits(s, skip_blanks(s, e), 3);
			if (d > 0 && d < 3)
				end = skip_blanks(s, e) + d;
			break;
		}
		if (PAT_LONGEST(s, j, city_heads, &e) && e == we &&
		    upper_at(s, k)) {
			j = k;
			we = joined_end(s, k);
			end = we;
			words++;
			continue;
		}
		if (PAT_LONGEST(s, k, city_particles, &e) &&
		    skip_blanks(s, e) > e && upper_at(s, skip_blanks(s, e))) {
			j = skip_blanks(s, e);
			we = joined_end(s, j);
			end = we;
			words += 2;
			continue;
		}
		break;
	}
	return replace(s, i, end, ANON_REPORT_CITY, adv);
}

/* ---- names -------------------------------------------------------------- */

/* Folds [a, b) and looks it up. */
static size_t fold_word(const struct scan *s, size_t a, size_t b,
			char w[WORD_MAX])
{
	return fold_span(s, a, b, w, WORD_MAX);
}

/* 1 if [a, b) is a seed word, 2 if it is an everyday seed word ("Petit")
 * not in capitals, which is a name only next to another seed; else 0. */
static int seed_lookup(const struct scan *s, size_t a, size_t b)
{
	char w[WORD_MAX];
	size_t len;

	if (s->nseeds == 0)
		return 0;
	len = fold_word(s, a, b, w);
	if (len == SIZE_MAX)
		return 0;
	for (size_t k = 0; k < s->nseeds; k++) {
		const struct seed *sd = &s->seeds[k];

		if (sd->len == len && memcmp(sd->w, w, len) == 0)
			return !sd->caps_only || all_caps(s, a, b) ? 1 : 2;
	}
	return 0;
}

/*
 * A name word at j: a capitalised word that is not a title or particle,
 * nor a medical acronym; after the first word, not an everyday word unless
 * in capitals. An initial "J." counts too. Returns its end, or j.
 */
static size_t name_word_end(const struct scan *s, size_t j, int first)
{
	char w[WORD_MAX];
	size_t we, len;
	int caps;

	if (j + 1 < s->n && s->p[j] >= 'A' && s->p[j] <= 'Z' &&
	    s->p[j + 1] == '.' && !word_at(s, j + 2))
		return j + 2;
	if (!upper_at(s, j))
		return j;
	we = joined_end(s, j);
	if (we == j || word_at(s, we))
		return j;
	len = fold_word(s, j, we, w);
	if (len == SIZE_MAX)
		return j;
	caps = all_caps(s, j, we);
	if (anon__fr_is_stop_word(w, len) || anon__fr_is_acronym(w, len))
		return j;
	if (!first && !caps && anon__fr_is_common_word(w, len))
		return j;
	return we;
}

static const char *const name_particles[] = {
	"de", "du", "des", "de la", "le", "la", "van", "von", "di", "da",
	"del", "van der", "von der",
};

static int first_name(const struct scan *s, size_t a, size_t b);

/* Up to four name words from j, separated by blanks, with particles
 * between them. Returns the number of words, their end in *end. */
static int scan_names(const struct scan *s, size_t j, size_t *end)
{
	int count = 0, given = 0;
	size_t k = j, e, pe, b;

	*end = j;
	while (count < 4) {
		/* everyday words pass first, or after a given name */
		e = name_word_end(s, k, count == 0 || given);
		if (e == k &&
		    PAT_LONGEST(s, k, name_particles, &pe) &&
		    (b = skip_blanks(s, pe)) > pe) {
			e = name_word_end(s, b, 0);
			if (e == b)
				break;
		} else if (e == k) {
			break;
		}
		given = first_name(s, k, e);
		*end = e;
		count++;
		k = skip_blanks(s, e);
		if (k == e)
			break;
	}
	return count;
}

/* Titles in their usual case, and titles in any case. Plural titles may
 * introduce "X et Y". */
static const char *const titles_exact[] = {
	"Drs", "Dr.", "Dr", "DR", "Pr.", "Pr", "Prs", "M.", "MM.", "Mme",
	"MME", "Mmes", "Mlle", "MLLE", "Mr", "Me",
};
static const char *const titles_any[] = {
	"docteur", "docteurs", "professeur", "professeurs", "madame",
	"mesdames", "monsieur", "messieurs", "mademoiselle",
};

static enum rf_rc m_title(struct scan *s, size_t i, size_t *adv)
{
	size_t j = 0, len, k, end, e2, b;
	const char *t = NULL;
	enum rf_rc rc;
	int plural = 0;

	for (size_t q = 0; q < sizeof titles_exact / sizeof *titles_exact;
	     q++) {
		if (titles_exact[q][0] != s->p[i])
			continue;
		len = strlen(titles_exact[q]);
		if (len <= s->n - i && len > j &&
		    memcmp(s->p + i, titles_exact[q], len) == 0 &&
		    !word_at(s, i + len)) {
			j = len;
			t = titles_exact[q];
		}
	}
	if (t) {
		j += i;
		plural = strcmp(t, "Drs") == 0 || strcmp(t, "Prs") == 0 ||
			 strcmp(t, "MM.") == 0 || strcmp(t, "Mmes") == 0;
	} else if (PAT_LONGEST(s, i, titles_any, &j)) {
		plural = s->p[j - 1] == 's' || s->p[j - 1] == 'S';
	} else {
		return RF_OK;
	}
	k = skip_blanks(s, j);
	if (k == j && s->p[j - 1] != '.')
		return RF_OK;
	if (scan_names(s, k, &end) == 0)
		return RF_OK;
	rc = put_raw(s, i, k);
	if (!rc)
		rc = put_tag(s, ANON_REPORT_NAME);
	if (!rc && plural) {
		b = skip_blanks(s, end);
		if (b > end && pat_match(s, b, "et", &e2) &&
		    skip_blanks(s, e2) > e2 &&
		    scan_names(s, skip_blanks(s, e2), &e2) > 0) {
			rc = rf_buf_puts(s->out, " et ", s->e);
			if (!rc)
				rc = put_tag(s, ANON_REPORT_NAME);
			end = e2;
		}
	}
	*adv = end - i;
	return rc;
}

static const char *const name_labels[] = {
	"patient", "patiente", "nom", "prenom", "prenoms", "nom de naissance",
	"nom d'usage", "nom marital", "nom de jeune fille", "nom du patient",
	"nom de la patiente", "medecin", "medecin prescripteur",
	"medecin demandeur", "medecin traitant", "medecin referent",
	"medecin radiologue", "prescripteur", "demandeur", "radiologue",
	"manipulateur", "manipulatrice", "manipulateur radio", "operateur",
	"operatrice", "correspondant", "destinataire", "copie a",
	"interprete par", "dicte par", "valide par", "signe par",
	"redige par",
};

/* "Patient : DUPONT Jean", "Radiologue : Sophie GIRARD". */
static enum rf_rc m_name_label(struct scan *s, size_t i, size_t *adv)
{
	size_t j, k, end;
	enum rf_rc rc;

	if (!PAT_LONGEST(s, i, name_labels, &j))
		return RF_OK;
	k = skip_blanks(s, j);
	if (k >= s->n || s->p[k] != ':')
		return RF_OK;
	k = skip_blanks(s, k + 1);
	if (scan_names(s, k, &end) == 0)
		return RF_OK;
	rc = put_raw(s, i, k);
	if (!rc)
		rc = replace(s, i, end, ANON_REPORT_NAME, adv);
	return rc;
}

/* The end of the seed word at a with its hyphenated parts that are seeds
 * or capitalised; *kind as seed_lookup() for the first part. a when
 * there is no seed word. */
static size_t seed_word_end(const struct scan *s, size_t a, int *kind)
{
	size_t we = letters_end(s, a), e;

	*kind = 0;
	if (we == a || word_at(s, we))
		return a;
	*kind = seed_lookup(s, a, we);
	if (!*kind)
		return a;
	while (we + 1 < s->n && s->p[we] == '-' && letter_at(s, we + 1)) {
		e = letters_end(s, we + 1);
		if (word_at(s, e) ||
		    !(seed_lookup(s, we + 1, e) || upper_at(s, we + 1)))
			break;
		we = e;
	}
	return we;
}

/* Seed words, with the capitalised seed words that follow them: "Jean
 * Fontaine", "PETIT Marie", "Petit Marie" (but "Petit nodule" stays). */
static enum rf_rc m_seed_name(struct scan *s, size_t i, size_t *adv)
{
	size_t end, b, e;
	int kind, next, words = 1;

	end = seed_word_end(s, i, &kind);
	if (end == i)
		return RF_OK;
	for (;;) {
		b = skip_blanks(s, end);
		if (b == end || !upper_at(s, b) || words >= 6)
			break;
		e = seed_word_end(s, b, &next);
		if (e == b || (kind == 2 && next == 2))
			break;
		if (kind == 2)
			kind = next;
		end = e;
		words++;
	}
	if (kind == 2 && (words == 1 || !upper_at(s, i)))
		return RF_OK;
	return replace(s, i, end, ANON_REPORT_NAME, adv);
}

/* 1 if [a, b) is a given name, or given names joined by hyphens. */
static int first_name(const struct scan *s, size_t a, size_t b)
{
	char w[WORD_MAX];
	size_t e, len;

	if (!upper_at(s, a))
		return 0;
	while (a < b) {
		e = letters_end(s, a);
		len = fold_word(s, a, e, w);
		if (len == SIZE_MAX || !anon__fr_is_first_name(w, len))
			return 0;
		a = e + 1;
	}
	return 1;
}

/* A capitals word that may be a surname. */
static int surname_caps(const struct scan *s, size_t a, size_t b)
{
	char w[WORD_MAX];
	size_t len;

	if (!all_caps(s, a, b))
		return 0;
	len = fold_word(s, a, b, w);
	return len != SIZE_MAX && !anon__fr_is_stop_word(w, len) &&
	       !anon__fr_is_acronym(w, len) &&
	       !anon__fr_is_common_word(w, len);
}

/* "Jean DUPONT", "DUPONT Jean": a known given name next to a word in
 * capitals. */
static enum rf_rc m_first_name_caps(struct scan *s, size_t i, size_t *adv)
{
	size_t we, k, ke;

	if (!upper_at(s, i))
		return RF_OK;
	we = joined_end(s, i);
	if (we == i || word_at(s, we))
		return RF_OK;
	k = skip_blanks(s, we);
	if (k == we)
		return RF_OK;
	ke = joined_end(s, k);
	if (ke == k || word_at(s, ke))
		return RF_OK;
	if ((first_name(s, i, we) && surname_caps(s, k, ke)) ||
	    (surname_caps(s, i, we) && first_name(s, k, ke) &&
	     !all_caps(s, k, ke)))
		return replace(s, i, ke, ANON_REPORT_NAME, adv);
	return RF_OK;
}

/* Splits the PN values into folded seed words. */
static enum rf_rc seeds_build(struct scan *s)
{
	const struct anon_report_ctx *c = s->c;
	struct scan t;
	size_t a, b, len;
	struct seed *sd;

	if (c->n_names == 0)
		return RF_OK;
	s->seeds = rf_calloc(SEEDS_MAX, sizeof *s->seeds);
	if (!s->seeds)
		return rf_err_set(s->e, RF_ENOMEM,
				  "cannot allocate the name seeds");
	for (size_t q = 0; q < c->n_names && q < ANON_REPORT_MAX_NAMES; q++) {
		if (!c->names[q])
			continue;
		t = *s;
		t.p = (const uint8_t *)c->names[q];
		t.n = strnlen(c->names[q], 1024);
		for (a = 0; a < t.n;) {
			b = letters_end(&t, a);
			if (b == a) {
				a++;
				continue;
			}
			if (s->nseeds == SEEDS_MAX)
				return RF_OK;
			sd = &s->seeds[s->nseeds];
			len = fold_word(&t, a, b, sd->w);
			a = b;
			if (len == SIZE_MAX || len < 2 ||
			    anon__fr_is_stop_word(sd->w, len))
				continue;
			sd->len = len;
			sd->caps_only = anon__fr_is_common_word(sd->w, len);
			s->nseeds++;
		}
	}
	return RF_OK;
}

/* ---- the scan ----------------------------------------------------------- */

#define TRY(rule)                                                             \
	do {                                                                  \
		rc = rule(s, i, adv);                                         \
		if (rc || *adv)                                               \
			return rc;                                            \
	} while (0)

static enum rf_rc try_rules(struct scan *s, size_t i, size_t *adv)
{
	uint8_t b = s->p[i];
	enum rf_rc rc;

	*adv = 0;
	TRY(m_study_id);
	if (b == '+') {
		TRY(m_phone_intl);
		return RF_OK;
	}
	if (is_alnum_ascii(b))
		TRY(m_email);
	if (b >= '0' && b <= '9') {
		TRY(m_nir);
		TRY(m_phone_fr);
		TRY(m_phone_intl);
		TRY(m_date_num);
		TRY(m_date_text);
		TRY(m_age);
		TRY(m_address);
		TRY(m_postcode);
		TRY(m_generic_id);
		return RF_OK;
	}
	if (!letter_at(s, i))
		return RF_OK;
	TRY(m_title);
	TRY(m_name_label);
	TRY(m_id_label);
	TRY(m_month_year);
	TRY(m_street);
	TRY(m_seed_name);
	TRY(m_first_name_caps);
	if (is_alnum_ascii(b))
		TRY(m_generic_id);
	return RF_OK;
}

#undef TRY

static enum rf_rc scan_run(struct scan *s)
{
	size_t i = 0, j, l, adv;
	uint32_t c;
	enum rf_rc rc;

	while (i < s->n) {
		if (!word_before(s, i)) {
			rc = try_rules(s, i, &adv);
			if (rc)
				return rc;
			if (adv) {
				i += adv;
				continue;
			}
		}
		l = u8_dec(s->p, s->n, i, &c);
		if (!l) {
			s->st->bad_bytes++;
			rc = put(s, REPLACEMENT, 3);
			i++;
		} else if (cp_is_word(c)) {
			j = word_end(s, i);
			rc = put_raw(s, i, j);
			i = j;
		} else {
			rc = put_raw(s, i, i + l);
			i += l;
		}
		if (rc)
			return rc;
	}
	return RF_OK;
}

enum rf_rc anon_report_scrub(const struct anon_report_ctx *c, const char *text,
			     size_t n, struct rf_buf *out,
			     struct anon_report_stats *st, struct rf_err *e)
{
	struct anon_report_stats local;
	struct scan s;
	size_t start;
	enum rf_rc rc;

	if (!c || (!text && n) || !out)
		return rf_err_set(e, RF_EINVAL, "cannot scrub report: %s",
				  "missing argument");
	memset(&s, 0, sizeof s);
	s.c = c;
	s.p = (const uint8_t *)text;
	s.n = n;
	s.out = out;
	s.st = st ? st : &local;
	s.e = e;
	memset(s.st, 0, sizeof *s.st);
	start = out->len;
	rc = seeds_build(&s);
	if (!rc)
		rc = scan_run(&s);
	if (s.seeds)
		rf_free_secret(s.seeds, SEEDS_MAX * sizeof *s.seeds);
	if (rc) {
		if (out->data && out->len > start)
			rf_zeroize(out->data + start, out->len - start);
		rf_buf_truncate(out, start);
		if (e)
			(void)rf_err_prefix(e, "cannot scrub report");
		return rc;
	}
	return RF_OK;
}

/* ---- context ------------------------------------------------------------ */

void anon_report_ctx_init(struct anon_report_ctx *c)
{
	memset(c, 0, sizeof *c);
	c->style = ANON_REPORT_STYLE_TAG;
}

enum rf_rc anon_report_ctx_add_name(struct anon_report_ctx *c, const char *pn,
				    struct rf_err *e)
{
	if (!c || !pn)
		return rf_err_set(e, RF_EINVAL, "cannot add name: %s",
				  "missing argument");
	if (c->n_names >= ANON_REPORT_MAX_NAMES)
		return rf_err_set(e, RF_ETOOBIG,
				  "cannot add name: more than %d names",
				  ANON_REPORT_MAX_NAMES);
	c->names[c->n_names++] = pn;
	return RF_OK;
}

enum rf_rc anon_report_ctx_add_id(struct anon_report_ctx *c, const char *id,
				  struct rf_err *e)
{
	if (!c || !id)
		return rf_err_set(e, RF_EINVAL, "cannot add identifier: %s",
				  "missing argument");
	if (strnlen(id, ANON_REPORT_ID_MAX + 1) > ANON_REPORT_ID_MAX)
		return rf_err_set(e, RF_ETOOBIG,
				  "cannot add identifier: longer than %d bytes",
				  ANON_REPORT_ID_MAX);
	if (c->n_ids >= ANON_REPORT_MAX_IDS)
		return rf_err_set(e, RF_ETOOBIG,
				  "cannot add identifier: more than %d",
				  ANON_REPORT_MAX_IDS);
	c->ids[c->n_ids++] = id;
	return RF_OK;
}

const char *anon_report_cat_name(enum anon_report_cat cat)
{
	if ((unsigned)cat >= ANON_REPORT_CAT_COUNT)
		return "unknown";
	return cat_names[cat];
}

const char *anon_report_cat_tag(enum anon_report_cat cat)
{
	if ((unsigned)cat >= ANON_REPORT_CAT_COUNT)
		return "[?]";
	return tags[cat];
}
