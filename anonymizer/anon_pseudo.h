/*
 * anon_pseudo.h - keyed pseudonyms, date shifting and age grouping for the
 * de-identification of DICOM headers and reports.
 *
 * A site keeps one secret of at least 32 random bytes. From it
 * anon_pseudo_create() derives one key per purpose with HKDF-SHA-256
 * (RFC 5869, empty salt):
 *
 *     k_uid  = HKDF(secret, info = "radfed uid v1",  32 bytes)
 *     k_id   = HKDF(secret, info = "radfed id v1",   32 bytes)
 *     k_date = HKDF(secret, info = "radfed date v1", 32 bytes)
 *
 * and every mapping is an HMAC-SHA-256 under one of those keys, so the same
 * secret and input give the same output on every machine, any other secret
 * gives unrelated outputs, and nobody without the secret can invert a
 * pseudonym or recompute one from a guessed identifier. The rules, in
 * detail, are in the comment of each function and in
 * docs/deidentification.md.
 *
 * The date, time and age functions need no key: they are pure functions of
 * their arguments.
 *
 * Output strings go into caller buffers and are NUL-terminated. On failure
 * an output buffer holds the empty string (when out_size > 0), so a
 * half-written value can never be used by mistake.
 *
 * Thread safety: after anon_pseudo_create() returns, a struct anon_pseudo is
 * read-only; any number of threads may use one at once. The other functions
 * have no state.
 *
 * Must not use: anything but libc, rf_alloc, rf_crypto (HKDF) and rf_hmac.
 */
#ifndef ANON_PSEUDO_H
#define ANON_PSEUDO_H

#include <stddef.h>
#include <stdint.h>

#include "rf_err.h"

/* Bounds of the site secret, in bytes. */
#define ANON_PSEUDO_SECRET_MIN 32
#define ANON_PSEUDO_SECRET_MAX 1024

/* Longest UID PS3.5 allows, and a buffer that holds any UID and its NUL. */
#define ANON_UID_MAX  64
#define ANON_UID_SIZE (ANON_UID_MAX + 1)

/* A buffer that holds any identifier pseudonym and its NUL. */
#define ANON_ID_SIZE 18

/* Largest day shift anon_pseudo_day_shift() returns, in absolute value. */
#define ANON_DAY_SHIFT_MAX 3650

/* Per-site keys (opaque). */
struct anon_pseudo;

/* Derives the three keys from secret[0..secret_len). secret_len must be in
 * ANON_PSEUDO_SECRET_MIN..ANON_PSEUDO_SECRET_MAX, else RF_EINVAL. The
 * secret is not kept: the caller still owns (and zeroizes) its copy.
 * Success: *out is a new object, to be freed with anon_pseudo_destroy().
 * Failure (RF_EINVAL, RF_ENOMEM, RF_ECRYPTO): *out is NULL and nothing is
 * left allocated. */
enum rf_rc anon_pseudo_create(const void *secret, size_t secret_len,
			      struct anon_pseudo **out,
			      struct rf_err *e) RF_WUR;

/* Zeroizes the keys and frees p. Accepts NULL. */
void anon_pseudo_destroy(struct anon_pseudo *p);

/* ---- UIDs ---------------------------------------------------------------- */

/* The replacement of a UID (PS3.15 action U), a "2.25." UID (PS3.5 B.2,
 * ITU-T X.667) made from a name-based UUID:
 *
 *   1. v = the UID with its trailing NUL and space padding removed (nothing
 *      else is changed: an empty or malformed UID is an identifier too and
 *      is mapped like any other);
 *   2. h = HMAC-SHA-256(k_uid, v); u = h[0..16) read as a UUID;
 *   3. u becomes an RFC 9562 version 8 (custom) UUID: the high nibble of
 *      u[6] is set to 8 and the two high bits of u[8] to 10 (variant);
 *   4. the result is "2.25." followed by u as one unsigned 128-bit
 *      big-endian integer in decimal, without leading zeros.
 *
 * u < 2^128 = 340282366920938463463374607431768211456 (39 digits), so the
 * result is at most 5 + 39 = 44 characters, well within the 64 of a UI
 * value; the version bits make u >= 2^79, never 0, so the decimal has no
 * leading zero. 122 of its bits come from the HMAC, so two UIDs collide
 * with probability about n^2 / 2^123 among n.
 *
 * uid points to uid_len bytes (no NUL needed; NULL allowed when uid_len is
 * 0). out must hold out_size >= 45 bytes (ANON_UID_SIZE always does), else
 * RF_EINVAL. Failure: RF_EINVAL, RF_ECRYPTO (RF_EINTERNAL if the result
 * were ever not a legal UID). */
