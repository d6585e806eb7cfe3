/*
 * anon_report.h - the de-identification of French radiology reports.
 *
 * anon_report_scrub() copies a UTF-8 report into a capped struct rf_buf and
 * replaces what identifies a person on the way:
 *
 *   names        the seeds of the linked DICOM header (PN values split into
 *                components), names after titles ("Dr", "Mme", ...) or
 *                header labels ("Patient :"), and a known first name next to
 *                an all-capitals word                        -> "[NOM]"
 *   NIR          social security numbers with a valid key   -> "[NIR]"
 *   identifiers  the study's own identifiers, labelled ones ("IPP", "NDA",
 *                "N° de dossier", "ID"), long digit runs    -> "[ID]"
 *   phones       French and international numbers           -> "[TEL]"
 *   e-mail                                                   -> "[EMAIL]"
 *   addresses    "12 bis rue des Lilas", "place de la Gare" -> "[ADRESSE]"
 *   postal codes "75013 Paris", "13005 MARSEILLE CEDEX"     -> "[CP VILLE]"
 *   dates        shifted by the patient's shift and written back in the
 *                same format; impossible dates              -> "[DATE]"
 *   ages         90 and over                       -> "90 ans ou plus"
 *
 * Everything else (findings, measurements, anatomy, negations) is copied
 * byte for byte. A day and month without a year ("le 12 mars") is shifted
 * within a common year.
 *
 * Known gaps: a numeric day and month without a year ("le 12/03") is kept,
 * being too close to a ratio; a surname that is neither a seed nor next to
 * a title, a label or a known given name is kept; an everyday-word seed
 * ("PETIT") counts only in capitals or next to another seed, so that
 * "petit nodule" survives.
 *
 * The scanner is hand-written: every rule looks at a bounded window, so the
 * time is linear in the input and the memory is the output plus a small
 * table of seeds. Bytes that are not valid UTF-8 (and NUL) are
 * replaced by U+FFFD, so the output is always valid UTF-8.
 *
 * Must not use: regular-expression libraries, locale functions, anything
 * but libc, rf_alloc and rf_buf.
 */
#ifndef ANON_REPORT_H
#define ANON_REPORT_H

#include <stddef.h>

#include "rf_buf.h"
#include "rf_err.h"

/* What a replacement was, in the order of anon_report_stats.count. */
enum anon_report_cat {
	ANON_REPORT_NAME = 0,
	ANON_REPORT_NIR,
	ANON_REPORT_ID,
	ANON_REPORT_PHONE,
	ANON_REPORT_EMAIL,
	ANON_REPORT_ADDRESS,
	ANON_REPORT_CITY, /* postal code and city */
	ANON_REPORT_DATE,
	ANON_REPORT_AGE,
	ANON_REPORT_CAT_COUNT
};

/* How replacements read. */
enum anon_report_style {
	ANON_REPORT_STYLE_TAG = 0, /* one tag per category: "[NOM]", "[TEL]" */
	ANON_REPORT_STYLE_GENERIC  /* "[***]" whatever the category */
};

#define ANON_REPORT_MAX_NAMES 16 /* PN values per report */
#define ANON_REPORT_MAX_IDS 16   /* study identifiers per report */
#define ANON_REPORT_ID_MAX 64    /* longest study identifier, in bytes */

/*
 * The seeds of one report. All strings are borrowed: they must outlive every
 * anon_report_scrub() call that uses the context. A context is plain data
 * and may be shared by threads once filled.
 */
struct anon_report_ctx {
	/* PN values, "FAMILY^Given^Middle^Prefix^Suffix" (DICOM PS3.5), or
	 * plain "Given Family" text: patient, referring, performing and
	 * reading physicians, operators. */
	const char *names[ANON_REPORT_MAX_NAMES];
	size_t n_names;
	/* PatientID, AccessionNumber, other identifiers: removed wherever
	 * they appear as a whole token (case-insensitive). Identifiers shorter
	 * than 3 bytes are ignored. */
	const char *ids[ANON_REPORT_MAX_IDS];
	size_t n_ids;
	/* Added to every date, in days; may be negative. */
	int date_shift_days;
	enum anon_report_style style;
};

struct anon_report_stats {
	size_t count[ANON_REPORT_CAT_COUNT]; /* replacements per category */
	size_t dates_invalid; /* of count[ANON_REPORT_DATE]: "[DATE]" */
	size_t bad_bytes;     /* invalid UTF-8 sequences and NULs replaced */
};

/* An empty context: no seeds, no date shift, tag style. */
void anon_report_ctx_init(struct anon_report_ctx *c);

/* Adds a PN value (borrowed). RF_ETOOBIG when ANON_REPORT_MAX_NAMES are
 * already there, RF_EINVAL when pn is NULL; c is unchanged on failure.
 * Not thread-safe. */
enum rf_rc anon_report_ctx_add_name(struct anon_report_ctx *c, const char *pn,
				    struct rf_err *e) RF_WUR;

/* Adds a study identifier (borrowed). RF_ETOOBIG when the table is full or
 * id is longer than ANON_REPORT_ID_MAX bytes, RF_EINVAL when id is NULL; c
 * is unchanged on failure. Not thread-safe. */
enum rf_rc anon_report_ctx_add_id(struct anon_report_ctx *c, const char *id,
				  struct rf_err *e) RF_WUR;

/*
 * Appends the de-identified form of text[0..n) to out; text is not modified
 * and need not be NUL-terminated. st (may be NULL) is overwritten with the
 * replacement counts.
 *
 * Fails with RF_ETOOBIG when the output would exceed out's cap, RF_ENOMEM on
 * allocation failure, RF_EINVAL on NULL arguments. On failure out is back
 * to its length before the call (the bytes written meanwhile are zeroized)
 * and *st is unspecified.
 *
 * Thread-safe for distinct out buffers: the context is only read.
 */
enum rf_rc anon_report_scrub(const struct anon_report_ctx *c, const char *text,
			     size_t n, struct rf_buf *out,
			     struct anon_report_stats *st, struct rf_err *e)
	RF_WUR;

/* A static lowercase name of the category ("name", "nir", ...). */
const char *anon_report_cat_name(enum anon_report_cat cat);

/* The tag that replaces the category in ANON_REPORT_STYLE_TAG ("[NOM]").
 * Dates and ages are rewritten, their tags ("[DATE]", "90 ans ou plus")
 * appear only for impossible dates and for ages over 89. */
const char *anon_report_cat_tag(enum anon_report_cat cat);

#endif
