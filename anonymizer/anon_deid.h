/*
 * anon_deid.h - the de-identification engine: PS3.15 Annex E, Basic
 * Application Level Confidentiality Profile with options, applied to a
 * parsed DICOM file in memory.
 *
 * anon_deid_apply() runs in two passes over a struct anon_dicom:
 *
 *   1. it reads everything and changes nothing: the names (every PN value)
 *      and identifiers (PatientID, OtherPatientIDs, AccessionNumber,
 *      StudyID) that seed the text scrubber, the patient's day shift (keyed
 *      by the ORIGINAL PatientID), and whether the image must be quarantined
 *      (burned-in text that no configured mask covers, an encapsulated
 *      document, a DICOMDIR, too many names to scrub);
 *   2. unless quarantined, it applies the action of every element, sequences
 *      included, masks burned-in text when a region is configured, and adds
 *      the de-identification markers (0012,0062), (0012,0063), (0012,0064)
 *      and (0028,0303).
 *
 * How each element's action is resolved (Table E.1-1, option precedence,
 * combined codes, the free-text stance for attributes the table does not
 * list, private attributes, overlays) is documented in
 * docs/deidentification.md, section "The profile engine".
 *
 * The engine never touches files and never prints. It keeps no global
 * state: distinct files may be processed concurrently, each by one thread,
 * sharing one configuration (read-only) and one struct anon_pseudo.
 *
 * Must not use: anything but libc, rf_alloc, rf_buf, rf_err and the other
 * anonymizer/ modules (anon_dicom, anon_dict, anon_pseudo, anon_report).
 */
#ifndef ANON_DEID_H
#define ANON_DEID_H

#include <stddef.h>
#include <stdint.h>

#include "anon_dicom.h"
#include "anon_dict.h"
#include "anon_pseudo.h"
#include "anon_report.h"
#include "rf_buf.h"
#include "rf_err.h"

/* The options applied when a configuration gives none: Retain Longitudinal
 * Temporal Information with Modified Dates, Retain Patient Characteristics
 * and Clean Descriptors. */
#define ANON_DEID_DEFAULT_OPTIONS                                             \
	(ANON_OPT_RETAIN_MODIFIED_DATES | ANON_OPT_RETAIN_PATIENT_CHARS |     \
	 ANON_OPT_CLEAN_DESCRIPTORS)

/* Seeds kept per file; a file with more distinct names or identifiers is
 * quarantined (its text could not be scrubbed with all of them). */
#define ANON_DEID_MAX_NAMES 256
#define ANON_DEID_MAX_IDS 64

/* Longest text value the engine cleans (decoded to UTF-8); a longer value
 * that needs cleaning is removed instead. */
#define ANON_DEID_TEXT_MAX ((size_t)1 << 20)

/* One private attribute kept under Retain Safe Private: the element with
 * offset `elem` (the low byte of the element number) in the block reserved
 * by `creator` (compared exactly, trailing spaces ignored) in group `group`
 * (0: any odd group). */
struct anon_safe_private {
	const char *creator;
	uint16_t group;
	uint8_t elem;
};

/* A rectangle of every frame that holds burned-in text for one kind of
 * device: Modality (0008,0060) equal to `modality` (required), and, when
 * not NULL, Manufacturer (0008,0070) and ManufacturerModelName (0008,1090)
 * equal to `manufacturer` and `model` (ASCII case-insensitive, padding
 * ignored). Columns x..x+w-1, rows y..y+h-1, clipped to the image. */
struct anon_deid_mask {
	const char *modality;
	const char *manufacturer;
	const char *model;
	uint32_t x, y, w, h;
};

/* What the engine is asked to do. Plain data, borrowed by
 * anon_deid_apply(); may be shared by threads. */
struct anon_deid_config {
	unsigned options; /* enum anon_option bits; 0: the defaults */
	const struct anon_pseudo *pseudo; /* site keys (required) */
	const struct anon_safe_private *safe_private; /* Retain Safe Private */
	size_t n_safe_private;
	const struct anon_deid_mask *masks; /* burned-in text regions */
	size_t n_masks;
	const char *software; /* first value of (0012,0063); NULL: "radfed" */
};

enum anon_deid_outcome {
	ANON_DEID_WRITTEN = 0, /* de-identified: the caller may write it */
	ANON_DEID_QUARANTINED  /* left untouched: reason says why */
};

