/*
 * anon_batch.h - de-identifies many files into an output folder: the
 * engine behind `radfed anon` and the first step of `radfed site ingest`.
 *
 * Inputs are files and folders (walked recursively, in sorted order; links
 * to files are followed, links to folders are not). A file named
 * `<AccessionNumber>.txt` is a radiology report (UTF-8, the usual RIS
 * export); every other file is read as DICOM. DICOM files go first, on
 * `jobs` threads; then each report is scrubbed with the names, identifiers
 * and day shift of the study that carries its accession number.
 *
 * Outputs, below out_dir, carry pseudonyms only:
 *   <patient>/<study>/<sop-instance>.dcm    de-identified DICOM
 *   <patient>/<study>/<accession>.txt       de-identified report
 * where <patient> is the PatientID pseudonym, <study> the new Study
 * Instance UID, <sop-instance> the new SOP Instance UID and <accession> the
 * AccessionNumber pseudonym. The same input gives the same output path in
 * every run (re-running replaces files atomically: idempotent).
 *
 * One JSON line per input goes to the log: {"input": HMAC of the input
 * path (hex, keyed so that paths cannot be guessed back), "kind",
 * "outcome": written | quarantined | skipped | failed, "reason",
 * "output"}. No line carries identifying data: reasons name tags and
 * offsets, never values or paths.
 *   written      de-identified and written;
 *   quarantined  not safe to release as is (burned-in text, malformed
 *                DICOM, a report without its study...): nothing written;
 *   skipped      not an input radfed handles (not DICOM, not a report);
 *   failed       an error on radfed's side (cannot read or write).
 * A failing input never stops the run; originals are never modified.
 *
 * Must not use: anything but libc, POSIX threads and directory calls,
 * common/ and the other anonymizer/ modules.
 */
#ifndef ANON_BATCH_H
#define ANON_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "anon_deid.h"
#include "rf_err.h"

struct rf_progress;

#define ANON_BATCH_DEFAULT_MAX_FILE ((size_t)2 << 30) /* 2 GiB */
#define ANON_BATCH_REPORT_MAX       ((size_t)4 << 20) /* 4 MiB of text */
#define ANON_BATCH_MAX_JOBS         256

struct anon_batch_config {
	const struct anon_deid_config *deid; /* required */
	const char *out_dir;                 /* required, created if missing */
	unsigned jobs;                       /* threads; 0 means 1 */
	size_t max_file_size;         /* 0: ANON_BATCH_DEFAULT_MAX_FILE */
	uint8_t log_key[32];          /* HMAC key of the input-path hashes */
	FILE *log;                    /* JSON lines; NULL: no log */
	struct rf_progress *progress; /* counts inputs; may be NULL */
};

struct anon_batch_stats {
	size_t inputs;
	size_t written, quarantined, skipped, failed;
	size_t reports_written; /* of written */
	uint64_t bytes_in;      /* bytes of the inputs read */
};

/* Derives the log key (cfg->log_key) from the site secret: HKDF-SHA-256
 * with info "radfed log v1". RF_ECRYPTO on failure. */
enum rf_rc anon_batch_log_key(const uint8_t *secret, size_t len,
			      uint8_t key[32], struct rf_err *e) RF_WUR;

/* Collects the inputs (files and folders) into a sorted list of file
 * paths. *out is an rf_malloc'd array of rf_malloc'd strings, freed with
 * anon_batch_paths_free(). RF_EIO when an input cannot be read (names it). */
enum rf_rc anon_batch_collect(char *const *inputs, size_t n, char ***out,
			      size_t *n_out, struct rf_err *e) RF_WUR;
void anon_batch_paths_free(char **paths, size_t n);

/* De-identifies the files paths[0..n) (from anon_batch_collect) into
 * cfg->out_dir, writing one log line per input and filling st. Returns
 * RF_OK when every input was handled, whatever its outcome (st says which),
 * and every output is durable: each file is fsync'ed before its rename,
 * and each output folder (and the folders above it, up to out_dir) is
 * fsync'ed once, at the end of the run, rather than after every file. An
 * error (RF_EINVAL bad configuration, RF_EIO output folder or its final
 * sync, RF_ENOMEM) means the run could not go on or its outputs may not
 * survive a crash; the log may then already call some of them written.
 * Thread-safe with respect to other runs with distinct out_dir. */
enum rf_rc anon_batch_run(const struct anon_batch_config *cfg,
			  char *const *paths, size_t n,
			  struct anon_batch_stats *st, struct rf_err *e) RF_WUR;

/* ---- option names ---------------------------------------------------------
 * The options of Table E.1-1 as typed on the command line and in site.yaml:
 * retain-safe-private, retain-uids, retain-device-id, retain-institution-id,
 * retain-patient-characteristics, retain-full-dates, retain-modified-dates,
 * clean-descriptors, clean-structured-content, clean-graphics. */

/* The option bit (enum anon_option) named s, or 0 when s names none. */
unsigned anon_option_from_name(const char *s);

/* The name of one option bit, or NULL. */
const char *anon_option_name(unsigned bit);

/* The i-th option name (i = 0, 1, ...) and its bit, or NULL past the last:
 * for listing them in help and errors. bit may be NULL. */
const char *anon_option_at(size_t i, unsigned *bit);

#endif
