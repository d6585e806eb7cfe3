/*
 * anon_pseudo.c - keyed pseudonyms, date shifting and age grouping (see
 * anon_pseudo.h and docs/deidentification.md for the rules).
 */
#include "anon_pseudo.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rf_alloc.h"
#include "rf_crypto.h"
#include "rf_hmac.h"

#define KEY_LEN 32
/* "2.25." and at most 39 digits (2^128 - 1 has 39), and the NUL */
#define UID_OUT_MIN 45

/* The three keys, each with its HMAC key schedule done once: a UID costs
 * one copy of the keyed state rather than a fresh key schedule. */
struct anon_pseudo {
	struct rf_hmac_key *k_uid;
	struct rf_hmac_key *k_id;
	struct rf_hmac_key *k_date;
};

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

struct id_kind_info {
	const char *label; /* HMAC label: the DICOM keyword */
	char prefix;
	unsigned chars; /* base32 characters after the prefix */
};

static const struct id_kind_info id_kinds[ANON_ID_KIND_COUNT_] = {
	[ANON_ID_PATIENT] = { "PatientID", 'P', 16 },
	[ANON_ID_OTHER_PATIENT] = { "OtherPatientIDs", 'Q', 16 },
	[ANON_ID_ACCESSION] = { "AccessionNumber", 'A', 15 },
	[ANON_ID_STUDY] = { "StudyID", 'S', 15 },
	[ANON_ID_OTHER] = { "Other", 'X', 15 },
};

static void set_empty(char *out, size_t out_size)
{
	if (out && out_size > 0)
		out[0] = '\0';
}

/* ---- keys ---------------------------------------------------------------- */

enum rf_rc anon_pseudo_create(const void *secret, size_t secret_len,
			      struct anon_pseudo **out, struct rf_err *e)
{
	static const char info_uid[] = "radfed uid v1";
	static const char info_id[] = "radfed id v1";
	static const char info_date[] = "radfed date v1";
	struct anon_pseudo *p = NULL;
	uint8_t k[KEY_LEN];
	enum rf_rc rc;

	*out = NULL;
	if (!secret || secret_len < ANON_PSEUDO_SECRET_MIN ||
	    secret_len > ANON_PSEUDO_SECRET_MAX)
		return rf_err_set(
		    e, RF_EINVAL, "site secret of %zu bytes: want %d to %d",
		    secret_len, ANON_PSEUDO_SECRET_MIN, ANON_PSEUDO_SECRET_MAX);
	p = rf_calloc(1, sizeof *p);
	if (!p)
		return rf_err_set(e, RF_ENOMEM,
				  "cannot allocate the pseudonym keys");
	rc = rf_hkdf_sha256(NULL, 0, secret, secret_len, info_uid,
			    sizeof info_uid - 1, k, KEY_LEN, e);
	if (!rc)
		rc = rf_hmac_key_create(k, KEY_LEN, &p->k_uid, e);
	if (!rc)
		rc = rf_hkdf_sha256(NULL, 0, secret, secret_len, info_id,
				    sizeof info_id - 1, k, KEY_LEN, e);
	if (!rc)
		rc = rf_hmac_key_create(k, KEY_LEN, &p->k_id, e);
	if (!rc)
		rc = rf_hkdf_sha256(NULL, 0, secret, secret_len, info_date,
				    sizeof info_date - 1, k, KEY_LEN, e);
	if (!rc)
		rc = rf_hmac_key_create(k, KEY_LEN, &p->k_date, e);
	rf_zeroize(k, sizeof k);
	if (rc)
		goto fail;
	*out = p;
	return RF_OK;
fail:
	anon_pseudo_destroy(p);
	return rc;
}

void anon_pseudo_destroy(struct anon_pseudo *p)
{
	if (!p)
		return;
	rf_hmac_key_destroy(p->k_uid);
	rf_hmac_key_destroy(p->k_id);
	rf_hmac_key_destroy(p->k_date);
	rf_free_secret(p, sizeof *p);
}

/* ---- UIDs ---------------------------------------------------------------- */