enum rf_rc anon_pseudo_uid(const struct anon_pseudo *p, const char *uid,
			   size_t uid_len, char *out, size_t out_size,
			   struct rf_err *e) RF_WUR;

/* 1 when s[0..len) is a legal UID value (PS3.5 9.1): 1..64 characters,
 * components of digits separated by single dots, no empty component and no
 * leading zero in a component of more than one digit; else 0. Padding is
 * not allowed: strip it first. */
int anon_uid_is_valid(const char *s, size_t len);

/* ---- identifiers --------------------------------------------------------- */

/* The kinds of identifier anon_pseudo_id() maps. Each has its own prefix,
 * its own HMAC label (so one value gives unrelated pseudonyms in two kinds)
 * and a length that fits the attribute's VR. */
enum anon_id_kind {
	ANON_ID_PATIENT = 0,   /* PatientID (LO): "P" + 16 characters */
	ANON_ID_OTHER_PATIENT, /* OtherPatientIDs (LO): "Q" + 16 */
	ANON_ID_ACCESSION,     /* AccessionNumber (SH): "A" + 15 */
	ANON_ID_STUDY,         /* StudyID (SH): "S" + 15 */
	ANON_ID_OTHER,         /* any other LO or SH identifier: "X" + 15 */
	ANON_ID_KIND_COUNT_    /* keep last */
};

/* The stable pseudonym of an identifier:
 *
 *   1. v = the value with leading and trailing spaces and trailing NULs
 *      removed (PS3.5: they are not significant in LO and SH);
 *   2. h = HMAC-SHA-256(k_id, label || 0x00 || v), label being the kind's
 *      DICOM keyword ("PatientID", "OtherPatientIDs", "AccessionNumber",
 *      "StudyID") or "Other" for ANON_ID_OTHER;
 *   3. the result is the kind's prefix letter followed by the first 16
 *      (LO kinds: 80 bits) or 15 (SH kinds: 75 bits, so the whole value
 *      fits SH's 16 characters) characters of the base32 encoding of
 *      h[0..10), most significant bit first, in Crockford's alphabet
 *      "0123456789ABCDEFGHJKMNPQRSTVWXYZ" (uppercase, no padding).
 *
 * Among n distinct values of one kind, two share a pseudonym with
 * probability about n^2 / 2^81 (LO) or n^2 / 2^76 (SH): 4e-11 for ten
 * million patients, 1.3e-7 for a hundred million accession numbers.
 *
 * An empty v (an unknown identifier, legal for type 2 attributes) stays
 * empty: giving every unknown patient one shared pseudonym would merge them.
 *
 * value points to len bytes (NULL allowed when len is 0). out must hold
 * out_size >= ANON_ID_SIZE bytes, else RF_EINVAL, as for an unknown kind.
 * Failure: RF_EINVAL, RF_ECRYPTO, RF_ENOMEM (only values of more than 200
 * bytes need a heap copy; LO values have at most 64 characters). */
enum rf_rc anon_pseudo_id(const struct anon_pseudo *p, enum anon_id_kind kind,
			  const char *value, size_t len, char *out,
			  size_t out_size, struct rf_err *e) RF_WUR;

/* ---- dates --------------------------------------------------------------- */

/* The day shift of one patient, the same for every file of that patient:
 *
 *   v = the original PatientID, normalised as in anon_pseudo_id();
 *   h = HMAC-SHA-256(k_date, "PatientID" || 0x00 || v);
 *   *days = -(1 + (h[0..8) as a big-endian uint64) mod 3650),
 *
 * so -3650 <= *days <= -1: every date of the patient moves between one day
 * and about ten years into the past. Intervals between the patient's dates
 * are kept (follow-up, age at study to within the shift), the true dates
 * are hidden, and no date ever lands in the future. The modulo bias is
 * below 2^-52. The original PatientID (not its pseudonym) is keyed, so the
 * shift does not change if the pseudonym format ever does. An empty
 * PatientID gets a shift like any other value.
 *
 * Failure: RF_EINVAL (NULL with len > 0), RF_ECRYPTO, RF_ENOMEM (values
 * of more than 200 bytes only); *days is then 0. */