/* What was done to the elements, for the ingest record. */
enum anon_deid_count {
	ANON_DEID_REMOVED = 0,  /* X, and unlisted free text not cleaned */
	ANON_DEID_EMPTIED,      /* Z */
	ANON_DEID_DUMMY,        /* D */
	ANON_DEID_UID,          /* UID values replaced (U, and every UI) */
	ANON_DEID_ID,           /* PatientID, AccessionNumber... pseudonyms */
	ANON_DEID_DATE,         /* DA and DT values shifted */
	ANON_DEID_AGE,          /* AS values over 89 grouped */
	ANON_DEID_CLEANED,      /* text values scrubbed (C) */
	ANON_DEID_PRIVATE_KEPT, /* private attributes on the safe list */
	ANON_DEID_PRIVATE_REMOVED, /* other private attributes and creators */
	ANON_DEID_GROUP_REMOVED, /* whole overlay (60xx) and curve (50xx)
				  * groups */
	ANON_DEID_COUNT_
};

#define ANON_DEID_REASON_MAX 160

/* The result of one file. Initialise with anon_deid_result_init(), release
 * with anon_deid_result_release(). */
struct anon_deid_result {
	enum anon_deid_outcome outcome;
	char reason[ANON_DEID_REASON_MAX]; /* quarantine reason, else "" */
	char patient[ANON_ID_SIZE];   /* PatientID pseudonym ("" if none) */
	char accession[ANON_ID_SIZE]; /* AccessionNumber pseudonym or "" */
	int day_shift;     /* days added to every date (0: not shifted) */
	int dates_shifted; /* 1 under Retain ... Modified Dates */
	int masked;        /* 1 when burned-in text was masked */
	unsigned options;  /* the options applied */
	size_t count[ANON_DEID_COUNT_];
	/* Seeds of the report scrubber (owned, UTF-8, NUL-terminated,
	 * distinct): every PN value component group, every identifier. */
	char **names;
	size_t n_names;
	char **ids;
	size_t n_ids;
};

/* An empty result (outcome WRITTEN, no seeds). Never fails. */
void anon_deid_result_init(struct anon_deid_result *r);

/* Zeroizes and frees the seeds and resets r as anon_deid_result_init().
 * Accepts NULL. */
void anon_deid_result_release(struct anon_deid_result *r);

/*
 * De-identifies d in place under cfg, and fills r (which must have been
 * initialised; any previous content is released first).
 *
 * Returns RF_OK in two cases, told apart by r->outcome:
 *   ANON_DEID_WRITTEN      d is de-identified and may be written;
 *   ANON_DEID_QUARANTINED  d is exactly as it was (the decision is taken
 *                          before any change), r->reason says why; the
 *                          caller must not write it.
 * Errors: RF_EINVAL (no pseudonym keys, contradictory options such as both
 * Retain Full Dates and Retain Modified Dates, or an option bit this engine
 * does not know), RF_ENOMEM, RF_ECRYPTO. On error d may be partly
 * de-identified and must be discarded, never written; r must still be
 * released.
 *
 * Thread safety: d and r belong to the calling thread; cfg and its keys
 * are only read.
 */
enum rf_rc anon_deid_apply(const struct anon_deid_config *cfg,
			   struct anon_dicom *d, struct anon_deid_result *r,
			   struct rf_err *e) RF_WUR;

/*
 * Appends the de-identified form of the UTF-8 text[0..n) to out, using the
 * seeds and the day shift of r (for instance the study's report,
 * <AccessionNumber>.txt). The scrubber takes ANON_REPORT_MAX_NAMES names at
 * a time, so with more seeds the text goes through it again with the next
 * ones (dates are shifted in the first pass only). st (may be NULL)
 * receives the counts summed over the passes.
 *
 * Errors: as anon_report_scrub() (RF_ETOOBIG for out's cap, RF_ENOMEM,
 * RF_EINVAL); out is then back to its length before the call.
 * Thread-safe for distinct out buffers.
 */
enum rf_rc anon_deid_scrub_text(const struct anon_deid_result *r,
				const char *text, size_t n, struct rf_buf *out,
				struct anon_report_stats *st,
				struct rf_err *e) RF_WUR;

/* 1 when tag is on the safe list of free-text attributes that the table
 * does not list and that are kept as they are (anon_safelist.c and
 * docs/deidentification.md give the list and the reasons), else 0. Pure. */
int anon_deid_safe_text(uint32_t tag);

/* The action Table E.1-1 and the options give tag, after the precedence
 * rules and before combined codes are resolved (ANON_ACT_NONE when the
 * table does not list it). Pure; for tests and for `radfed anon --explain`.
 */
enum anon_action anon_deid_action(uint32_t tag, unsigned options);

/* A static lowercase name of a count ("removed", "uid", ...). */
const char *anon_deid_count_name(enum anon_deid_count c);

#endif