/* Writes the 128-bit big-endian integer u in decimal, without leading
 * zeros, into dig (at least 40 bytes); returns the number of digits. The
 * number is divided by 10^9 as four 32-bit words (five rounds of four
 * 64-bit divisions) rather than by 10 byte by byte (39 rounds of sixteen):
 * it runs for every UID of every file. */
static size_t u128_decimal(const uint8_t u[16], char *dig)
{
	uint32_t w[4];
	uint32_t chunk[5]; /* base 10^9 digits, least significant first */
	char rev[45];
	size_t k = 0, nc = 0, i;
	int nonzero, d;

	for (i = 0; i < 4; i++)
		w[i] = (uint32_t)u[4 * i] << 24 | (uint32_t)u[4 * i + 1] << 16 |
		       (uint32_t)u[4 * i + 2] << 8 | u[4 * i + 3];
	do {
		uint64_t rem = 0;

		nonzero = 0;
		for (i = 0; i < 4; i++) {
			uint64_t cur = rem << 32 | w[i];

			w[i] = (uint32_t)(cur / 1000000000u);
			rem = cur % 1000000000u;
			nonzero |= w[i] != 0;
		}
		chunk[nc++] = (uint32_t)rem;
	} while (nonzero && nc < 5);
	/* 2^128 < 10^45: at most five chunks, each nine digits */
	for (i = 0; i < nc; i++)
		for (d = 0; d < 9; d++) {
			rev[k++] = (char)('0' + chunk[i] % 10);
			chunk[i] /= 10;
		}
	while (k > 1 && rev[k - 1] == '0')
		k--;
	for (i = 0; i < k; i++)
		dig[i] = rev[k - 1 - i];
	return k;
}

int anon_uid_is_valid(const char *s, size_t len)
{
	size_t comp = 0; /* length of the current component */

	if (!s || len == 0 || len > ANON_UID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (comp == 0)
				return 0;
			comp = 0;
		} else if (s[i] >= '0' && s[i] <= '9') {
			/* a second digit after a leading '0' */
			if (comp == 1 && s[i - 1] == '0')
				return 0;
			comp++;
		} else {
			return 0;
		}
	}
	return comp > 0;
}

enum rf_rc anon_pseudo_uid(const struct anon_pseudo *p, const char *uid,
			   size_t uid_len, char *out, size_t out_size,
			   struct rf_err *e)
{
	static const char root[] = "2.25.";
	uint8_t h[RF_HMAC_SHA256_LEN];
	char dig[40];
	size_t n, len;
	enum rf_rc rc;

	set_empty(out, out_size);
	if (!out || out_size < UID_OUT_MIN)
		return rf_err_set(e, RF_EINVAL,
				  "uid: output buffer of %zu bytes, need %d",
				  out ? out_size : 0, UID_OUT_MIN);
	if (!uid && uid_len)
		return rf_err_set(e, RF_EINVAL, "uid: NULL value");
	while (uid_len > 0 &&
	       (uid[uid_len - 1] == '\0' || uid[uid_len - 1] == ' '))
		uid_len--;
	rc = rf_hmac_key_mac(p->k_uid, uid, uid_len, NULL, 0, h, e);
	if (rc)
		goto out;
	h[6] = (uint8_t)((h[6] & 0x0f) | 0x80); /* version 8 */
	h[8] = (uint8_t)((h[8] & 0x3f) | 0x80); /* variant 10 */
	n = u128_decimal(h, dig);
	len = sizeof root - 1 + n; /* <= 5 + 39 < UID_OUT_MIN */
	memcpy(out, root, sizeof root - 1);
	memcpy(out + sizeof root - 1, dig, n);
	out[len] = '\0';
	if (!anon_uid_is_valid(out, len)) {
		set_empty(out, out_size);
		rc = rf_err_set(e, RF_EINTERNAL, "uid: made an invalid uid");
	}
out:
	rf_zeroize(h, sizeof h);
	return rc;
}

/* ---- identifiers --------------------------------------------------------- */

/* Removes leading spaces and trailing spaces and NULs. */
static void trim_lo(const char **v, size_t *len)
{
	const char *s = *v;
	size_t n = *len;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0'))
		n--;
	while (n > 0 && s[0] == ' ') {
		s++;
		n--;
	}
	*v = s;
	*len = n;
}