enum rf_rc anon_pseudo_day_shift(const struct anon_pseudo *p,
				 const char *patient_id, size_t len, int *days,
				 struct rf_err *e) RF_WUR;

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (any year;
 * H. Hinnant's algorithm), and back (|z| < 2^31 so the year fits an int).
 * Pure; no validation: callers check the date first (anon_date_is_valid).
 * The one calendar of anonymizer/. */
int64_t anon_days_from_civil(int64_t y, int m, int d);
void anon_civil_from_days(int64_t z, int *y, int *m, int *d);

/* 1 when y-m-d is a date of the proleptic Gregorian calendar with
 * 1 <= y <= 9999 (leap years: divisible by 4, except centuries not
 * divisible by 400: 1900 is not, 2000 is), else 0. */
int anon_date_is_valid(int y, int m, int d);

/* Adds days (negative: into the past) to the date y-m-d of the proleptic
 * Gregorian calendar and writes the result to *oy, *om, *od. RF_EINVAL
 * when the date is not valid (anon_date_is_valid) or the result falls
 * outside the years 0001-9999; the outputs are then untouched. */
enum rf_rc anon_date_add_days(int y, int m, int d, long days, int *oy, int *om,
			      int *od, struct rf_err *e) RF_WUR;

/*
 * The functions below take one DICOM value in[0..in_len) as stored in a
 * data set: possibly several values separated by backslashes, possibly
 * padded with trailing spaces or a NUL. They remove that padding (of the
 * whole value and of each component), process each component and write the
 * components back joined by backslashes, without padding (the writer adds
 * it). An empty value, or an empty component, stays empty. The output is
 * never longer than the input, so out_size >= in_len + 1 always suffices;
 * a shorter buffer that cannot hold the result is RF_EINVAL. A malformed
 * component makes the whole call fail with RF_EINVAL and a message giving
 * its position, so the caller can replace the value with a dummy. Error
 * messages never quote the value: a date of birth is itself identifying.
 */

/* DA: each component "YYYYMMDD" (or the ACR-NEMA form "YYYY.MM.DD", written
 * back as "YYYYMMDD") is moved by days. Malformed: any other length or
 * character, an impossible date ("20240230"), a result outside 0001-9999.
 * Query ranges ("20240101-20240131") are not values and are malformed. */
enum rf_rc anon_da_shift(const char *in, size_t in_len, long days, char *out,
			 size_t out_size, struct rf_err *e) RF_WUR;

/* DT: each component "YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX]" (& is + or
 * -) has its date part moved by days; the time, the fraction and the UTC
 * offset are copied unchanged, and so is the precision: a component
 * without a day (or month) is moved as if it were the first day (first
 * month) of its period and cut back to its precision, so "2024" moved by
 * -1 day is "2023". Malformed: hours over 23, minutes over 59, seconds
 * over 60, a fraction of 0 or more than 6 digits or without seconds, an
 * offset outside -1200..+1400 or with minutes over 59, any other text. */
enum rf_rc anon_dt_shift(const char *in, size_t in_len, long days, char *out,
			 size_t out_size, struct rf_err *e) RF_WUR;

/* TM: times of day are not changed by a day shift (PS3.15 Retain
 * Longitudinal Temporal Information with Modified Dates keeps them), so
 * this only checks that every component is "HH[MM[SS[.F{1,6}]]]" (or the
 * ACR-NEMA "HH:MM[:SS[.F{1,6}]]") with the ranges of DT. RF_OK or
 * RF_EINVAL; nothing is written. */
enum rf_rc anon_tm_check(const char *in, size_t in_len,
			 struct rf_err *e) RF_WUR;

/* ---- ages ---------------------------------------------------------------- */

/* AS: an age "nnnD", "nnnW", "nnnM" or "nnnY" (three digits). Ages of 90
 * years and over (PS3.15 and HIPAA Safe Harbor group them: so few people
 * are that old that the exact age identifies) become "090Y"; every other
 * age is copied unchanged. Only the Y unit can reach 90 years: the largest
 * age in months, 999M, is 83 years, and 999W and 999D are less. One value
 * (VM 1), trailing spaces and NUL removed; empty stays empty. Malformed
 * (RF_EINVAL): any other text. out must hold out_size >= 5 bytes. */
enum rf_rc anon_as_group(const char *in, size_t in_len, char *out,
			 size_t out_size, struct rf_err *e) RF_WUR;

#endif
