/*
 * anon_textgen.h - synthetic French radiology reports with planted
 * identifiers, to measure the report scrubber and to feed demonstrations.
 *
 * A generator is a xoshiro256** stream seeded through splitmix64: the same
 * seed gives the same reports, byte for byte, on every platform. Each
 * report (CT, MR or radiograph) has a header (patient name, birth date, IPP,
 * NIR, accession number, address, phone, e-mail, referring physician), an
 * indication, a technique, findings and a conclusion, and a signature. The
 * document lists every identifier it planted (category, byte offset,
 * length) and every clinical sentence, which must survive scrubbing
 * unchanged; it also carries the DICOM-side seeds (PN values, identifiers,
 * a date shift) that a real site would take from the linked images.
 *
 * All names, numbers and addresses are drawn at random from invented or
 * very common values; NIR keys are computed so that they are valid, and any
 * match with a real person is chance.
 *
 * Must not use: rand() or any global state, anything but libc, rf_alloc,
 * rf_buf and the report scrubber's categories.
 */
#ifndef ANON_TEXTGEN_H
#define ANON_TEXTGEN_H

#include <stddef.h>
#include <stdint.h>

#include "anon_report.h"
#include "rf_buf.h"
#include "rf_err.h"

#define ANON_TEXTGEN_MAX_SPANS 96
#define ANON_TEXTGEN_MAX_SENTENCES 64
#define ANON_TEXTGEN_FIELD_MAX 96

struct anon_textgen {
	uint64_t s[4]; /* xoshiro256** state */
};

/* One planted identifier, or one clinical sentence (cat unused). */
struct anon_textgen_span {
	enum anon_report_cat cat;
	size_t off; /* byte offset in the text */
	size_t len; /* bytes */
};

struct anon_textgen_doc {
	struct rf_buf text; /* the report, UTF-8 */
	struct anon_textgen_span spans[ANON_TEXTGEN_MAX_SPANS];
	size_t n_spans;
	struct anon_textgen_span sentences[ANON_TEXTGEN_MAX_SENTENCES];
	size_t n_sentences;
	/* seeds as the linked DICOM header would give them */
	char patient_pn[ANON_TEXTGEN_FIELD_MAX];   /* "DUPONT^Jean" */
	char referring_pn[ANON_TEXTGEN_FIELD_MAX];
	char reading_pn[ANON_TEXTGEN_FIELD_MAX];
	char operator_pn[ANON_TEXTGEN_FIELD_MAX];
	char patient_id[ANON_TEXTGEN_FIELD_MAX];
	char accession[ANON_TEXTGEN_FIELD_MAX];
	int date_shift_days; /* 40..300 days either way */
	const char *modality; /* "CT", "MR" or "CR" (static) */
};

/* Seeds the generator. Never fails. */
void anon_textgen_init(struct anon_textgen *g, uint64_t seed);

/* The next 64 random bits. */
uint64_t anon_textgen_next(struct anon_textgen *g);

/* An empty document whose text will never exceed max bytes. */
void anon_textgen_doc_init(struct anon_textgen_doc *d, size_t max);

/* Frees the text (zeroized) and empties the document. Accepts NULL. */
void anon_textgen_doc_release(struct anon_textgen_doc *d);

/*
 * Replaces the content of d with the next report of g. RF_ENOMEM or
 * RF_ETOOBIG (the text cap) on failure, leaving d empty but reusable; g
 * has advanced either way. Not thread-safe for the same g or d.
 */
enum rf_rc anon_textgen_report(struct anon_textgen *g,
			       struct anon_textgen_doc *d, struct rf_err *e)
	RF_WUR;

/* Fills c with d's seeds (borrowed from d: valid until d changes). */
void anon_textgen_ctx(const struct anon_textgen_doc *d,
		      struct anon_report_ctx *c);

#endif