/* HMAC-SHA-256(key, label || 0x00 || v[0..len)) into h. */
static enum rf_rc labelled_hmac(const struct rf_hmac_key *key,
				const char *label, const char *v, size_t len,
				uint8_t h[RF_HMAC_SHA256_LEN], struct rf_err *e)
{
	return rf_hmac_key_mac(key, label, strlen(label) + 1, v, len, h, e);
}

enum rf_rc anon_pseudo_id(const struct anon_pseudo *p, enum anon_id_kind kind,
			  const char *value, size_t len, char *out,
			  size_t out_size, struct rf_err *e)
{
	const struct id_kind_info *ki;
	uint8_t h[RF_HMAC_SHA256_LEN];
	enum rf_rc rc;

	set_empty(out, out_size);
	if ((unsigned)kind >= ANON_ID_KIND_COUNT_)
		return rf_err_set(e, RF_EINVAL, "unknown identifier kind %d",
				  (int)kind);
	ki = &id_kinds[kind];
	if (out_size < ANON_ID_SIZE)
		return rf_err_set(e, RF_EINVAL,
				  "%s: output buffer of %zu bytes, need %d",
				  ki->label, out_size, ANON_ID_SIZE);
	if (!value && len)
		return rf_err_set(e, RF_EINVAL, "%s: NULL value", ki->label);
	trim_lo(&value, &len);
	if (len == 0)
		return RF_OK;
	rc = labelled_hmac(p->k_id, ki->label, value, len, h, e);
	if (rc)
		goto out;
	/* base32 of h[0..10), 5 bits at a time, most significant first */
	out[0] = ki->prefix;
	for (unsigned i = 0; i < ki->chars; i++) {
		unsigned bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned w = ((unsigned)h[byte] << 8) | h[byte + 1];

		out[1 + i] = crockford[(w >> (11 - shift)) & 0x1f];
	}
	out[1 + ki->chars] = '\0';
out:
	rf_zeroize(h, sizeof h);
	return rc;
}

/* ---- dates --------------------------------------------------------------- */

enum rf_rc anon_pseudo_day_shift(const struct anon_pseudo *p,
				 const char *patient_id, size_t len, int *days,
				 struct rf_err *e)
{
	uint8_t h[RF_HMAC_SHA256_LEN];
	uint64_t v = 0;
	enum rf_rc rc;

	*days = 0;
	if (!patient_id && len)
		return rf_err_set(e, RF_EINVAL, "PatientID: NULL value");
	trim_lo(&patient_id, &len);
	rc = labelled_hmac(p->k_date, "PatientID", patient_id, len, h, e);
	if (rc)
		goto out;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | h[i];
	*days = -(int)(1 + v % ANON_DAY_SHIFT_MAX);
out:
	rf_zeroize(h, sizeof h);
	return rc;
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const unsigned char mdays[12] = { 31, 28, 31, 30, 31, 30,
						 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

int anon_date_is_valid(int y, int m, int d)
{
	if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
		return 0;
	return d <= month_days(y, m);
}

int64_t anon_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void anon_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

enum rf_rc anon_date_add_days(int y, int m, int d, long days, int *oy, int *om,
			      int *od, struct rf_err *e)
{
	/* 0001-01-01 and 9999-12-31 as days since 1970-01-01 */
	const long lo = -719162, hi = 2932896;
	int64_t z;
	int ry, rm, rd;

	if (!anon_date_is_valid(y, m, d))
		return rf_err_set(e, RF_EINVAL, "not a calendar date");
	z = anon_days_from_civil(y, m, d);
	if (days < lo - z || days > hi - z)
		return rf_err_set(e, RF_EINVAL,
				  "date moved by %ld days leaves the years "
				  "0001-9999",
				  days);
	anon_civil_from_days(z + days, &ry, &rm, &rd);
	*oy = ry;
	*om = rm;
	*od = rd;
	return RF_OK;
}

/* ---- DICOM values -------------------------------------------------------- */

/* The parts of one DA/DT/TM component. */
struct dtm {
	int y, mo, d, h, mi, s;
	int n_date;       /* date fields present: 0..3 (Y, M, D) */
	const char *rest; /* what follows the date (time, offset), copied */
	size_t rest_len;
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads n digits at s; -1 when one is not a digit. */
static int digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Checks "HH[MM[SS[.F{1,6}]]]" at s[0..n), or with acr set the ACR-NEMA
 * "HH:MM[:SS[.F{1,6}]]". Returns 1 when valid. */
static int time_ok(const char *s, size_t n, int acr)
{
	static const int max[3] = { 23, 59, 60 };
	size_t i = 0;

	for (int k = 0; k < 3; k++) {
		int v;

		if (i == n)
			return k > 0; /* at least HH */
		if (k > 0 && acr) {
			if (s[i] != ':')
				return 0;
			i++;
		}
		if (n - i < 2)
			return 0;
		v = digits(s + i, 2);
		if (v < 0 || v > max[k])
			return 0;
		i += 2;
		if (k < 2 && acr && i < n && s[i] == '.')
			return 0;
	}
	if (i == n)
		return 1;
	if (s[i] != '.')
		return 0;
	i++;
	if (n - i < 1 || n - i > 6)
		return 0;
	return digits(s + i, n - i) >= 0;
}

/* Checks an "&ZZXX" offset at s[0..n) (n == 5). */
static int offset_ok(const char *s, size_t n)
{
	int hh, mm, minutes;

	if (n != 5 || (s[0] != '+' && s[0] != '-'))
		return 0;
	hh = digits(s + 1, 2);
	mm = digits(s + 3, 2);
	if (hh < 0 || mm < 0 || mm > 59)
		return 0;
	minutes = hh * 60 + mm;
	return s[0] == '+' ? minutes <= 14 * 60 : minutes <= 12 * 60;
}

static int parse_da(const char *s, size_t n, struct dtm *t)
{
	memset(t, 0, sizeof *t);
	if (n == 10 && s[4] == '.' && s[7] == '.') {
		t->y = digits(s, 4);
		t->mo = digits(s + 5, 2);
		t->d = digits(s + 8, 2);
	} else if (n == 8) {
		t->y = digits(s, 4);
		t->mo = digits(s + 4, 2);
		t->d = digits(s + 6, 2);
	} else {
		return 0;
	}
	t->n_date = 3;
	return anon_date_is_valid(t->y, t->mo, t->d);
}

static int parse_dt(const char *s, size_t n, struct dtm *t)
{
	const char *amp;
	size_t body, i;

	memset(t, 0, sizeof *t);
	amp = memchr(s, '+', n);
	if (!amp)
		amp = memchr(s, '-', n);
	body = amp ? (size_t)(amp - s) : n;
	if (amp && !offset_ok(amp, n - body))
		return 0;
	if (body < 4)
		return 0;
	t->y = digits(s, 4);
	t->mo = 1;
	t->d = 1;
	t->n_date = 1;
	i = 4;
	if (body >= 6) {
		t->mo = digits(s + 4, 2);
		t->n_date = 2;
		i = 6;
	}
	if (body >= 8) {
		t->d = digits(s + 6, 2);
		t->n_date = 3;
		i = 8;
	}
	if (body == 5 || body == 7)
		return 0;
	if (!anon_date_is_valid(t->y, t->mo, t->d))
		return 0;
	if (body > 8 && !time_ok(s + 8, body - 8, 0))
		return 0;
	t->rest = s + i;
	t->rest_len = n - i;
	return 1;
}

static int parse_tm(const char *s, size_t n)
{
	if (n >= 3 && s[2] == ':')
		return time_ok(s, n, 1);
	return time_ok(s, n, 0);
}

enum vr_kind { VR_DA, VR_DT, VR_TM };

static const char *vr_name(enum vr_kind vr)
{
	return vr == VR_DA ? "DA" : vr == VR_DT ? "DT" : "TM";
}

/* Splits in into components and shifts (DA, DT) or checks (TM, out NULL)
 * each one. */
static enum rf_rc shift_value(enum vr_kind vr, const char *in, size_t in_len,
			      long days, char *out, size_t out_size,
			      struct rf_err *e)
{
	size_t pos = 0, w = 0, index = 0;

	set_empty(out, out_size);
	if (!in && in_len)
		return rf_err_set(e, RF_EINVAL, "%s: NULL value", vr_name(vr));
	if (vr != VR_TM && (!out || out_size == 0))
		return rf_err_set(e, RF_EINVAL, "%s: no output buffer",
				  vr_name(vr));
	while (in_len > 0 && (in[in_len - 1] == ' ' || in[in_len - 1] == '\0'))
		in_len--;
	while (pos <= in_len && in_len > 0) {
		const char *c = in + pos;
		const char *bs = memchr(c, '\\', in_len - pos);
		size_t n = bs ? (size_t)(bs - c) : in_len - pos;
		size_t cn = n;
		struct dtm t;
		char date[9];
		int ok, y, mo, d;
		size_t dn;

		while (cn > 0 && c[cn - 1] == ' ')
			cn--;
		if (out && index > 0) {
			if (w + 1 >= out_size)
				goto too_small;
			out[w++] = '\\';
		}
		if (cn > 0) {
			if (vr == VR_TM)
				ok = parse_tm(c, cn);
			else if (vr == VR_DA)
				ok = parse_da(c, cn, &t);
			else
				ok = parse_dt(c, cn, &t);
			if (!ok) {
				set_empty(out, out_size);
				return rf_err_set(e, RF_EINVAL,
						  "malformed %s: value %zu",
						  vr_name(vr), index + 1);
			}
		}
		if (cn > 0 && vr != VR_TM) {
			if (anon_date_add_days(t.y, t.mo, t.d, days, &y, &mo,
					       &d, NULL)) {
				set_empty(out, out_size);
				return rf_err_set(e, RF_EINVAL,
						  "%s: value %zu moved by %ld "
						  "days leaves the years "
						  "0001-9999",
						  vr_name(vr), index + 1, days);
			}
			snprintf(date, sizeof date, "%04d%02d%02d", y, mo, d);
			dn = (size_t)t.n_date * 2 + 2; /* 4, 6 or 8 */
			if (w + dn + t.rest_len >= out_size)
				goto too_small;
			memcpy(out + w, date, dn);
			w += dn;
			if (t.rest_len) {
				memcpy(out + w, t.rest, t.rest_len);
				w += t.rest_len;
			}
		}
		index++;
		if (!bs)
			break;
		pos += n + 1;
	}
	if (out)
		out[w] = '\0';
	return RF_OK;
too_small:
	set_empty(out, out_size);
	return rf_err_set(e, RF_EINVAL,
			  "%s: output buffer of %zu bytes is "
			  "too small",
			  vr_name(vr), out_size);
}

enum rf_rc anon_da_shift(const char *in, size_t in_len, long days, char *out,
			 size_t out_size, struct rf_err *e)
{
	return shift_value(VR_DA, in, in_len, days, out, out_size, e);
}

enum rf_rc anon_dt_shift(const char *in, size_t in_len, long days, char *out,
			 size_t out_size, struct rf_err *e)
{
	return shift_value(VR_DT, in, in_len, days, out, out_size, e);
}

enum rf_rc anon_tm_check(const char *in, size_t in_len, struct rf_err *e)
{
	return shift_value(VR_TM, in, in_len, 0, NULL, 0, e);
}

/* ---- ages ---------------------------------------------------------------- */

enum rf_rc anon_as_group(const char *in, size_t in_len, char *out,
			 size_t out_size, struct rf_err *e)
{
	int n;

	set_empty(out, out_size);
	if (!in && in_len)
		return rf_err_set(e, RF_EINVAL, "AS: NULL value");
	while (in_len > 0 && (in[in_len - 1] == ' ' || in[in_len - 1] == '\0'))
		in_len--;
	if (!out || out_size < 5)
		return rf_err_set(e, RF_EINVAL,
				  "AS: output buffer of %zu bytes, need 5",
				  out ? out_size : 0);
	if (in_len == 0)
		return RF_OK;
	n = in_len == 4 ? digits(in, 3) : -1;
	if (n < 0 ||
	    (in[3] != 'D' && in[3] != 'W' && in[3] != 'M' && in[3] != 'Y'))
		return rf_err_set(e, RF_EINVAL, "malformed AS");
	if (in[3] == 'Y' && n >= 90)
		memcpy(out, "090Y", 5);
	else {
		memcpy(out, in, 4);
		out[4] = '\0';
	}
	return RF_OK;
}
